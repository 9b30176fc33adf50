import type { FastifyInstance } from 'fastify';
import { GatewayError } from '../errors/codes.js';
import type { LineageStore } from './store.js';

/** `GET /lineage?controlId=`, `GET /lineage/verify`, `GET /lineage/{messageId}`. */
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
}
