import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/database.js';
import { sql } from '../db/sql.js';
import { badRequest, invalidResource, notFound, preconditionFailed } from '../fhir/outcome.js';
import type { OperationOutcomeIssue, Resource } from '../fhir/types.js';
import { compileSearch, extractTokens, parseQuery, type SearchParams } from './search.js';

/** Validates a resource; error-severity issues reject the write. */
export type ResourceValidator = (resource: Resource) => OperationOutcomeIssue[];

export type WriteOutcome = 'created' | 'updated' | 'unchanged' | 'matched';

export interface WriteResult {
  resource: Resource;
  outcome: WriteOutcome;
  /** 201 when created, else 200. */
  status: 200 | 201;
}

interface Row {
  resource_type: string;
  id: string;
  version_id: number;
  last_updated: Date | string;
  content: Resource | string;
}

const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const TYPE = /^[A-Z][A-Za-z]{1,63}$/;

export function checkType(type: string): void {
  if (!TYPE.test(type)) throw badRequest(`invalid resource type ${type}`);
}
export function checkId(id: string): void {
  if (!ID.test(id)) throw badRequest(`invalid id ${id}`, 'id');
}

/** The stored resource with meta.versionId / meta.lastUpdated merged back in. */
function fromRow(row: Row): Resource {
  const content = (typeof row.content === 'string' ? JSON.parse(row.content) : row.content) as Resource;
  const { resourceType: _t, id: _i, meta, ...rest } = content;
  return {
    resourceType: row.resource_type,
    id: row.id,
    meta: {
      ...meta,
      versionId: String(row.version_id),
      lastUpdated: new Date(row.last_updated).toISOString(),
    },
    ...rest,
  };
}

/** The resource as stored: no versionId/lastUpdated (kept in columns). */
function toContent(resource: Resource, id: string): Resource {
  const { meta, ...rest } = resource;
  const { versionId: _v, lastUpdated: _l, ...keep } = meta ?? {};
  return { ...rest, id, ...(Object.keys(keep).length ? { meta: keep } : {}) };
}

const COLUMNS = 'r.resource_type, r.id, r.version_id, r.last_updated, r.content';

const q = sql(import.meta.url, 'repo', [
  'read',
  'vread',
  'lock',
  'put',
  'history',
  'deleteTokens',
  'insertTokens',
] as const);

/**
 * FHIR storage operations over one Queryable (the pool, or one transaction). Every write keeps
 * the history row and the search index of the current version.
 */
export class Repo {
  constructor(
    private readonly q: Queryable,
    private readonly validate: ResourceValidator,
  ) {}

  async read(type: string, id: string): Promise<Resource> {
    checkType(type);
    checkId(id);
    const r = await this.q.query<Row>(q.read, [type, id]);
    if (!r.rows[0]) throw notFound(`${type}/${id} not found`);
    return fromRow(r.rows[0]);
  }

  async vread(type: string, id: string, version: string): Promise<Resource> {
    checkType(type);
    checkId(id);
    const r = await this.q.query<Row>(q.vread, [type, id, Number.parseInt(version, 10) || 0]);
    if (!r.rows[0]) throw notFound(`${type}/${id}/_history/${version} not found`);
    return fromRow(r.rows[0]);
  }

  async search(
    type: string,
    query: string | SearchParams,
  ): Promise<{ total: number; resources: Resource[]; count: number; offset: number }> {
    checkType(type);
    const c = compileSearch(type, parseQuery(query));
    const total = await this.q.query<{ n: string | number }>(
      `select count(*) as n from fhir_resource r where ${c.where}`,
      c.params,
    );
    const rows =
      c.count === 0
        ? []
        : (
            await this.q.query<Row>(
              `select ${COLUMNS} from fhir_resource r where ${c.where} order by r.last_updated ${c.sort}, r.seq ${c.sort} limit ${c.count} offset ${c.offset}`,
              c.params,
            )
          ).rows;
    return {
      total: Number(total.rows[0]?.n ?? 0),
      resources: rows.map(fromRow),
      count: c.count,
      offset: c.offset,
    };
  }

  /**
   * Serializes conditional operations on the same criteria across connections and processes
   * (until the enclosing transaction ends). Only meaningful inside a transaction.
   */
  async lock(key: string): Promise<void> {
    await this.q.query(q.lock, [key]);
  }

  /** The ids matching a conditional operation's criteria (refuses an empty criteria). */
  async matchIds(type: string, criteria: string): Promise<string[]> {
    const params = parseQuery(criteria);
    if (!Object.keys(params).some((k) => !k.startsWith('_') || k === '_id'))
      throw badRequest(`conditional criteria for ${type} has no search parameter`);
    await this.lock(`${type}?${criteria}`);
    const { resources } = await this.search(type, { ...params, _count: '2' });
    return resources.map((r) => r.id!);
  }

  async create(resource: Resource, ifNoneExist?: string): Promise<WriteResult> {
    const type = resource.resourceType;
    checkType(type);
    if (ifNoneExist) {
      const ids = await this.matchIds(type, ifNoneExist);
      if (ids.length > 1) throw preconditionFailed(`${type}?${ifNoneExist} matches more than one resource`);
      if (ids[0]) return { resource: await this.read(type, ids[0]), outcome: 'matched', status: 200 };
    }
    return this.put(type, randomUUID(), resource);
  }

  /** PUT by id: create-on-update; an identical resource is left at its version. */
  async update(type: string, id: string, resource: Resource): Promise<WriteResult> {
    checkType(type);
    checkId(id);
    if (resource.resourceType !== type)
      throw badRequest(`resource type ${resource.resourceType} does not match ${type}`);
    if (resource.id !== undefined && resource.id !== id)
      throw badRequest(`resource id ${String(resource.id)} does not match ${id}`, `${type}.id`);
    return this.put(type, id, resource);
  }

  /** PUT Type?criteria: update the one match, create when none, 412 when several. */
  async conditionalUpdate(type: string, criteria: string, resource: Resource): Promise<WriteResult> {
    checkType(type);
    const ids = await this.matchIds(type, criteria);
    if (ids.length > 1) throw preconditionFailed(`${type}?${criteria} matches more than one resource`);
    const id = ids[0] ?? (typeof resource.id === 'string' ? resource.id : randomUUID());
    return this.update(type, id, resource);
  }

  private async put(type: string, id: string, resource: Resource): Promise<WriteResult> {
    if (resource.resourceType !== type)
      throw badRequest(`resource type ${resource.resourceType} does not match ${type}`);
    const content = toContent(resource, id);
    const errors = this.validate(content).filter((i) => i.severity === 'error' || i.severity === 'fatal');
    if (errors.length) throw invalidResource(errors);
    const written = await this.q.query<Row>(q.put, [type, id, JSON.stringify(content)]);
    const row = written.rows[0];
    if (!row) return { resource: await this.read(type, id), outcome: 'unchanged', status: 200 };
    await this.q.query(q.history, [type, id, row.version_id, row.last_updated, JSON.stringify(content)]);
    await this.q.query(q.deleteTokens, [type, id]);
    const tokens = extractTokens(content);
    if (tokens.length) {
      await this.q.query(q.insertTokens, [
        type,
        id,
        tokens.map((t) => t.param),
        tokens.map((t) => t.system),
        tokens.map((t) => t.value),
      ]);
    }
    const created = row.version_id === 1;
    return { resource: fromRow(row), outcome: created ? 'created' : 'updated', status: created ? 201 : 200 };
  }
}
