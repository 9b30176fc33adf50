import type { FastifyInstance } from 'fastify';
import { GatewayError } from '../errors/codes.js';
import { lineageAuditBundle } from './audit-event.js';
import type { LineageStore } from './store.js';

/** Who the AuditEvents name as observer and agent. */
export const AUDIT_OBSERVER = 'clinical-ml-gateway';

/**
 * `GET /lineage?controlId=`, `GET /lineage/verify`, `GET /lineage/{messageId}` and
 * `GET /lineage/{messageId}/audit-events` (a FHIR Bundle of AuditEvents).
 */
export function registerLineageRoutes(app: FastifyInstance, store: LineageStore): void {
  app.get('/lineage', async (req) => {
    const { controlId } = req.query as { controlId?: string };
    if (!controlId) throw new GatewayError('GW_BAD_REQUEST', 'query parameter controlId is required');
    return store.byControlId(controlId);
  });
  app.get('/lineage/verify', async () => store.verify());
  app.get('/lineage/:messageId', async (req) => {
    const { messageId } = req.params as { messageId: string };
    const record = await store.record(messageId);
    if (!record) throw new GatewayError('GW_NOT_FOUND', 'lineage record');
    return record;
  });
  app.get('/lineage/:messageId/audit-events', async (req, reply) => {
    const { messageId } = req.params as { messageId: string };
    const record = await store.record(messageId);
    if (!record) throw new GatewayError('GW_NOT_FOUND', 'lineage record');
    const bundle = lineageAuditBundle(record, await store.entriesFor(messageId), AUDIT_OBSERVER);
    return reply.type('application/fhir+json').send(bundle);
  });
}
