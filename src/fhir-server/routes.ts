import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorHandler } from '../errors/http.js';
import { badRequest, notFound, toOutcomeError } from '../fhir/outcome.js';
import type { Resource } from '../fhir/types.js';
import { isResourceType, resourceTypes } from '../fhir/validate.js';
import type { WriteResult } from './repo.js';
import type { FhirStore } from './store.js';

export interface FhirRoutesOptions {
  /** Mount point, e.g. '/fhir'. */
  prefix: string;
  /** Absolute base URL of the store; a function when the port is known only after listen. */
  baseUrl: string | (() => string);
}

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const SEARCH_PARAMS = [
  '_id',
  'identifier',
  'code',
  'subject',
  'patient',
  'device',
  'target',
  'encounter',
  'derived-from',
];

type TypeParams = { type: string };
type IdParams = { type: string; id: string };

function capabilityStatement(baseUrl: string) {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2024-01-01',
    kind: 'instance',
    software: { name: 'clinical-ml-gateway embedded FHIR store' },
    implementation: { description: 'Embedded FHIR R4 store of the clinical ML gateway', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
        resource: resourceTypes().map((type) => ({
          type,
          interaction: ['read', 'vread', 'update', 'create', 'search-type'].map((code) => ({ code })),
          versioning: 'versioned',
          updateCreate: true,
          conditionalCreate: true,
          conditionalUpdate: true,
          searchParam: SEARCH_PARAMS.map((name) => ({
            name,
            type: ['_id', 'identifier', 'code'].includes(name) ? 'token' : 'reference',
          })),
        })),
      },
    ],
  };
}

function checkType(type: string): void {
  if (!isResourceType(type)) throw notFound(`unknown resource type ${type}`);
}

function bodyResource(req: FastifyRequest, type?: string): Resource {
  const body = req.body as Resource | undefined;
  if (
    typeof body !== 'object' ||
    body === null ||
    Array.isArray(body) ||
    typeof body.resourceType !== 'string'
  )
    throw badRequest('the body must be a FHIR resource (JSON object with resourceType)');
  if (type && body.resourceType !== type)
    throw badRequest(`resource type ${body.resourceType} does not match ${type}`);
  return body;
}

const queryOf = (req: FastifyRequest) => {
  const i = req.url.indexOf('?');
  return i < 0 ? '' : req.url.slice(i + 1);
};

/**
 * Mounts the embedded FHIR R4 store as a fastify plugin under opts.prefix. Every error is an
 * OperationOutcome. Authentication is the caller's (global hook).
 */
export function registerFhirRoutes(app: FastifyInstance, store: FhirStore, opts: FhirRoutesOptions): void {
  const base = () => (typeof opts.baseUrl === 'function' ? opts.baseUrl() : opts.baseUrl).replace(/\/+$/, '');
  const sendWrite = (reply: FastifyReply, w: WriteResult) => {
    const r = w.resource;
    const v = r.meta?.versionId ?? '1';
    reply
      .status(w.status)
      .type(FHIR_JSON)
      .header('etag', `W/"${v}"`)
      .header('location', `${base()}/${r.resourceType}/${r.id}/_history/${v}`);
    if (r.meta?.lastUpdated) reply.header('last-modified', new Date(r.meta.lastUpdated).toUTCString());
    return reply.send(r);
  };
  const sendResource = (reply: FastifyReply, r: Resource) => {
    if (r.meta?.versionId) reply.header('etag', `W/"${r.meta.versionId}"`);
    return reply.type(FHIR_JSON).send(r);
  };

  app.register(
    async (f) => {
      f.addContentTypeParser('application/fhir+json', { parseAs: 'string' }, (_req, body, done) => {
        try {
          done(null, JSON.parse(body as string));
        } catch {
          done(badRequest('the body is not valid JSON'));
        }
      });

      // The one error handler (errors/http.ts), with the store's own OperationOutcome of any error.
      f.setErrorHandler(errorHandler({ isFhir: () => true, asFhir: toOutcomeError }));
      f.setNotFoundHandler((req, reply) => {
        const e = notFound(`no FHIR route for ${req.method} ${req.url.split('?')[0]}`);
        return reply.status(404).type(FHIR_JSON).send(e.outcome);
      });

      f.get('/metadata', async (_req, reply) => reply.type(FHIR_JSON).send(capabilityStatement(base())));

      f.post('/', async (req, reply) => {
        const bundle = bodyResource(req, 'Bundle');
        return reply.type(FHIR_JSON).send(await store.processBundle(bundle as never, { baseUrl: base() }));
      });

      f.post<{ Params: TypeParams }>('/:type', async (req, reply) => {
        checkType(req.params.type);
        const ifNoneExist = req.headers['if-none-exist'];
        const w = await store.create(bodyResource(req, req.params.type), {
          ...(typeof ifNoneExist === 'string' && ifNoneExist ? { ifNoneExist } : {}),
        });
        return sendWrite(reply, w);
      });

      f.get<{ Params: TypeParams }>('/:type', async (req, reply) => {
        checkType(req.params.type);
        const bundle = await store.search(req.params.type, queryOf(req), { baseUrl: base() });
        const q = queryOf(req);
        bundle.link = [
          { relation: 'self', url: `${base()}/${req.params.type}${q ? `?${q}` : ''}` },
          ...(bundle.link ?? []),
        ];
        return reply.type(FHIR_JSON).send(bundle);
      });

      f.put<{ Params: TypeParams }>('/:type', async (req, reply) => {
        checkType(req.params.type);
        const q = queryOf(req);
        if (!q) throw badRequest('PUT needs an id or search criteria');
        return sendWrite(
          reply,
          await store.conditionalUpdate(req.params.type, q, bodyResource(req, req.params.type)),
        );
      });

      f.get<{ Params: IdParams }>('/:type/:id', async (req, reply) => {
        checkType(req.params.type);
        return sendResource(reply, await store.read(req.params.type, req.params.id));
      });

      f.get<{ Params: IdParams & { vid: string } }>('/:type/:id/_history/:vid', async (req, reply) => {
        checkType(req.params.type);
        return sendResource(reply, await store.vread(req.params.type, req.params.id, req.params.vid));
      });

      f.put<{ Params: IdParams }>('/:type/:id', async (req, reply) => {
        checkType(req.params.type);
        return sendWrite(
          reply,
          await store.update(req.params.type, req.params.id, bodyResource(req, req.params.type)),
        );
      });
    },
    { prefix: opts.prefix },
  );
}
