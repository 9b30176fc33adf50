import { createHash } from 'node:crypto';
import type { OperationOutcomeIssue, Resource } from './types.js';
import { validateFhir } from './validate.js';

/**
 * FHIR input checks (pure): the body parses as JSON, is an R4 resource or a Bundle of an accepted
 * type, and every resource validates (@medplum/core plus the required code bindings it leaves
 * unchecked). Every issue names the element with `expression`, rooted at the body
 * (`Bundle.entry[2].resource.status`). Issue texts never quote a value of the input.
 */

export const BUNDLE_TYPES = ['batch', 'transaction', 'collection', 'searchset', 'history'] as const;

/** Required bindings checked here on input (the write path checks its own in validateFhir). */
const INPUT_CODES: Record<string, { path: string[]; codes: readonly string[] }> = {
  'Patient.gender': { path: ['gender'], codes: ['male', 'female', 'other', 'unknown'] },
  'Encounter.status': {
    path: ['status'],
    codes: [
      'planned',
      'arrived',
      'triaged',
      'in-progress',
      'onleave',
      'finished',
      'cancelled',
      'entered-in-error',
      'unknown',
    ],
  },
};

export interface InputEntry {
  index: number;
  fullUrl?: string;
  resource: Resource;
  /** Where the resource sits in the body: `Observation` or `Bundle.entry[3].resource`. */
  at: string;
  request?: { method?: string; url?: string };
  issues: OperationOutcomeIssue[];
}

export interface ParsedInput {
  /** The body itself (a resource or a Bundle); undefined when it is not a resource at all. */
  body?: Resource;
  bundleType?: string;
  entries: InputEntry[];
  /** Issues with the body as a whole (not JSON, no resourceType, a Bundle type not accepted). */
  issues: OperationOutcomeIssue[];
}

export const issue = (
  code: string,
  text: string,
  expression: string,
  severity: OperationOutcomeIssue['severity'] = 'error',
): OperationOutcomeIssue => ({ severity, code, details: { text }, expression: [expression] });

export const isError = (i: OperationOutcomeIssue) => i.severity === 'error' || i.severity === 'fatal';

/** Re-roots a validator expression (`Observation.code`) at the resource's place in the body. */
function reroot(i: OperationOutcomeIssue, type: string, at: string): OperationOutcomeIssue {
  if (at === type) return i;
  return {
    ...i,
    expression: (i.expression ?? [type]).map((e) =>
      e.startsWith(type) ? `${at}${e.slice(type.length)}` : `${at}.${e}`,
    ),
  };
}

export function validateResource(resource: Resource, at: string): OperationOutcomeIssue[] {
  const type = resource.resourceType;
  const issues = validateFhir(resource).map((i) => reroot(i, type, at));
  for (const [path, rule] of Object.entries(INPUT_CODES)) {
    if (!path.startsWith(`${type}.`)) continue;
    const v = resource[rule.path[0]!];
    if (v !== undefined && (typeof v !== 'string' || !rule.codes.includes(v)))
      issues.push(
        issue('code-invalid', `not one of ${rule.codes.join('|')}`, `${at}.${rule.path.join('.')}`),
      );
  }
  if (type === 'Observation' && resource.subject === undefined)
    issues.push(issue('required', 'an Observation needs a subject (the patient)', `${at}.subject`));
  return issues.filter((i) => i.severity !== 'information');
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseInput(bytes: Buffer): ParsedInput {
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8').replace(/^\uFEFF/, ''));
  } catch {
    return { entries: [], issues: [issue('structure', 'the body is not JSON', '$this', 'fatal')] };
  }
  if (!isObject(body) || typeof body.resourceType !== 'string')
    return {
      entries: [],
      issues: [
        issue(
          'structure',
          'the body must be a FHIR resource (JSON object with resourceType)',
          'resourceType',
          'fatal',
        ),
      ],
    };
  const resource = body as Resource;
  if (resource.resourceType !== 'Bundle') {
    return {
      body: resource,
      entries: [
        {
          index: 0,
          resource,
          at: resource.resourceType,
          issues: validateResource(resource, resource.resourceType),
        },
      ],
      issues: [],
    };
  }
  const type = typeof resource.type === 'string' ? resource.type : '';
  const issues: OperationOutcomeIssue[] = [];
  if (!(BUNDLE_TYPES as readonly string[]).includes(type))
    issues.push(
      issue('not-supported', `Bundle.type must be one of ${BUNDLE_TYPES.join(', ')}`, 'Bundle.type'),
    );
  const raw = resource.entry;
  if (raw !== undefined && !Array.isArray(raw))
    issues.push(issue('structure', 'Bundle.entry must be a list', 'Bundle.entry'));
  const list = Array.isArray(raw) ? raw : [];
  if (list.length === 0 && issues.length === 0)
    issues.push(issue('required', 'the Bundle has no entries', 'Bundle.entry'));
  const entries: InputEntry[] = [];
  list.forEach((e: unknown, index) => {
    const at = `Bundle.entry[${index}].resource`;
    if (!isObject(e) || !isObject(e.resource) || typeof e.resource.resourceType !== 'string') {
      // A DELETE in a transaction or history has no resource: nothing to ingest, nothing wrong.
      const method = isObject(e) && isObject(e.request) ? e.request.method : undefined;
      if (method === 'DELETE') return;
      issues.push(issue('required', 'an entry needs a resource', `Bundle.entry[${index}]`));
      return;
    }
    const r = e.resource as Resource;
    const entryIssues = validateResource(r, at);
    const request = isObject(e.request) ? (e.request as { method?: string; url?: string }) : undefined;
    if ((type === 'transaction' || type === 'batch') && (!request?.method || !request?.url))
      entryIssues.push(
        issue(
          'required',
          `a ${type} entry needs request.method and request.url`,
          `Bundle.entry[${index}].request`,
        ),
      );
    entries.push({
      index,
      ...(typeof e.fullUrl === 'string' ? { fullUrl: e.fullUrl } : {}),
      resource: r,
      at,
      ...(request ? { request } : {}),
      issues: entryIssues,
    });
  });
  return { body: resource, bundleType: type, entries, issues };
}

/** Canonical JSON (sorted keys), for content hashes that do not depend on key order or spacing. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isObject(v))
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

export const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

/**
 * Identity of one resource version: `Type/id` and `meta.versionId`, or a hash of its content
 * (without meta, which servers rewrite) when either is missing.
 */
export function resourceIdentity(r: Resource, fullUrl?: string): { resource: string; version: string } {
  const { meta, ...content } = r;
  const hash = `sha256:${sha256(canonicalJson(content)).slice(0, 32)}`;
  const id =
    typeof r.id === 'string' && r.id ? `${r.resourceType}/${r.id}` : (fullUrl ?? `${r.resourceType}/${hash}`);
  const v = typeof meta?.versionId === 'string' && meta.versionId ? `v:${meta.versionId}` : hash;
  return { resource: id, version: v };
}
