import type { Database } from '../db/database.js';
import type { Bundle, Resource } from '../fhir/types.js';
import { validateFhir } from '../fhir/validate.js';
import { inSpanSync } from '../observability/tracing.js';
import { processBundle, searchset } from './bundle.js';
import { Repo, type ResourceValidator, type WriteResult } from './repo.js';
import type { SearchParams } from './search.js';

export type { WriteOutcome, WriteResult } from './repo.js';
export type { SearchParams } from './search.js';

export interface FhirStoreOptions {
  /** Defaults to validateFhir (R4 + project profiles). */
  validate?: ResourceValidator;
}

/** The embedded FHIR R4 store. Errors are FhirOutcomeError (status + OperationOutcome). */
export interface FhirStore {
  /** POST; with ifNoneExist, returns the one existing match instead (outcome 'matched'). */
  create(resource: Resource, opts?: { ifNoneExist?: string }): Promise<WriteResult>;
  read(type: string, id: string): Promise<Resource>;
  vread(type: string, id: string, versionId: string): Promise<Resource>;
  /** PUT Type/id, creating when absent; an identical resource keeps its version ('unchanged'). */
  update(type: string, id: string, resource: Resource): Promise<WriteResult>;
  /** PUT Type?criteria: one match updated, none created, several 412. */
  conditionalUpdate(type: string, criteria: string | SearchParams, resource: Resource): Promise<WriteResult>;
  /** A searchset Bundle with `total`; fullUrls absolute when baseUrl is given. */
  search(type: string, params: string | SearchParams, opts?: { baseUrl?: string }): Promise<Bundle>;
  /** A transaction (all or nothing) or batch Bundle; answers the -response Bundle. */
  processBundle(bundle: Bundle, opts?: { baseUrl?: string }): Promise<Bundle>;
}

const criteriaString = (c: string | SearchParams) =>
  typeof c === 'string'
    ? c.replace(/^[^?]*\?/, '')
    : new URLSearchParams(
        Object.entries(c).flatMap(([k, v]) =>
          (Array.isArray(v) ? v : [v]).map((x) => [k, x] as [string, string]),
        ),
      ).toString();

export function createFhirStore(db: Database, opts: FhirStoreOptions = {}): FhirStore {
  const check = opts.validate ?? validateFhir;
  // A span per resource validated (tracing on): the embedded store is where results are validated.
  const validate: ResourceValidator = (resource) =>
    inSpanSync('validate', { 'fhir.resource_type': resource.resourceType }, () => check(resource));
  const inTx = <T>(fn: (repo: Repo) => Promise<T>) => db.transaction((tx) => fn(new Repo(tx, validate)));
  const direct = new Repo(db, validate);
  return {
    create: (resource, o) => inTx((r) => r.create(resource, o?.ifNoneExist)),
    read: (type, id) => direct.read(type, id),
    vread: (type, id, v) => direct.vread(type, id, v),
    update: (type, id, resource) => inTx((r) => r.update(type, id, resource)),
    conditionalUpdate: (type, criteria, resource) =>
      inTx((r) => r.conditionalUpdate(type, criteriaString(criteria), resource)),
    async search(type, params, o) {
      const { total, resources, count, offset } = await direct.search(type, params);
      const bundle = searchset(total, resources, o?.baseUrl);
      // More matches than this page: a `next` link with the same criteria, offset past this page.
      if (o?.baseUrl && count > 0 && offset + resources.length < total) {
        const q = new URLSearchParams(criteriaString(params));
        q.set('_offset', String(offset + resources.length));
        q.set('_count', String(count));
        bundle.link = [{ relation: 'next', url: `${o.baseUrl}/${type}?${q}` }];
      }
      return bundle;
    },
    processBundle: (bundle, o) => processBundle(db, validate, bundle, o?.baseUrl),
  };
}
