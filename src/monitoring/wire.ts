/**
 * Start-up of model monitoring (called from app.ts): outcome definitions loaded beside the
 * mappings, the monitor (hook, reports, evaluation, webhook outbox), retraining, and the routes.
 */
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { GatewayConfig } from '../config/schema.js';
import type { Database } from '../db/database.js';
import type { Mapping } from '../features/mapping.js';
import type { LineageStore } from '../lineage/store.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { createMonitoring, type Monitoring } from './monitor.js';
import { loadOutcomes } from './outcomes.js';
import { createRetraining } from './retrain.js';
import { registerMonitoringRoutes } from './routes.js';

export function startMonitoring(
  config: GatewayConfig,
  base: string,
  d: {
    http: FastifyInstance;
    db: Database;
    lineage: LineageStore;
    logger: Logger;
    metrics: Metrics;
    mappings: readonly Mapping[];
    externalUrl: () => string;
  },
): Monitoring {
  const monitoring = createMonitoring({
    ...d,
    outcomes: loadOutcomes(
      resolve(base, config.monitoring.outcomes.dir ?? join(config.paths.mappings, 'outcomes')),
      (model) => d.mappings.find((m) => m.model === model)?.features.map((f) => f.name),
    ),
    config: config.monitoring,
    onFired: (model, version) => retraining.onAlert(model, version),
  });
  const retraining = createRetraining({ ...d, monitoring, config: config.monitoring });
  registerMonitoringRoutes(d.http, { db: d.db, monitoring, retraining });
  return monitoring;
}
