/** Services: mappings and the governed models (each bundled model opened once, in the registry). */
import { resolve } from 'node:path';
import { loadMappingsOrThrow } from '../features/load-or-throw.js';
import { checkMappings } from '../models/runtime/loader.js';
import { liveSection } from '../monitoring/render.js';
import { startMonitoring } from '../monitoring/wire.js';
import { openGovernedModels, registerModelApi } from '../pipeline/rescore-service.js';
import { BOTH, type Service } from './service.js';

export const models: () => Service = () => ({
  name: 'models',
  roles: BOTH,
  async init(rt) {
    const { config, base } = rt;
    rt.mappings = loadMappingsOrThrow(resolve(base, config.paths.mappings));
    // The governed registry (database): bundled models registered approved + production (README).
    rt.models = await openGovernedModels(config, base, rt.db, rt.logger, rt.mappings, rt.metrics);
    checkMappings(rt.models, rt.mappings, config.paths.models);
    rt.logger.info(
      { models: rt.models.list().map((m) => `${m.name}@${m.version}`), mappings: rt.mappings.length },
      'models ready',
    );
  },
  async close(rt) {
    await rt.models?.close();
  },
});

/** Model monitoring (reports, evaluation, the webhook outbox) and the model and V2 routes. */
export const monitoring: () => Service = () => ({
  name: 'monitoring',
  roles: BOTH,
  async init(rt) {
    rt.monitoring = startMonitoring(rt.config, rt.base, {
      http: rt.http,
      db: rt.db,
      lineage: rt.lineage,
      logger: rt.logger,
      metrics: rt.metrics,
      mappings: rt.mappings,
      externalUrl: () => rt.httpUrl,
    });
    rt.modelApi = registerModelApi(rt.http, {
      db: rt.db,
      models: rt.models,
      mappings: rt.mappings,
      lineage: rt.lineage,
      logger: rt.logger,
      liveSection: async (name, version) => liveSection(await rt.monitoring.report(name, version)),
    });
  },
  async close(rt) {
    await rt.monitoring?.close();
  },
});
