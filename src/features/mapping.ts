import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import {
  DEFAULT_STATUSES,
  type MappingFile,
  mappingFileSchema,
  parseDuration,
  resultStatus,
} from './mapping-schema.js';

/**
 * Mapping files: loading, validating and reporting errors by file, line and key path.
 * `parseMapping` is the pure core (text in, Mapping or errors out); `loadMappings` reads a folder.
 */

export interface MappingError {
  file: string;
  line?: number;
  /** Key path in the file, e.g. `features[2].unit`; empty for the whole file. */
  path: string;
  message: string;
}

export interface CodeRef {
  readonly system: string;
  readonly code: string;
}

export type MissingPolicy =
  | { readonly policy: 'required' }
  | { readonly policy: 'impute'; readonly value: number };

export interface FeatureSpec {
  readonly name: string;
  readonly description?: string;
  readonly source: 'observation' | 'patient.age';
  /** Codes that feed this feature (empty for patient.age). */
  readonly codes: readonly CodeRef[];
  /** FHIR inputs: FHIRPath on each Observation; when set it replaces code matching for FHIR. */
  readonly fhirpath?: string;
  /** HL7 inputs: a value found by group-aware path; when set it replaces code matching for HL7. */
  readonly hl7?: Hl7Locator;
  /** Target UCUM unit: the unit the model expects. */
  readonly unit: string;
  /** Other UCUM units accepted and converted to `unit` (the target unit is always accepted). */
  readonly acceptUnits: readonly string[];
  readonly molecularWeight?: number;
  readonly charge?: number;
  /** Valid range in the target unit, inclusive. */
  readonly range: readonly [number, number];
  readonly lookback?: string;
  /** Lookback in milliseconds; undefined means no limit (patient.age). */
  readonly lookbackMs?: number;
  readonly missing: MissingPolicy;
  /** Accepted result statuses as OBX-11 letters (FHIR statuses are mapped to them). */
  readonly statuses: readonly string[];
}

export interface Hl7Locator {
  /** Group-aware path to the value, e.g. `OBR[2]/OBX[1]-5` or `ZVS-3`. */
  readonly path: string;
  readonly unitPath?: string;
  /** Unit of the value when the message carries none. */
  readonly unit?: string;
  readonly timePath?: string;
}

export interface Triggers {
  /** MSH-9 `TYPE^TRIGGER` (e.g. ORU^R01) or FHIR resource types (e.g. Observation, Bundle). */
  readonly messageTypes: readonly string[];
  /** 'any': any observation feature update triggers; else only updates of these features. */
  readonly onFeatures: 'any' | readonly string[];
}

export interface Mapping {
  readonly file: string;
  readonly model: string;
  readonly description?: string;
  /** Content hash of the file bytes: `sha256:<first 16 hex>`. */
  readonly version: string;
  readonly triggers: Triggers;
  /** Sender unit strings that are not UCUM, mapped to UCUM (e.g. `mEq/L: meq/L`). */
  readonly unitAliases: Readonly<Record<string, string>>;
  /** In model input order. */
  readonly features: readonly FeatureSpec[];
}

export function formatMappingError(e: MappingError): string {
  const where = e.line === undefined ? e.file : `${e.file}:${e.line}`;
  return e.path ? `${where} ${e.path}: ${e.message}` : `${where}: ${e.message}`;
}

export function mappingVersion(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`;
}

/** `['features', 2, 'unit']` -> `features[2].unit`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

/** Parses and validates one mapping file's text. Pure: `file` is only used in the result and errors. */
export function parseMapping(
  text: string | Uint8Array,
  file: string,
): { mapping?: Mapping; errors: MappingError[] } {
  const source = typeof text === 'string' ? text : new TextDecoder().decode(text);
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    // Only the first syntax error: the ones after it are usually its echoes.
    const more = doc.errors.length > 1 ? ` (and ${doc.errors.length - 1} more after it)` : '';
    const message = `YAML: ${first.message.split('\n')[0]}${more}`;
    return { errors: [{ file, line: lineCounter.linePos(first.pos[0]).line, path: '', message }] };
  }
  const result = mappingFileSchema.safeParse(doc.toJS());
  if (!result.success) {
    const errors = result.error.issues.flatMap((issue) => {
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
      return keys.map((key) => {
        const path = key === undefined ? issue.path : [...issue.path, key];
        const line = lineOf(doc.contents, path, lineCounter);
        const message = key === undefined ? issue.message : `unknown key '${key}'`;
        return { file, ...(line ? { line } : {}), path: formatPath(path), message };
      });
    });
    return { errors };
  }
  return { mapping: build(result.data, file, mappingVersion(text)), errors: [] };
}

/** Loads every `*.yaml` / `*.yml` in `dir` (name order); a file with errors yields no mapping. */
export function loadMappings(dir: string): { mappings: Mapping[]; errors: MappingError[] } {
  if (!existsSync(dir))
    return { mappings: [], errors: [{ file: dir, path: '', message: 'directory not found' }] };
  const files = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  const mappings: Mapping[] = [];
  const errors: MappingError[] = [];
  const models = new Map<string, string>();
  for (const name of files) {
    const file = join(dir, name);
    const r = parseMapping(readFileSync(file), file);
    errors.push(...r.errors);
    if (!r.mapping) continue;
    const other = models.get(r.mapping.model);
    if (other) {
      errors.push({
        file,
        path: 'model',
        message: `model '${r.mapping.model}' is already mapped in ${other}`,
      });
      continue;
    }
    models.set(r.mapping.model, file);
    mappings.push(r.mapping);
  }
  return { mappings, errors };
}

function build(m: MappingFile, file: string, version: string): Mapping {
  const features: FeatureSpec[] = m.features.map((f) => {
    const lookbackMs = f.lookback === undefined ? undefined : parseDuration(f.lookback);
    return {
      name: f.name,
      ...(f.description !== undefined ? { description: f.description } : {}),
      source: f.source,
      codes: (f.codes ?? []).map((c) => ({ system: c.system, code: c.code })),
      ...(f.fhirpath !== undefined ? { fhirpath: f.fhirpath } : {}),
      ...(f.hl7 !== undefined ? { hl7: { ...f.hl7 } } : {}),
      unit: f.unit,
      acceptUnits: f.acceptUnits ?? [],
      ...(f.molecularWeight !== undefined ? { molecularWeight: f.molecularWeight } : {}),
      ...(f.charge !== undefined ? { charge: f.charge } : {}),
      range: [f.range[0], f.range[1]] as const,
      ...(f.lookback !== undefined ? { lookback: f.lookback } : {}),
      ...(lookbackMs !== undefined ? { lookbackMs } : {}),
      missing:
        f.missing === 'required' ? { policy: 'required' } : { policy: 'impute', value: f.missing.impute },
      statuses: (f.statuses ?? DEFAULT_STATUSES).map((s) => resultStatus(s)!),
    };
  });
  return deepFreeze({
    file,
    model: m.model,
    ...(m.description !== undefined ? { description: m.description } : {}),
    version,
    triggers: { messageTypes: m.triggers.messageTypes, onFeatures: m.triggers.onFeatures },
    unitAliases: { ...(m.unitAliases ?? {}) },
    features,
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** 1-based line of the deepest node that exists along `path` (a missing key points at its parent). */
function lineOf(root: unknown, path: readonly PropertyKey[], lc: LineCounter): number | undefined {
  let node = root as Node | null | undefined;
  let offset = node?.range?.[0];
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      const keyNode = pair.key as Node;
      offset = keyNode.range?.[0] ?? offset;
      node = pair.value as Node | null;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : lc.linePos(offset).line;
}
