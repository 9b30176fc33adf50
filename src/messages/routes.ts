import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Database } from '../db/database.js';
import { GatewayError } from '../errors/codes.js';
import { hasScope } from '../security/auth.js';
import type { PatientDigester } from './patient-digest.js';
import type { PhiAccess } from './phi-access.js';
import { getMessage, MAX_LIMIT, MESSAGE_STATUSES, type MessageFilter, searchMessages } from './search.js';

const isoTime = z.string().refine((v) => !Number.isNaN(Date.parse(v)), 'an ISO 8601 date-time');
const text = z.string().trim().min(1).max(200);
const statuses = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).filter(Boolean))
  .pipe(z.array(z.enum(MESSAGE_STATUSES)));
const flag = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0'])])
  .transform((v) => v === true || v === 'true' || v === '1');

/** The search's parameters, the same in the query string (GET) and in a JSON body (POST). */
const searchSchema = z
  .object({
    controlId: text.optional(),
    sender: text.optional(),
    type: text.optional(),
    status: statuses.optional(),
    patient: text.optional(),
    model: text.optional(),
    from: isoTime.optional(),
    to: isoTime.optional(),
    limit: z.coerce.number().int().min(1).max(MAX_LIMIT).optional(),
    cursor: z.string().min(1).max(400).optional(),
    raw: flag.optional(),
  })
  .strict();

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value ?? {});
  if (!r.success)
    throw new GatewayError(
      'GW_BAD_REQUEST',
      // Never the value given: a patient identifier is PHI, and this text may be logged.
      r.error.issues.map((i) => `${i.path.join('.') || '(query)'}: ${i.message}`).join('; '),
    );
  return r.data;
}

export interface MessageRouteDeps {
  db: Database;
  digester: PatientDigester;
  phi: PhiAccess;
}

/**
 * `GET /messages` (and `POST /messages/search` with the same fields as JSON, so a patient
 * identifier need not travel in a URL that proxies log), `GET /messages/{id}` and
 * `GET /messages/{id}/views`. Scope `read`; `raw=true` adds the raw text and needs `phi:read`,
 * each message shown being recorded (phi-access.ts).
 */
export function registerMessageRoutes(app: FastifyInstance, d: MessageRouteDeps): void {
  const requirePhi = (req: FastifyRequest) => {
    if (!hasScope(req.principal, 'phi:read')) throw new GatewayError('GW_FORBIDDEN', 'phi:read');
  };
  const who = (req: FastifyRequest, action: string) => ({
    principal: req.principal?.name ?? 'unknown',
    action,
    client: req.ip,
  });

  async function search(req: FastifyRequest, input: unknown) {
    const q = parse(searchSchema, input);
    if (q.raw) requirePhi(req);
    if (q.from && q.to && Date.parse(q.from) >= Date.parse(q.to))
      throw new GatewayError('GW_BAD_REQUEST', 'from: must be before to');
    const { patient, raw, ...rest } = q;
    const filter: MessageFilter = {
      ...rest,
      ...(patient ? { patientDigests: [d.digester.digest(patient)] } : {}),
    };
    const page = await searchMessages(d.db, filter);
    if (!raw) return page;
    const texts = await d.phi.openRaw(
      page.items.map((m) => m.messageId),
      who(req, 'search'),
    );
    return { ...page, items: page.items.map((m) => ({ ...m, raw: texts.get(m.messageId) ?? null })) };
  }

  app.get('/messages', async (req) => search(req, req.query));
  app.post('/messages/search', async (req) => search(req, req.body));

  app.get('/messages/:messageId', async (req) => {
    const { messageId } = req.params as { messageId: string };
    const { raw } = parse(z.object({ raw: flag.optional() }).strict(), req.query);
    if (raw) requirePhi(req);
    const m = await getMessage(d.db, messageId);
    if (!m) throw new GatewayError('GW_NOT_FOUND', 'message');
    if (!raw) return m;
    const texts = await d.phi.openRaw([messageId], who(req, 'view'));
    return { ...m, raw: texts.get(messageId) ?? null };
  });

  app.get('/messages/:messageId/views', async (req) => {
    const { messageId } = req.params as { messageId: string };
    return { views: await d.phi.views(messageId) };
  });
}
