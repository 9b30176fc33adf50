import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { GatewayError } from '../../errors/codes.js';
import { jwks } from '../../sources/keys.js';
import { outcome } from '../fhir/intake.js';
import type { FhirIngest } from '../fhir/service.js';
import { buildSubscription } from '../fhir/subscription-resource.js';

const FHIR_TYPES = ['application/fhir+json', 'application/json', 'application/json+fhir'];
const FHIR_JSON = 'application/fhir+json; charset=utf-8';

const createSchema = z
  .object({
    source: z.string().min(1),
    topic: z.string().url(),
    filter: z
      .string()
      .regex(/^[A-Z][A-Za-z]+(\?.*)?$/, 'a search, e.g. Observation?patient=Patient/1')
      .optional(),
    endpoint: z.string().url(),
    payload: z.enum(['empty', 'id-only', 'full-resource']).default('id-only'),
    heartbeatSeconds: z.number().int().min(1).optional(),
    header: z.string().min(1).optional(),
    reason: z.string().min(1).optional(),
    end: z.string().datetime({ offset: true }).optional(),
  })
  .strict();

/**
 * FHIR in over HTTP: `POST /ingest/fhir`, `POST /ingest/fhir/subscription`, the subscriptions API
 * (`GET /subscriptions`, `POST /subscriptions`) and `GET /.well-known/jwks.json` (public).
 */
export function registerFhirIngestRoutes(app: FastifyInstance, fhir: FhirIngest): void {
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(FHIR_TYPES, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    scope.post('/ingest/fhir', async (req, reply) => {
      const r = await fhir.intake.receive(req.body as Buffer, {
        channel: 'fhir',
        sender: `fhir:${req.principal?.name ?? 'anonymous'}`,
      });
      return reply.status(r.status).type(FHIR_JSON).send(r.body);
    });
    scope.post('/ingest/fhir/subscription', async (req, reply) => {
      const r = await fhir.receiver.receive(req.body as Buffer, req.principal?.name);
      return reply.status(r.status).type(FHIR_JSON).send(r.body);
    });
  });

  app.get('/subscriptions', async () => ({ subscriptions: await fhir.store.list() }));

  app.post('/subscriptions', async (req, reply) => {
    const parsed = createSchema.safeParse(req.body);
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      return reply
        .status(400)
        .send({ error: { code: 'GW_BAD_REQUEST', message: `${i.path.join('.') || 'body'}: ${i.message}` } });
    }
    const b = parsed.data;
    const source = fhir.sources.get(b.source);
    if (!source)
      return reply.status(404).send({
        error: { code: 'GW_NOT_FOUND', message: `no source server named '${b.source}' in config sources` },
      });
    let created: { id?: string };
    try {
      created = await source.create(buildSubscription({ ...b }));
    } catch (err) {
      throw err instanceof GatewayError ? err : new GatewayError('GW_SOURCE_FAILED', (err as Error).message);
    }
    if (!created.id) throw new GatewayError('GW_SOURCE_FAILED', 'the source returned no Subscription id');
    await fhir.store.register({
      source: source.name,
      subscription: created.id,
      topic: b.topic,
      ...(b.filter ? { filterCriteria: b.filter } : {}),
      payload: b.payload,
      ...(b.heartbeatSeconds ? { heartbeatSeconds: b.heartbeatSeconds } : {}),
      status: 'requested',
    });
    return reply.status(201).send({
      source: source.name,
      subscription: created.id,
      url: source.absolute(`Subscription/${created.id}`),
    });
  });

  app.get('/.well-known/jwks.json', async (_req, reply) => {
    try {
      return reply.type('application/json').send(jwks(fhir.signingKey()));
    } catch (err) {
      return reply
        .status(500)
        .type(FHIR_JSON)
        .send(outcome([{ severity: 'error', code: 'exception', details: { text: (err as Error).message } }]));
    }
  });
}
