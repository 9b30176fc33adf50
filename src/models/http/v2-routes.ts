/**
 * Open Inference Protocol (KServe V2) over HTTP/REST for governed models: metadata and infer.
 * Only a version behind an alias (production by default) or named explicitly is served, the
 * token needs the model's `infer` scope, and every request is recorded in the lineage (model,
 * version, SHA-256, who, row count and a hash of the inputs; never the inputs themselves).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Database } from '../../db/database.js';
import { GatewayError } from '../../errors/codes.js';
import type { LineageStore } from '../../lineage/store.js';
import { modelAccess, principalName } from '../registry/access.js';
import { getVersion } from '../registry/governance.js';
import type { GovernedRegistry } from '../runtime/governed.js';
import type { LoadedModel } from '../runtime/onnx-model.js';

interface V2Tensor {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown[];
}

const badRequest = (m: string) => new GatewayError('GW_BAD_REQUEST', m);

async function pick(d: { db: Database; models: GovernedRegistry }, name: string, version?: string) {
  if (version) {
    const v = await getVersion(d.db, name, version);
    if (!v || v.status === 'retired' || v.status === 'draft')
      throw new GatewayError('GW_NOT_FOUND', `servable model version ${name}@${version}`);
    return d.models.version(name, version);
  }
  const m = d.models.get(name);
  if (!m) throw new GatewayError('GW_NOT_FOUND', `model ${name} (no production version)`);
  return m;
}

function metadata(m: LoadedModel) {
  return {
    name: m.name,
    versions: [m.version],
    platform: 'onnxruntime_onnx',
    inputs: [{ name: m.card.onnx.input, datatype: 'FP32', shape: [-1, m.featureNames.length] }],
    outputs: [{ name: m.card.onnx.output, datatype: 'FP32', shape: [-1, 1] }],
    parameters: { sha256: m.sha256, features: m.featureNames },
  };
}

/** Flattens V2 `data` (flat or nested, row-major) into numbers. */
function flatten(data: unknown[]): number[] {
  const out: number[] = [];
  const walk = (x: unknown) => {
    if (Array.isArray(x)) for (const y of x) walk(y);
    else out.push(typeof x === 'number' ? x : Number.NaN);
  };
  walk(data);
  return out;
}

export function registerV2Routes(
  app: FastifyInstance,
  d: { db: Database; models: GovernedRegistry; lineage: LineageStore },
) {
  app.get('/v2', async () => ({ name: 'clinical-ml-gateway', version: '2', extensions: [] }));

  const meta = async (req: FastifyRequest) => {
    const { name, version } = req.params as { name: string; version?: string };
    return metadata(await pick(d, name, version));
  };
  const readMeta = { onRequest: modelAccess(d.db, 'read', 'v2.metadata') };
  app.get('/v2/models/:name', readMeta, meta);
  app.get('/v2/models/:name/versions/:version', readMeta, meta);
  app.get(
    '/v2/models/:name/ready',
    { onRequest: modelAccess(d.db, 'read', 'v2.ready') },
    async (req, reply) => {
      const { name } = req.params as { name: string };
      return reply.status(d.models.get(name) ? 200 : 400).send({ name, ready: !!d.models.get(name) });
    },
  );

  const infer = async (req: FastifyRequest, _reply: FastifyReply) => {
    const { name, version } = req.params as { name: string; version?: string };
    const body = (req.body ?? {}) as { id?: unknown; inputs?: V2Tensor[] };
    const model = await pick(d, name, version);
    const width = model.featureNames.length;
    const input = body.inputs?.find((i) => i.name === model.card.onnx.input) ?? body.inputs?.[0];
    if (!input || !Array.isArray(input.data) || !Array.isArray(input.shape))
      throw badRequest(`inputs must hold the tensor '${model.card.onnx.input}' with shape and data`);
    if (input.datatype !== 'FP32' && input.datatype !== 'FP64')
      throw badRequest(`datatype ${String(input.datatype)} is not supported (FP32)`);
    const values = flatten(input.data);
    const rows = input.shape.length === 2 ? input.shape[0]! : 1;
    if ((input.shape.length === 2 && input.shape[1] !== width) || values.length !== rows * width)
      throw badRequest(`expected shape [N, ${width}] with N * ${width} values`);
    if (!values.every(Number.isFinite)) throw badRequest('inputs must be finite numbers');
    // MODEL_OVERLOADED 503 (Retry-After), MODEL_DEADLINE 504, MODEL_REMOTE 502: the one error handler's.
    const scores = await (rows === 1
      ? model.predict([values])
      : model.predict(Float32Array.from(values), rows));
    const id = typeof body.id === 'string' && body.id.length <= 128 ? body.id : randomUUID();
    const alias = d.models.aliasOf(name, model.version) ?? null;
    await d.lineage.appendNow([
      {
        messageId: `v2:${id}`,
        stage: 'inferred',
        at: new Date().toISOString(),
        detail: {
          channel: 'v2',
          model: model.name,
          modelVersion: model.version,
          modelSha256: model.sha256,
          alias,
          principal: principalName(req),
          rows,
          inputSha256: createHash('sha256').update(Float32Array.from(values)).digest('hex'),
        },
      },
    ]);
    return {
      model_name: model.name,
      model_version: model.version,
      id,
      parameters: { sha256: model.sha256, alias },
      outputs: [{ name: model.card.onnx.output, datatype: 'FP32', shape: [rows, 1], data: scores }],
    };
  };
  const inferAccess = { onRequest: modelAccess(d.db, 'infer', 'v2.infer') };
  app.post('/v2/models/:name/infer', inferAccess, infer);
  app.post('/v2/models/:name/versions/:version/infer', inferAccess, infer);
}
