import { randomUUID } from 'node:crypto';
import type { Database, Queryable } from '../db/database.js';
import { isSerializationFailure } from '../errors/retry.js';
import { badRequest, FhirOutcomeError, toOutcomeError } from '../fhir/outcome.js';
import type { Bundle, BundleEntry, Resource } from '../fhir/types.js';
import { Repo, type ResourceValidator, type WriteResult } from './repo.js';
import { normalizeReference } from './search.js';

type Method = 'GET' | 'POST' | 'PUT';

interface Planned {
  index: number;
  method: Method;
  type: string;
  id?: string;
  query?: string;
  entry: BundleEntry;
}

function plan(entry: BundleEntry, index: number): Planned {
  const at = `Bundle.entry[${index}]`;
  const method = entry.request?.method?.toUpperCase();
  const url = entry.request?.url;
  if (!method || !url)
    throw badRequest('entry.request.method and entry.request.url are required', `${at}.request`);
  if (method !== 'GET' && method !== 'POST' && method !== 'PUT')
    throw badRequest(`method ${method} is not supported`, `${at}.request.method`);
  const m = /^\/?([A-Z][A-Za-z]+)(?:\/([^/?]+))?(?:\?(.*))?$/.exec(
    url.replace(/^https?:\/\/[^?]*?\/(?=[A-Z][A-Za-z]+(?:[/?]|$))/, ''),
  );
  if (!m) throw badRequest(`unsupported request url ${url}`, `${at}.request.url`);
  const [, type, id, query] = m as unknown as [string, string, string | undefined, string | undefined];
  if (method !== 'GET') {
    if (!entry.resource) throw badRequest('entry.resource is required', `${at}.resource`);
    if (entry.resource.resourceType !== type)
      throw badRequest(
        `resource type ${entry.resource.resourceType} does not match ${type}`,
        `${at}.resource`,
      );
  }
  if (method === 'PUT' && id && entry.resource?.id !== undefined && entry.resource.id !== id)
    throw badRequest(`resource id ${String(entry.resource.id)} does not match ${id}`, `${at}.resource.id`);
  if (method === 'POST' && (id || query))
    throw badRequest('POST url must be the resource type', `${at}.request.url`);
  if (method === 'PUT' && !id && !query)
    throw badRequest('PUT url needs an id or search criteria', `${at}.request.url`);
  return { index, method, type, entry, ...(id ? { id } : {}), ...(query !== undefined ? { query } : {}) };
}

/** Replaces every `reference` equal to a key of `map` (urn:uuid fullUrls) anywhere in value. */
function resolveReferences<T>(value: T, map: ReadonlyMap<string, string>): T {
  if (Array.isArray(value)) return value.map((v) => resolveReferences(v, map)) as T;
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] =
      k === 'reference' && typeof v === 'string' && map.has(v) ? map.get(v) : resolveReferences(v, map);
  }
  return out as T;
}

function responseEntry(w: WriteResult, baseUrl: string | undefined): BundleEntry {
  const r = w.resource;
  const v = r.meta?.versionId;
  return {
    ...(baseUrl ? { fullUrl: `${baseUrl}/${r.resourceType}/${r.id}` } : {}),
    response: {
      status: w.status === 201 ? '201 Created' : '200 OK',
      location: `${r.resourceType}/${r.id}/_history/${v}`,
      etag: `W/"${v}"`,
      ...(r.meta?.lastUpdated ? { lastModified: r.meta.lastUpdated } : {}),
    },
  };
}

async function runGet(repo: Repo, p: Planned, baseUrl?: string): Promise<BundleEntry> {
  if (p.id) return { resource: await repo.read(p.type, p.id), response: { status: '200 OK' } };
  const { total, resources } = await repo.search(p.type, p.query ?? '');
  return { resource: searchset(total, resources, baseUrl), response: { status: '200 OK' } };
}

export function searchset(total: number, resources: Resource[], baseUrl?: string): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total,
    entry: resources.map((resource) => ({
      ...(baseUrl ? { fullUrl: `${baseUrl}/${resource.resourceType}/${resource.id}` } : {}),
      resource,
      search: { mode: 'match' as const },
    })),
  };
}

/**
 * A transaction: all entries in one database transaction, all or nothing. Ids are decided first
 * (conditional creates and updates searched, new ids assigned), then every `urn:uuid:` fullUrl is
 * replaced by `Type/id` in the references of every entry, then the writes run and the reads last.
 */
