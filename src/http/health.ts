import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../observability/metrics.js';

export type Check = () => Promise<Record<string, unknown> | undefined>;

/**
 * `/health/live`, `/health/ready` (each named check must pass; details and error texts only for a
 * caller with a valid token) and `/metrics`.
 */
export function registerHealthRoutes(
  app: FastifyInstance,
  metrics: Metrics,
  checks: Record<string, Check>,
): void {
  app.get('/health/live', async () => ({ status: 'ok' }));
  app.get('/health/ready', async (req, reply) => {
    // Public: without a valid token only each check's state shows (no hosts, ports or error texts).
    const detailed = !!req.principal;
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
          results[name] = detailed
            ? { status: 'up', ms: Math.round(performance.now() - t0), ...extra }
            : { status: 'up' };
        } catch (err) {
          ok = false;
          results[name] = detailed
            ? { status: 'down', error: err instanceof Error ? err.message.slice(0, 200) : 'error' }
            : { status: 'down' };
        }
      }),
    );
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not-ready', checks: results });
  });
  app.get('/metrics', async (_req, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}
