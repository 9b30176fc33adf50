/**
 * MLflow model directories: the `MLmodel` file (YAML) with an `onnx` flavor and a signature
 * (tensor specs as JSON strings, as MLflow writes them). Read, checked against the ONNX graph's
 * own signature, and turned into a draft registration.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { GatewayError } from '../../errors/codes.js';
import { type MonitoringSpec, monitoringSchema } from './reference.js';
import type { OnnxSignature } from './signature.js';

const tensorSpec = z.object({
  type: z.literal('tensor'),
  name: z.string().min(1).optional(),
  'tensor-spec': z.object({ dtype: z.string(), shape: z.array(z.number().int()) }),
});

const mlmodelSchema = z
  .object({
    artifact_path: z.string().optional(),
    run_id: z.string().optional(),
    model_uuid: z.string().optional(),
    utc_time_created: z.string().optional(),
    mlflow_version: z.string().optional(),
    flavors: z
      .object({
        onnx: z.object({ data: z.string().min(1), onnx_version: z.string().optional() }).passthrough(),
      })
      .passthrough(),
    signature: z.object({ inputs: z.string(), outputs: z.string() }).passthrough(),
    metadata: z.record(z.string(), z.unknown()).nullish(),
  })
  .passthrough();

export interface MlflowModel {
  dir: string;
  onnxFile: string;
  onnx: Buffer;
  runId?: string;
  modelUuid?: string;
  created?: string;
  signature: { inputs: Array<z.infer<typeof tensorSpec>>; outputs: Array<z.infer<typeof tensorSpec>> };
}

export class MlflowError extends GatewayError {
  constructor(dir: string, message: string) {
    super('MODEL_MLFLOW_INVALID', dir, message);
    this.name = 'MlflowError';
  }
}

export function readMlflowModel(dir: string): MlflowModel {
  const file = join(dir, 'MLmodel');
  if (!existsSync(file)) throw new MlflowError(dir, 'no MLmodel file');
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new MlflowError(dir, `MLmodel is not valid YAML (${(err as Error).message})`);
  }
  const m = mlmodelSchema.safeParse(raw);
  if (!m.success)
    throw new MlflowError(
      dir,
      m.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') +
        ' (an onnx flavor and a signature are required)',
    );
  const specs = (text: string, what: string) => {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw new MlflowError(dir, `signature.${what} is not JSON`);
    }
    const r = z.array(tensorSpec).min(1).safeParse(v);
    if (!r.success)
      throw new MlflowError(
        dir,
        `signature.${what} must be tensor specs (column signatures are not supported)`,
      );
    return r.data;
  };
  const base = resolve(dir);
  const onnxFile = resolve(base, m.data.flavors.onnx.data);
  if (!onnxFile.startsWith(base + sep))
    throw new MlflowError(dir, 'flavors.onnx.data points outside the directory');
  if (!existsSync(onnxFile)) throw new MlflowError(dir, `no ONNX file ${relative(base, onnxFile)}`);
  return {
    dir,
    onnxFile,
    onnx: readFileSync(onnxFile),
    ...(m.data.run_id ? { runId: m.data.run_id } : {}),
    ...(m.data.model_uuid ? { modelUuid: m.data.model_uuid } : {}),
    ...(m.data.utc_time_created ? { created: m.data.utc_time_created } : {}),
    signature: {
      inputs: specs(m.data.signature.inputs, 'inputs'),
      outputs: specs(m.data.signature.outputs, 'outputs'),
    },
  };
}

const DTYPE: Record<string, string> = {
  float32: 'float32',
  float64: 'float64',
  int64: 'int64',
  int32: 'int32',
};

/** Problems between the MLflow signature and the ONNX graph's (empty: they agree). */
export function compareSignatures(m: MlflowModel, onnx: OnnxSignature): string[] {
  const problems: string[] = [];
  const check = (kind: 'inputs' | 'outputs') => {
    m.signature[kind].forEach((spec, i) => {
      const t = spec.name ? onnx[kind].find((x) => x.name === spec.name) : onnx[kind][i];
      if (!t) {
        problems.push(`MLflow ${kind} '${spec.name ?? i}' is not in the ONNX graph`);
        return;
      }
      if (DTYPE[spec['tensor-spec'].dtype] !== t.type)
        problems.push(`${kind} '${t.name}': MLflow says ${spec['tensor-spec'].dtype}, ONNX ${t.type}`);
      const shape = spec['tensor-spec'].shape;
      const fixed = (d: number | string) => (typeof d === 'number' && d > 0 ? d : -1);
      if (shape.length !== t.shape.length || shape.some((d, j) => fixed(d) !== fixed(t.shape[j]!)))
        problems.push(`${kind} '${t.name}': MLflow shape [${shape}] differs from ONNX [${t.shape}]`);
    });
  };
  check('inputs');
  check('outputs');
  return problems;
}

/**
 * The training reference an MLflow run logged beside the model (`monitoring.yaml` in the model
 * directory, the card's `monitoring:` section), or undefined when there is none.
 */
export function readMlflowReference(dir: string): MonitoringSpec | undefined {
  const file = join(dir, 'monitoring.yaml');
  if (!existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new MlflowError(dir, `monitoring.yaml is not valid YAML (${(err as Error).message})`);
  }
  const r = monitoringSchema.safeParse(raw);
  if (!r.success)
    throw new MlflowError(
      dir,
      `monitoring.yaml: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  return r.data;
}
