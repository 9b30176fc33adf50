import { createHash } from 'node:crypto';
import { badRequest } from '../fhir/outcome.js';
import type { Resource } from '../fhir/types.js';

/** Search parameters as parsed from a query string: each name with its repeated values. */
export type SearchParams = Record<string, string | string[]>;

export interface SearchToken {
  param: string;
  system: string | null;
  value: string;
}

/** Resource fields indexed as reference search parameters, by search parameter name. */
const REFERENCE_FIELDS: Record<string, string> = {
  subject: 'subject',
  patient: 'patient',
  device: 'device',
  target: 'target',
  encounter: 'encounter',
  derivedFrom: 'derived-from',
};
const REFERENCE_PARAMS = new Set(Object.values(REFERENCE_FIELDS));
const TOKEN_PARAMS = new Set(['identifier', 'code']);
const RESULT_PARAMS = new Set(['_count', '_offset', '_sort', '_total', '_format', '_summary', '_elements']);
export const MAX_COUNT = 1000;
const DEFAULT_COUNT = 100;

const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** `Type/id` of a relative or absolute literal reference, or undefined when it is not one. */
export function normalizeReference(ref: string): string | undefined {
  const m = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref);
  return m ? `${m[1]}/${m[2]}` : undefined;
}

function refIsPatient(r: Record<string, unknown>): boolean {
  if (typeof r.reference === 'string')
    return r.reference.startsWith('Patient/') || r.reference.includes('/Patient/');
  return r.type === undefined || r.type === 'Patient';
}

/** The search index rows of a resource (its current version). */
/** Longest token value indexed as it is (UTF-8 bytes; the B-tree row limit is about 2,700). */
const MAX_TOKEN_BYTES = 1000;

/**
 * A token value as the index holds it: longer values are kept as a prefix and the SHA-256 of the
 * whole, on write and on search alike, so a 5,000-character identifier is stored and found.
 */
export function indexedValue(value: string): string {
  if (Buffer.byteLength(value, 'utf8') <= MAX_TOKEN_BYTES) return value;
  return `${value.slice(0, 200)}#sha256:${createHash('sha256').update(value).digest('hex')}`;
}

export function extractTokens(resource: Resource): SearchToken[] {
  const out: SearchToken[] = [];
  const push = (param: string, system: unknown, value: unknown) => {
    if (typeof value === 'string' && value !== '')
      out.push({
        param,
        system: typeof system === 'string' ? indexedValue(system) : null,
        value: indexedValue(value),
      });
  };
  for (const id of asArray(resource.identifier)) if (isObject(id)) push('identifier', id.system, id.value);
  const code = resource.code;
  if (isObject(code)) for (const c of asArray(code.coding)) if (isObject(c)) push('code', c.system, c.code);
  const addRef = (param: string, r: Record<string, unknown>) => {
    if (typeof r.reference === 'string') push(param, null, normalizeReference(r.reference) ?? r.reference);
    if (isObject(r.identifier)) push(`${param}:identifier`, r.identifier.system, r.identifier.value);
  };
  for (const [field, param] of Object.entries(REFERENCE_FIELDS)) {
    for (const r of asArray(resource[field])) {
      if (!isObject(r)) continue;
      addRef(param, r);
      if (field === 'subject' && resource.patient === undefined && refIsPatient(r)) addRef('patient', r);
    }
  }
  return out;
}

/** Splits on a separator not escaped with a backslash (FHIR search escaping). */
function splitUnescaped(value: string, sep: ',' | '|'): string[] {
  return value.split(sep === ',' ? /(?<!\\),/ : /(?<!\\)\|/);
}
const unescapeValue = (v: string) => v.replace(/\\([,|$\\])/g, '$1');

