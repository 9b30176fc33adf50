import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../observability/metrics.js';

export type Check = () => Promise<Record<string, unknown> | undefined>;

/** `/health/live`, `/health/ready` (each named check must pass) and `/metrics`. */
export function registerHealthRoutes(
  app: FastifyInstance,
  metrics: Metrics,
  checks: Record<string, Check>,
): void {
  app.get('/health/live', async () => ({ status: 'ok' }));
  app.get('/health/ready', async (_req, reply) => {
    const results: Record<string, unknown> = {};
    let ok = true;
    await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        const t0 = performance.now();
        try {
          const extra = await Promise.race([
            check(),
            new Promise<never>((_, reject) =>
              setTimeout(() => reject(new Error('timed out after 2 s')), 2000),
            ),
          ]);
          results[name] = { status: 'up', ms: Math.round(performance.now() - t0), ...extra };
        } catch (err) {
          ok = false;
          results[name] = {
            status: 'down',
            error: err instanceof Error ? err.message.slice(0, 200) : 'error',
          };
        }
      }),
    );
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not-ready', checks: results });
  });
  app.get('/metrics', async (_req, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}
