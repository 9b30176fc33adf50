import type { FastifyInstance } from 'fastify';
import { GatewayError } from '../errors/codes.js';
import type { Mapping } from '../features/mapping.js';
import type { LoadedModel, ModelRegistry } from './registry.js';

function summary(m: LoadedModel, mappings: readonly Mapping[]) {
  const bound = mappings.filter((x) => x.model === m.name);
  return {
    name: m.name,
    versions: [
      {
        version: m.version,
        sha256: m.sha256,
        status: m.card.status,
        features: m.featureNames,
        mappings: bound.map((x) => ({ file: x.file, version: x.version })),
      },
    ],
  };
}

/** `GET /models`, `GET /models/{name}` (with the model card). */
export function registerModelRoutes(
  app: FastifyInstance,
  models: ModelRegistry,
  mappings: readonly Mapping[],
) {
  app.get('/models', async () => models.list().map((m) => summary(m, mappings)));
  app.get('/models/:name', async (req) => {
    const { name } = req.params as { name: string };
    const m = models.get(name);
    if (!m) throw new GatewayError('GW_NOT_FOUND', `model ${name}`);
    return { ...summary(m, mappings), card: m.card };
  });
}