/** Parses `a=1&b=2` (or a params object) into SearchParams. */
export function parseQuery(query: string | SearchParams): SearchParams {
  if (typeof query !== 'string') return query;
  const out: Record<string, string[]> = {};
  for (const [k, v] of new URLSearchParams(query.replace(/^.*\?/, ''))) {
    out[k] ??= [];
    out[k].push(v);
  }
  return out;
}

export interface CompiledSearch {
  where: string;
  params: unknown[];
  count: number;
  /** Matches skipped before this page (`_offset`, what the `next` link carries). */
  offset: number;
  sort: 'asc' | 'desc';
}

/**
 * Turns search parameters into a WHERE clause over `fhir_resource r` ($1 is the resource type).
 * Repeated parameters are ANDed, comma-separated values ORed. Unknown parameters are refused
 * (a silently ignored parameter would make a conditional create match the wrong resource).
 */
export function compileSearch(type: string, raw: SearchParams): CompiledSearch {
  const params: unknown[] = [type];
  const clauses: string[] = ['r.resource_type = $1'];
  let count = DEFAULT_COUNT;
  let offset = 0;
  let sort: 'asc' | 'desc' = 'asc';
  const bind = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  for (const [name, values] of Object.entries(raw)) {
    for (const value of asArray(values).map(String)) {
      if (name === '_count') {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0)
          throw badRequest(`_count must be a non-negative integer`, '_count');
        count = Math.min(n, MAX_COUNT);
        continue;
      }
      if (name === '_offset') {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0)
          throw badRequest(`_offset must be a non-negative integer`, '_offset');
        offset = n;
        continue;
      }
      if (name === '_sort') {
        if (value === '_lastUpdated') sort = 'asc';
        else if (value === '-_lastUpdated') sort = 'desc';
        else throw badRequest(`unsupported _sort ${value}`, '_sort');
        continue;
      }
      if (RESULT_PARAMS.has(name)) continue;
      const alternatives = splitUnescaped(value, ',').map((v) => tokenClause(name, v, bind));
      clauses.push(`(${alternatives.join(' or ')})`);
    }
  }
  return { where: clauses.join(' and '), params, count, offset, sort };
}

function tokenClause(name: string, value: string, bind: (v: unknown) => string): string {
  if (name === '_id') return `r.id = ${bind(value)}`;
  const [base, modifier] = name.split(':', 2) as [string, string | undefined];
  const exists = (param: string, cond: string) =>
    `exists (select 1 from fhir_search_token t where t.resource_type = r.resource_type and t.id = r.id and t.param = ${bind(param)} and ${cond})`;
  const token = (param: string) => {
    const [first, ...rest] = splitUnescaped(value, '|');
    if (!rest.length) return exists(param, `t.value = ${bind(indexedValue(unescapeValue(first!)))}`);
    const system = indexedValue(unescapeValue(first!));
    const code = indexedValue(unescapeValue(rest.join('|')));
    if (!code) return exists(param, `t.system = ${bind(system)}`);
    if (!system) return exists(param, `t.system is null and t.value = ${bind(code)}`);
    return exists(param, `t.system = ${bind(system)} and t.value = ${bind(code)}`);
  };
  if (TOKEN_PARAMS.has(base) && modifier === undefined) return token(base);
  if (REFERENCE_PARAMS.has(base)) {
    if (modifier === 'identifier') return token(`${base}:identifier`);
    if (modifier !== undefined && !/^[A-Z][A-Za-z]+$/.test(modifier))
      throw badRequest(`unsupported modifier :${modifier}`, name);
    const ref = normalizeReference(value);
    if (ref) return exists(base, `t.value = ${bind(ref)}`);
    if (!/^[A-Za-z0-9\-.]{1,64}$/.test(value)) throw badRequest(`invalid reference ${value}`, name);
    const typed = modifier ? `${modifier}/${value}` : undefined;
    return typed
      ? exists(base, `t.value = ${bind(typed)}`)
      : exists(base, `t.value like ${bind(`%/${value}`)}`);
  }
  throw badRequest(`unsupported search parameter ${name}`, name);
}
