import { z } from 'zod';
import { parseGroupPath } from '../hl7/group-path.js';
import { fhirPathProblem } from './fhirpath.js';
import { conversionProblem, unitProblem } from './units.js';

/**
 * The schema of a mapping file (mappings/*.yaml), the informaticist's language for "which coded
 * observations, in which units, become which model input". Structure first (strict: unknown keys
 * are errors), then the clinical checks: UCUM units, convertible accepted units, durations,
 * ranges, duplicate names and codes. Every issue carries the path of the offending key.
 */

export const LOINC = 'http://loinc.org';
/** Result statuses used when a feature does not list its own: final, corrected, preliminary. */
export const DEFAULT_STATUSES = ['F', 'C', 'P'] as const;
/** Units patient.age can be expressed in (completed years, months, weeks or days). */
export const AGE_UNITS = ['a', 'mo', 'wk', 'd'] as const;

const FHIR_STATUS: Record<string, string> = {
  final: 'F',
  amended: 'C',
  corrected: 'C',
  preliminary: 'P',
  registered: 'I',
  cancelled: 'X',
  'entered-in-error': 'W',
  unknown: 'U',
};
const HL7_STATUSES = new Set(['C', 'D', 'F', 'I', 'N', 'O', 'P', 'R', 'S', 'U', 'W', 'X', 'A']);

/** OBX-11 letter for an HL7 result status or a FHIR Observation.status; undefined when unknown. */
export function resultStatus(status: string): string | undefined {
  const s = status.trim();
  const fhir = FHIR_STATUS[s.toLowerCase()];
  if (fhir) return fhir;
  return HL7_STATUSES.has(s.toUpperCase()) ? s.toUpperCase() : undefined;
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(min|s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** `24h` -> 86 400 000; undefined when not a duration (`<number><s|m|min|h|d|w>`). */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms > 0 ? ms : undefined;
}

const unitString = z.string({
  error: (iss) =>
    Array.isArray(iss.input)
      ? "a unit must be a string: quote units with brackets, e.g. '[degF]'"
      : 'a unit must be a string (UCUM code)',
});

const codeSchema = z.strictObject({
  system: z.string().min(1),
  code: z.union([z.string().min(1), z.number()]).transform(String),
});

const missingSchema = z.union([
  z.literal('required'),
  z.strictObject({ impute: z.number({ error: 'impute needs a number (in the target unit)' }) }),
]);

/** Why a group-aware HL7 path (`OBR[2]/OBX[1]-5`, `ZVS-3`) cannot be used, or undefined. */
export function hl7PathProblem(path: string): string | undefined {
  try {
    parseGroupPath(path);
    return undefined;
  } catch {
    return `'${path}' is not an HL7 path: SEG-field[.component[.subcomponent]], optionally under groups (e.g. OBR[2]/OBX[1]-5, ZVS-3)`;
  }
}

/** True when the path reaches OBX-5 itself (the typed value, with OBX-6 as its unit). */
export function endsAtObx5(path: string): boolean {
  const p = parseGroupPath(path);
  const last = p.steps[p.steps.length - 1]!;
  return last.segment === 'OBX' && p.field === 5 && p.component === 1 && p.subcomponent === 1;
}

const hl7PathSchema = z.strictObject({
  /** Where the value is: a group-aware path in the spirit of HAPI's Terser. */
  path: z.string().min(1),
  /** Where its unit is, when not in the OBX-6 of the OBX the path reaches. */
  unitPath: z.string().min(1).optional(),
  /** The unit the sender's interface specification gives the field, when the message carries none. */
  unit: unitString.optional(),
  /** Where its time is, when not OBX-14 (then OBR-7, MSH-7) of the OBX the path reaches. */
  timePath: z.string().min(1).optional(),
});

const featureSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'feature names are lower_snake_case'),
  description: z.string().optional(),
  source: z.enum(['observation', 'patient.age'], { error: "source is 'observation' or 'patient.age'" }),
  codes: z.array(codeSchema).min(1).optional(),
  /** FHIR inputs: a FHIRPath expression on each Observation selecting the Quantity (replaces codes for FHIR). */
  fhirpath: z.string().min(1).optional(),
  /** HL7 inputs: a value found by position (group-aware path) instead of by OBX-3 code. */
  hl7: hl7PathSchema.optional(),
  unit: unitString,
  acceptUnits: z.array(unitString).optional(),
  molecularWeight: z.number().positive().optional(),
  charge: z.number().int().positive().optional(),
  range: z.tuple([z.number(), z.number()], { error: 'range is [min, max] in the target unit' }),
  lookback: z.string().optional(),
  missing: missingSchema,
  statuses: z.array(z.string().min(1)).min(1).optional(),
});

