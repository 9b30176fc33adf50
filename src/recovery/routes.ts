import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Database } from '../db/database.js';
import { GatewayError } from '../errors/codes.js';
import { listDeadLetters } from './dead-letters.js';
import type { Replayer } from './replay.js';

const isoTime = z.string().refine((v) => !Number.isNaN(Date.parse(v)), 'an ISO 8601 date-time');

const replayBody = z
  .object({
    messageIds: z.array(z.string().min(1).max(200)).max(10_000).optional(),
    from: isoTime.optional(),
    to: isoTime.optional(),
    model: z.string().min(1).optional(),
    status: z.array(z.string()).optional(),
    limit: z.number().int().min(1).max(10_000).optional(),
    dryRun: z.boolean().optional(),
  })
  .strict();

const deadLetterQuery = z
  .object({
    since: isoTime.optional(),
    until: isoTime.optional(),
    model: z.string().optional(),
    all: z.enum(['true', 'false']).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  })
  .strict();

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value ?? {});
  if (!r.success)
    throw new GatewayError(
      'GW_BAD_REQUEST',
      r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '),
    );
  return r.data;
}

/**
 * `GET /dead-letters` (scope read), `POST /replay` and `GET /replay/{id}` (scope replay; the
 * scope is checked for every route in src/http/server.ts).
 */
export function registerRecoveryRoutes(app: FastifyInstance, db: Database, replayer: Replayer): void {
  app.get('/dead-letters', async (req) => {
    const q = parse(deadLetterQuery, req.query);
    const items = await listDeadLetters(db, {
      ...(q.since ? { since: q.since } : {}),
      ...(q.until ? { until: q.until } : {}),
      ...(q.model ? { model: q.model } : {}),
      ...(q.limit ? { limit: q.limit } : {}),
      includeResolved: q.all === 'true',
    });
    return { count: items.length, items };
  });
  app.post('/replay', async (req, reply) => {
    const body = parse(replayBody, req.body);
    const started = await replayer.start(body, req.principal?.name ?? 'unknown');
    const allPruned =
      started.queued.length === 0 &&
      started.skipped.length > 0 &&
      started.skipped.every((s) => s.code === 'GW_RAW_PRUNED');
    if (allPruned && !body.dryRun) {
      const err = new GatewayError('GW_RAW_PRUNED');
      return reply.status(err.status).send({ ...err.toJSON(), ...started });
    }
    return reply.status(started.replayId ? 202 : 200).send(started);
  });
  app.get('/replay/:replayId', async (req) => {
    const { replayId } = req.params as { replayId: string };
    const p = await replayer.progress(replayId);
    if (!p) throw new GatewayError('GW_NOT_FOUND', 'replay');
    return p;
  });
}
