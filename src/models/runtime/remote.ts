/**
 * A model of kind `remote`: scored by an external Open Inference Protocol (KServe V2) endpoint
 * (Triton, KServe, MLServer, or another gateway), under the same governance as a local one: a
 * registered, validated, approved version; the card pins the expected model, golden cases are
 * replayed through the endpoint at validation, and every score is recorded in the lineage.
 */

import { GatewayError } from '../../errors/codes.js';
import type { ModelVersion } from '../registry/governance.js';
import { type LoadedModel, ModelInputError } from './onnx-model.js';

export interface RemoteOptions {
  timeoutMs: number;
  /** Bearer tokens by endpoint origin (`https://triton.example:8000`). */
  tokens: Record<string, string>;
}

/** A V2 endpoint failed or answered something unusable (transient: the message is retried). */
export class RemoteModelError extends GatewayError {
  constructor(model: string, message: string) {
    super('MODEL_REMOTE', model, message);
    this.name = 'RemoteModelError';
  }
}

interface V2Output {
  name: string;
  shape: number[];
  datatype: string;
  data: number[];
}

/** `remote_url` is the endpoint base (`http://host:8000`) with the remote model name after `#`. */
export function parseRemoteUrl(url: string, fallbackName: string): { base: string; model: string } {
  const [base, model] = url.split('#');
  return { base: base!.replace(/\/$/, ''), model: model || fallbackName };
}

export function createRemoteModel(v: ModelVersion, o: RemoteOptions): LoadedModel {
  const { base, model: remoteName } = parseRemoteUrl(v.remoteUrl ?? '', v.name);
  const token = o.tokens[new URL(base).origin];
  const width = v.card.features.length;
  const label = `${v.name}@${v.version}`;
  return {
    name: v.name,
    version: v.version,
    sha256: v.sha256,
    card: v.card,
    cardFile: `remote:${base}`,
    featureNames: v.card.features.map((f) => f.name),
    async predict(rows, n) {
      const data: number[] = [];
      let count: number;
      if (rows instanceof Float32Array) {
        count = n ?? rows.length / width;
        for (const x of rows) data.push(x);
      } else {
        count = rows.length;
        for (const r of rows) {
          if (r.length !== width)
            throw new ModelInputError(v.name, `row has ${r.length} values, expected ${width}`);
          data.push(...r);
        }
      }
      if (!data.every(Number.isFinite)) throw new ModelInputError(v.name, 'features must be finite numbers');
      if (count === 0) return [];
      let res: Response;
      try {
        res = await fetch(`${base}/v2/models/${encodeURIComponent(remoteName)}/infer`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          body: JSON.stringify({
            inputs: [{ name: v.card.onnx.input, shape: [count, width], datatype: 'FP32', data }],
            outputs: [{ name: v.card.onnx.output }],
          }),
          signal: AbortSignal.timeout(o.timeoutMs),
        });
      } catch (err) {
        throw new RemoteModelError(label, `endpoint unreachable (${(err as Error).message})`);
      }
      if (!res.ok) throw new RemoteModelError(label, `endpoint answered ${res.status}`);
      const body = (await res.json()) as { outputs?: V2Output[] };
      const out = body.outputs?.find((x) => x.name === v.card.onnx.output) ?? body.outputs?.[0];
      if (!out || !Array.isArray(out.data)) throw new RemoteModelError(label, 'answer has no outputs');
      const cols = out.shape.length === 2 ? out.shape[1]! : 1;
      const col = cols > v.card.onnx.outputIndex ? v.card.onnx.outputIndex : 0;
      const scores = Array.from({ length: count }, (_, i) => Number(out.data[i * cols + col]));
      if (scores.some((s) => !Number.isFinite(s)))
        throw new RemoteModelError(label, 'answer holds non-numbers');
      return scores;
    },
    async close() {},
  };
}