async function transaction(db: Database, validate: ResourceValidator, bundle: Bundle, baseUrl?: string) {
  const entries = bundle.entry ?? [];
  const planned = entries.map(plan);
  // Locks are taken in one global order (criteria first, then rows by Type/id), whatever the order
  // of the entries: two transactions writing the same resources never wait on each other in a circle.
  const conditional = planned
    .filter((p) => p.method !== 'GET' && (p.method === 'POST' ? p.entry.request?.ifNoneExist : p.query))
    .sort((a, b) => lockKey(a).localeCompare(lockKey(b)));
  const rest = planned.filter((p) => !conditional.includes(p));
  return inTransactionRetried(db, async (tx) => {
    const repo = new Repo(tx, validate);
    const refs = new Map<string, string>();
    const matched = new Map<number, string>();
    for (const p of [...conditional, ...rest]) {
      if (p.method === 'GET') continue;
      let id = p.id;
      const criteria = p.method === 'POST' ? p.entry.request?.ifNoneExist : p.query;
      if (criteria) {
        const ids = await repo.matchIds(p.type, criteria);
        if (ids.length > 1)
          throw badRequest(
            `${p.type}?${criteria} matches more than one resource`,
            `Bundle.entry[${p.index}]`,
          );
        if (ids[0]) {
          id = ids[0];
          matched.set(p.index, id);
        }
      }
      id ??=
        (typeof p.entry.resource?.id === 'string' && p.method === 'PUT' ? p.entry.resource.id : undefined) ??
        randomUUID();
      p.id = id;
      const fullUrl = p.entry.fullUrl;
      if (fullUrl) refs.set(fullUrl, `${p.type}/${id}`);
      if (fullUrl && !fullUrl.startsWith('urn:')) {
        const norm = normalizeReference(fullUrl);
        if (norm) refs.set(norm, `${p.type}/${id}`);
      }
    }
    const results: BundleEntry[] = new Array(planned.length);
    const writes = planned
      .filter((p) => p.method !== 'GET')
      .sort((a, b) => `${a.type}/${a.id}`.localeCompare(`${b.type}/${b.id}`));
    for (const p of writes) {
      try {
        const resource = resolveReferences({ ...p.entry.resource!, id: p.id }, refs);
        if (p.method === 'POST' && matched.has(p.index)) {
          results[p.index] = responseEntry(
            { resource: await repo.read(p.type, p.id!), outcome: 'matched', status: 200 },
            baseUrl,
          );
          continue;
        }
        const w = await repo.update(p.type, p.id!, resource);
        results[p.index] = responseEntry(p.method === 'POST' ? { ...w, status: 201 } : w, baseUrl);
      } catch (err) {
        throw withEntry(err, p.index);
      }
    }
    for (const p of planned) {
      if (p.method !== 'GET') continue;
      try {
        results[p.index] = await runGet(repo, p, baseUrl);
      } catch (err) {
        throw withEntry(err, p.index);
      }
    }
    return { resourceType: 'Bundle', type: 'transaction-response', entry: results } satisfies Bundle;
  });
}

const lockKey = (p: { type: string; method: string; query?: string; entry: BundleEntry }) =>
  `${p.type}?${p.method === 'POST' ? p.entry.request?.ifNoneExist : p.query}`;

/**
 * Runs an all-or-nothing Bundle transaction, again (up to 3 times) when PostgreSQL aborted it for a
 * deadlock or a serialization failure: nothing outside the database has happened yet.
 */
async function inTransactionRetried<T>(db: Database, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(fn);
    } catch (err) {
      // PostgreSQL's deadlock and serialization failures: the whole transaction may simply run again.
      if (attempt >= 3 || !isSerializationFailure(err)) throw err;
    }
  }
}

/** Prefixes the expressions of an entry's issues with `Bundle.entry[i]`. */
function withEntry(err: unknown, index: number): FhirOutcomeError {
  const e = toOutcomeError(err);
  const issues = e.outcome.issue.map((i) => ({
    ...i,
    expression: (i.expression ?? ['']).map(
      (x) => `Bundle.entry[${index}].resource${x.replace(/^[A-Z][A-Za-z]+/, '').replace(/^(?=[a-z])/, '.')}`,
    ),
  }));
  return new FhirOutcomeError(e.status, issues);
}

/** A batch: every entry on its own; failures become entries with their OperationOutcome. */
async function batch(db: Database, validate: ResourceValidator, bundle: Bundle, baseUrl?: string) {
  const entry: BundleEntry[] = [];
  for (const [index, e] of (bundle.entry ?? []).entries()) {
    try {
      const p = plan(e, index);
      entry.push(
        await db.transaction(async (tx) => {
          const repo = new Repo(tx, validate);
          if (p.method === 'GET') return runGet(repo, p, baseUrl);
          const resource = e.resource!;
          if (p.method === 'POST')
            return responseEntry(await repo.create(resource, e.request?.ifNoneExist), baseUrl);
          if (p.id) return responseEntry(await repo.update(p.type, p.id, resource), baseUrl);
          return responseEntry(await repo.conditionalUpdate(p.type, p.query ?? '', resource), baseUrl);
        }),
      );
    } catch (err) {
      const o = toOutcomeError(err);
      entry.push({ response: { status: String(o.status), outcome: o.outcome } });
    }
  }
  return { resourceType: 'Bundle', type: 'batch-response', entry } satisfies Bundle;
}

export async function processBundle(
  db: Database,
  validate: ResourceValidator,
  bundle: Bundle,
  baseUrl?: string,
): Promise<Bundle> {
  if (bundle?.resourceType !== 'Bundle') throw badRequest('expected a Bundle', 'resourceType');
  if (bundle.entry !== undefined && !Array.isArray(bundle.entry))
    throw badRequest('entry must be an array', 'Bundle.entry');
  if (bundle.type === 'transaction') return transaction(db, validate, bundle, baseUrl);
  if (bundle.type === 'batch') return batch(db, validate, bundle, baseUrl);
  throw badRequest(`Bundle.type must be transaction or batch, not ${String(bundle.type)}`, 'Bundle.type');
}
