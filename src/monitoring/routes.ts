/**
 * Monitoring routes: GET /models/{name}/monitoring[?version=V] (scope `read` on the model), the
 * JSON the console, the CLI table and Prometheus all show (its shape is in the README); and the
 * retrain requests: open (`admin`), list and show (`read`), datasets (`admin`).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Database } from '../db/database.js';
import { GatewayError } from '../errors/codes.js';
import { modelAccess, principalName } from '../models/registry/access.js';
import { audit } from '../models/registry/governance.js';
import type { Monitoring } from './monitor.js';
import type { Retraining } from './retrain.js';

export function registerMonitoringRoutes(
  app: FastifyInstance,
  d: { db: Database; monitoring: Monitoring; retraining: Retraining },
) {
  const params = (req: FastifyRequest) => req.params as { name: string; id: string; format: string };
  app.get('/models/:name/monitoring', { onRequest: modelAccess(d.db, 'read') }, async (req) => {
    const { name } = params(req);
    const q = req.query as { version?: string };
    return d.monitoring.report(name, q.version || undefined);
  });

  /** Opens a retrain request: { reason, version? } (default: the production version). */
  app.post(
    '/models/:name/retrain-requests',
    { onRequest: modelAccess(d.db, 'admin', 'retrain') },
    async (req, reply) => {
      const { name } = params(req);
      const who = principalName(req);
      const b = (req.body ?? {}) as { reason?: unknown; version?: unknown };
      if (typeof b.reason !== 'string' || !b.reason.trim())
        throw new GatewayError('GW_BAD_REQUEST', 'a retrain request needs a reason');
      if (b.version !== undefined && typeof b.version !== 'string')
        throw new GatewayError('GW_BAD_REQUEST', 'version must be a string');
      const r = await d.retraining.open({
        model: name,
        version: b.version as string | undefined,
        by: who,
        trigger: 'operator',
        reason: b.reason.slice(0, 1000),
      });
      await audit(d.db, {
        principal: principalName(req),
        model: name,
        version: r.version,
        action: 'retrain',
        allowed: true,
        reason: r.id,
      });
      return reply.status(201).send(r);
    },
  );

  app.get('/models/:name/retrain-requests', { onRequest: modelAccess(d.db, 'read') }, async (req) => {
    const { name } = params(req);
    return d.retraining.list(name);
  });

  app.get('/models/:name/retrain-requests/:id', { onRequest: modelAccess(d.db, 'read') }, async (req) => {
    const { name, id } = params(req);
    const r = await d.retraining.get(name, id);
    if (!r) throw new GatewayError('GW_NOT_FOUND', `retrain request ${id}`);
    return r;
  });

  app.get(
    '/models/:name/retrain-requests/:id/:format',
    { onRequest: modelAccess(d.db, 'admin', 'retrain.dataset') },
    async (req, reply) => {
      const { name, id, format } = params(req);
      const kind = format === 'dataset.csv' ? 'csv' : format === 'dataset.arrow' ? 'arrow' : undefined;
      if (!kind) throw new GatewayError('GW_NOT_FOUND', format);
      const data = await d.retraining.dataset(name, id, kind);
      if (!data) throw new GatewayError('GW_NOT_FOUND', `retrain request ${id}`);
      await audit(d.db, {
        principal: principalName(req),
        model: name,
        action: 'retrain.dataset',
        allowed: true,
        reason: `${id} ${kind}`,
      });
      return reply
        .type(kind === 'csv' ? 'text/csv; charset=utf-8' : 'application/vnd.apache.arrow.file')
        .header('content-disposition', `attachment; filename="${name}-${id}.${kind}"`)
        .send(data);
    },
  );
}