const triggersSchema = z.strictObject({
  messageTypes: z.array(z.string().min(1)).min(1),
  onFeatures: z.union([z.literal('any'), z.array(z.string()).min(1)]).default('any'),
});

export const mappingFileSchema = z
  .strictObject({
    model: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'model names are lower-case, e.g. aki-risk'),
    description: z.string().optional(),
    triggers: triggersSchema,
    unitAliases: z.record(z.string(), unitString).optional(),
    features: z.array(featureSchema).min(1),
  })
  .superRefine((m, ctx) => {
    const issue = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: 'custom', path, message });
    for (const [alias, unit] of Object.entries(m.unitAliases ?? {})) {
      const p = unitProblem(unit);
      if (p) issue(['unitAliases', alias], p);
    }
    const names = new Map<string, number>();
    const codes = new Map<string, string>();
    m.features.forEach((f, i) => {
      const at = (...rest: (string | number)[]) => ['features', i, ...rest];
      const seen = names.get(f.name);
      if (seen !== undefined)
        issue(at('name'), `duplicate feature name '${f.name}' (also features[${seen}])`);
      else names.set(f.name, i);

      if (f.source === 'observation' && !f.codes && !f.fhirpath && !f.hl7)
        issue(at('codes'), 'an observation feature needs codes (or fhirpath, or hl7.path)');
      if (f.hl7 !== undefined) {
        if (f.source !== 'observation') issue(at('hl7'), 'hl7 is for observation features');
        for (const key of ['path', 'unitPath', 'timePath'] as const) {
          const value = f.hl7[key];
          const p = value === undefined ? undefined : hl7PathProblem(value);
          if (p) issue(at('hl7', key), p);
        }
        if (f.hl7.unit !== undefined) {
          const p = unitProblem(f.hl7.unit);
          if (p) issue(at('hl7', 'unit'), p);
        }
        if (f.hl7.unit !== undefined && f.hl7.unitPath !== undefined)
          issue(at('hl7', 'unit'), 'give unit or unitPath, not both');
        const onObx = hl7PathProblem(f.hl7.path) === undefined && endsAtObx5(f.hl7.path);
        if (!onObx && f.hl7.unit === undefined && f.hl7.unitPath === undefined)
          issue(
            at('hl7'),
            'a path that does not end at OBX-5 needs unit (as the interface specification gives it) or unitPath',
          );
      }
      if (f.fhirpath !== undefined) {
        if (f.source !== 'observation') issue(at('fhirpath'), 'fhirpath is for observation features');
        const p = fhirPathProblem(f.fhirpath);
        if (p) issue(at('fhirpath'), p);
      }
      if (f.source === 'patient.age') {
        if (f.codes) issue(at('codes'), 'patient.age takes no codes');
        if (!(AGE_UNITS as readonly string[]).includes(f.unit))
          issue(at('unit'), `patient.age is in one of ${AGE_UNITS.join(', ')}`);
      }
      f.codes?.forEach((c, j) => {
        const key = `${c.system}|${c.code}`;
        const owner = codes.get(key);
        if (owner !== undefined)
          issue(at('codes', j), `code ${c.system} ${c.code} is already used by ${owner}`);
        else codes.set(key, f.name);
      });

      const unitErr = unitProblem(f.unit);
      if (unitErr) issue(at('unit'), unitErr);
      for (const [j, u] of (f.acceptUnits ?? []).entries()) {
        const p = unitProblem(u);
        if (p) issue(at('acceptUnits', j), p);
        else if (!unitErr) {
          const conv = conversionProblem(u, f.unit, { molecularWeight: f.molecularWeight, charge: f.charge });
          if (conv) issue(at('acceptUnits', j), conv);
        }
      }

      f.statuses?.forEach((st, j) => {
        if (!resultStatus(st)) issue(at('statuses', j), `'${st}' is not an OBX-11 or FHIR result status`);
      });
      const [min, max] = f.range;
      if (min > max) issue(at('range'), `range min ${min} is greater than max ${max}`);
      if (f.lookback === undefined && f.source === 'observation')
        issue(at('lookback'), 'an observation feature needs a lookback, e.g. 24h');
      if (f.lookback !== undefined && parseDuration(f.lookback) === undefined)
        issue(at('lookback'), `'${f.lookback}' is not a duration (e.g. 30min, 24h, 7d, 2w)`);
      if (typeof f.missing === 'object' && (f.missing.impute < min || f.missing.impute > max))
        issue(at('missing', 'impute'), `impute value ${f.missing.impute} is outside range [${min}, ${max}]`);
    });
    if (Array.isArray(m.triggers.onFeatures)) {
      m.triggers.onFeatures.forEach((name, j) => {
        if (!names.has(name))
          issue(['triggers', 'onFeatures', j], `'${name}' is not a feature of this mapping`);
      });
    }
  });

export type MappingFile = z.infer<typeof mappingFileSchema>;
