/**
 * Monitoring routes: GET /models/{name}/monitoring[?version=V] (scope `read` on the model), the
 * JSON the console, the CLI table and Prometheus all show; see the README for its shape.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Database } from '../db/database.js';
import { requireModel } from '../models/access.js';
import type { Monitoring } from './monitor.js';

export function registerMonitoringRoutes(app: FastifyInstance, d: { db: Database; monitoring: Monitoring }) {
  const params = (req: FastifyRequest) => req.params as { name: string };
  app.get('/models/:name/monitoring', async (req) => {
    const { name } = params(req);
    await requireModel(d.db, req, name, 'read');
    const q = req.query as { version?: string };
    return d.monitoring.report(name, q.version || undefined);
  });
}
