/**
 * A small, strict Kustomize renderer for this repository's manifests (no kustomize binary and no
 * network in CI): `resources` (files and directories), `components`, `namespace`, `labels`
 * (metadata only), `images` and `patches` (strategic merge by kind and name: maps merged, lists
 * of named objects merged by name, other lists replaced, as Kubernetes does for the fields used
 * here). Any other kustomization field is refused rather than ignored, so the test never passes
 * on something it did not render.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
};

const KNOWN = new Set([
  'apiVersion',
  'kind',
  'resources',
  'components',
  'namespace',
  'labels',
  'images',
  'patches',
]);
/** Kinds that live outside namespaces (none are used here; listed so `namespace` skips them). */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
]);

interface Kustomization {
  kind?: string;
  resources?: string[];
  components?: string[];
  namespace?: string;
  labels?: Array<{ pairs: Record<string, string>; includeSelectors?: boolean }>;
  images?: Array<{ name: string; newName?: string; newTag?: string }>;
  patches?: Array<{ path: string }>;
}

export function readYamlDocs(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  for (const d of docs) if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`);
  return docs.map((d) => d.toJS()).filter((d) => d != null);
}

function readKustomization(dir: string): Kustomization {
  const file = join(dir, 'kustomization.yaml');
  if (!existsSync(file)) throw new Error(`${dir}: no kustomization.yaml`);
  const k = readYamlDocs(file)[0] as Record<string, unknown>;
  for (const key of Object.keys(k))
    if (!KNOWN.has(key)) throw new Error(`${file}: field '${key}' is not supported by the test renderer`);
  for (const l of (k.labels ?? []) as Array<{ includeSelectors?: boolean }>)
    if (l.includeSelectors) throw new Error(`${file}: labels.includeSelectors is not supported`);
  return k as Kustomization;
}

const isMap = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** Strategic merge of `patch` into `base` (returns a new value). */
export function strategicMerge(base: unknown, patch: unknown): unknown {
  if (isMap(base) && isMap(patch)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(patch)) out[k] = k in base ? strategicMerge(base[k], v) : v;
    return out;
  }
  if (
    Array.isArray(base) &&
    Array.isArray(patch) &&
    patch.every((p) => isMap(p) && typeof p.name === 'string')
  ) {
    const out = base.map((b) => {
      const p = patch.find((x) => isMap(b) && (x as { name: string }).name === b.name);
      return p ? strategicMerge(b, p) : b;
    });
    for (const p of patch)
      if (!base.some((b) => isMap(b) && b.name === (p as { name: string }).name)) out.push(p);
    return out;
  }
  return patch;
}

function setImages(o: unknown, images: NonNullable<Kustomization['images']>): void {
  if (Array.isArray(o)) for (const x of o) setImages(x, images);
  else if (isMap(o)) {
    for (const [k, v] of Object.entries(o)) {
      if ((k === 'containers' || k === 'initContainers') && Array.isArray(v)) {
        for (const c of v as Array<{ image?: string }>) {
          const img = images.find((i) => c.image === i.name || c.image?.startsWith(`${i.name}:`));
          if (img) c.image = `${img.newName ?? img.name}:${img.newTag ?? c.image!.split(':')[1] ?? 'latest'}`;
        }
      } else setImages(v, images);
    }
  }
}

/** Renders the kustomization in `dir` to its list of objects. */
export function render(dir: string): K8sObject[] {
  const k = readKustomization(dir);
  let objects: K8sObject[] = [];
  for (const r of k.resources ?? []) {
    const path = resolve(dir, r);
    if (statSync(path).isDirectory()) objects.push(...render(path));
    else objects.push(...(readYamlDocs(path) as K8sObject[]));
  }
  for (const c of k.components ?? []) {
    const path = resolve(dir, c);
    if (readKustomization(path).kind !== 'Component') throw new Error(`${path}: not a Component`);
    objects.push(...render(path));
  }
  for (const p of k.patches ?? []) {
    for (const patch of readYamlDocs(resolve(dir, p.path)) as K8sObject[]) {
      const i = objects.findIndex((o) => o.kind === patch.kind && o.metadata.name === patch.metadata.name);
      if (i < 0) throw new Error(`${join(dir, p.path)}: no ${patch.kind}/${patch.metadata.name} to patch`);
      objects[i] = strategicMerge(objects[i], patch) as K8sObject;
    }
  }
  objects = structuredClone(objects);
  for (const o of objects) {
    if (k.namespace && !CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
    for (const l of k.labels ?? []) o.metadata.labels = { ...o.metadata.labels, ...l.pairs };
  }
  if (k.images) setImages(objects, k.images);
  return objects;
}

export const kustomizeRoot = (...parts: string[]) =>
  join(dirname(dirname(import.meta.dirname)), 'deploy', 'kubernetes', ...parts);
