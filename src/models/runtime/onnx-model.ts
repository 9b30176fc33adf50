/**
 * One governed ONNX model: the bytes are checked against the card's SHA-256 before a session is
 * created, the session's input/output are checked against the card, and the golden cases are
 * replayed. `predict` runs a whole batch in one `session.run`.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { GatewayError } from '../../errors/codes.js';
import type { ModelCard } from '../registry/card.js';
import type { OnnxSignature, TensorSignature } from '../registry/signature.js';

/** The ONNX bytes are not the ones the card was signed off with. */
export class ModelIntegrityError extends GatewayError {
  constructor(
    readonly cardFile: string,
    readonly onnxFile: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super('MODEL_INTEGRITY', cardFile, onnxFile, actual, expected);
    this.name = 'ModelIntegrityError';
  }
}

/** The ONNX graph does not match its card (input/output names, feature count, golden cases). */
export class ModelValidationError extends GatewayError {
  constructor(
    readonly cardFile: string,
    message: string,
  ) {
    super('MODEL_INVALID', cardFile, message);
    this.name = 'ModelValidationError';
  }
}

/** Rows handed to `predict` have the wrong shape or non-finite values. */
export class ModelInputError extends GatewayError {
  constructor(model: string, message: string) {
    super('MODEL_INPUT', model, message);
    this.name = 'ModelInputError';
  }
}

/** Scores in place: the score of row i is values[i * stride + offset]. */
export interface Scores {
  values: ArrayLike<number>;
  stride: number;
  offset: number;
}

export interface LoadedModel {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
  readonly card: ModelCard;
  readonly cardFile: string;
  readonly featureNames: string[];
  /** Positive-class probability for each row; rows are `n` x featureNames.length, one session.run. */
  predict(rows: Float32Array | number[][], n?: number): Promise<number[]>;
  /**
   * As predict, for rows the caller has already checked (n x featureNames.length, all finite):
   * no second check, and the scores are read where the session left them, without a copy. Valid
   * until the next call. ONNX models have it; the micro-batcher uses it when present.
   */
  scoreRows?(data: Float32Array, n: number): Promise<Scores>;
  /** The input/output signature of the open ONNX session (ONNX models only). */
  signature?(): OnnxSignature;
  close(): Promise<void>;
}

export interface OpenModelOptions {
  /** Replay the card's golden cases and refuse the model when one drifts (default true). */
  verifyGoldenCases?: boolean;
  /** onnxruntime session options (e.g. intraOpNumThreads: 1 for one process per core). */
  sessionOptions?: ort.InferenceSession.SessionOptions;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function toMatrix(model: string, rows: Float32Array | number[][], width: number, n?: number) {
  if (rows instanceof Float32Array) {
    const count = n ?? rows.length / width;
    if (!Number.isInteger(count) || count * width !== rows.length) {
      throw new ModelInputError(
        model,
        `expected ${width} values per row, got ${rows.length} values for ${count} rows`,
      );
    }
    for (let i = 0; i < rows.length; i++) {
      const v = rows[i]!;
      if (v - v !== 0) throw new ModelInputError(model, 'features must be finite numbers');
    }
    return { data: rows, count };
  }
  const count = n ?? rows.length;
  if (count !== rows.length)
    throw new ModelInputError(model, `n is ${count} but ${rows.length} rows were given`);
  const data = new Float32Array(count * width);
  rows.forEach((row, i) => {
    if (row.length !== width) {
      throw new ModelInputError(model, `row ${i} has ${row.length} values, expected ${width}`);
    }
    for (const v of row)
      if (!Number.isFinite(v)) throw new ModelInputError(model, `row ${i} has a non-finite value`);
    data.set(row, i * width);
  });
  return { data, count };
}

function checkSession(session: ort.InferenceSession, card: ModelCard, cardFile: string): void {
  const fail = (message: string): never => {
    throw new ModelValidationError(cardFile, message);
  };
  const input = session.inputMetadata.find((m) => m.name === card.onnx.input);
  if (!input) fail(`ONNX graph has no input '${card.onnx.input}' (inputs: ${session.inputNames.join(', ')})`);
  if (input?.isTensor) {
    if (input.type !== 'float32') fail(`input '${input.name}' is ${input.type}, expected float32`);
    const width = input.shape[1];
    if (input.shape.length !== 2 || width !== card.features.length) {
      fail(
        `input '${input.name}' has shape [${input.shape.join(', ')}] but the card lists ${card.features.length} features`,
      );
    }
  }
  const output = session.outputMetadata.find((m) => m.name === card.onnx.output);
  if (!output)
    fail(`ONNX graph has no output '${card.onnx.output}' (outputs: ${session.outputNames.join(', ')})`);
  if (output?.isTensor) {
    const width = output.shape.length === 2 ? output.shape[1] : 1;
    if (typeof width === 'number' && card.onnx.outputIndex >= width) {
      fail(
        `output '${output.name}' has ${width} columns, outputIndex ${card.onnx.outputIndex} is out of range`,
      );
    }
  }
}

class OnnxModel implements LoadedModel {
  readonly name: string;
  readonly version: string;
  readonly featureNames: string[];

  constructor(
    readonly card: ModelCard,
    readonly cardFile: string,
    readonly sha256: string,
    private readonly session: ort.InferenceSession,
  ) {
    this.name = card.name;
    this.version = card.version;
    this.featureNames = card.features.map((f) => f.name);
    this.fetches = [card.onnx.output];
  }

  async predict(rows: Float32Array | number[][], n?: number): Promise<number[]> {
    const { data, count } = toMatrix(this.name, rows, this.featureNames.length, n);
    if (count === 0) return [];
    const { values, stride, offset } = await this.scoreRows(data, count);
    const out = new Array<number>(count);
    for (let i = 0; i < count; i++) out[i] = values[i * stride + offset]!;
    return out;
  }

  /** The input tensor of the last full buffer: a batcher hands the same buffer over and over. */
  private last: { data: Float32Array; n: number; feeds: Record<string, ort.Tensor> } | undefined;
  private readonly fetches: string[];

  async scoreRows(data: Float32Array, n: number): Promise<Scores> {
    const width = this.featureNames.length;
    let feeds = this.last?.data === data && this.last.n === n ? this.last.feeds : undefined;
    if (!feeds) {
      feeds = { [this.card.onnx.input]: new ort.Tensor('float32', data, [n, width]) };
      if (data.byteOffset === 0 && data.length === n * width) this.last = { data, n, feeds };
    }
    const result = await this.session.run(feeds, this.fetches);
    const tensor = result[this.card.onnx.output];
    if (!tensor) throw new ModelInputError(this.name, `session returned no '${this.card.onnx.output}'`);
    const stride = tensor.dims.length === 2 ? Number(tensor.dims[1]) : 1;
    return { values: tensor.data as Float32Array, stride, offset: this.card.onnx.outputIndex };
  }

  signature(): OnnxSignature {
    return signatureOf(this.session);
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

async function verifyGoldenCases(model: LoadedModel): Promise<void> {
  const cases = model.card.goldenCases;
  if (cases.length === 0) return;
  const got = await model.predict(cases.map((c) => c.features));
  cases.forEach((c, i) => {
    const delta = Math.abs(got[i]! - c.probability);
    if (!(delta <= model.card.goldenTolerance)) {
      throw new ModelValidationError(
        model.cardFile,
        `golden case #${i + 1} '${c.name}' gives ${got[i]}, card expects ${c.probability} (tolerance ${model.card.goldenTolerance})`,
      );
    }
  });
}

/** Opens `onnxFile` for `card`: hash check, session, shape check, golden cases. */
export async function openModel(
  card: ModelCard,
  cardFile: string,
  onnxFile: string,
  options: OpenModelOptions = {},
): Promise<LoadedModel> {
  return openModelBytes(card, cardFile, await readFile(onnxFile), options, onnxFile);
}

/** As openModel, from the ONNX bytes (a registry version kept in the database). */
export async function openModelBytes(
  card: ModelCard,
  cardFile: string,
  bytes: Uint8Array,
  options: OpenModelOptions = {},
  onnxFile = `${card.name}@${card.version}`,
): Promise<LoadedModel> {
  const actual = sha256Hex(bytes);
  if (actual !== card.onnx.sha256)
    throw new ModelIntegrityError(cardFile, onnxFile, card.onnx.sha256, actual);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, options.sessionOptions ?? {});
  } catch (error) {
    throw new ModelValidationError(
      cardFile,
      `onnxruntime cannot load ${onnxFile}: ${(error as Error).message}`,
    );
  }
  const model = new OnnxModel(card, cardFile, actual, session);
  try {
    checkSession(session, card, cardFile);
    if (options.verifyGoldenCases ?? true) await verifyGoldenCases(model);
  } catch (error) {
    await model.close();
    throw error;
  }
  return model;
}

/** Scores `n` rows of `data`: one score per row, or the model's output column (see Scores). */
export type Run = (data: Float32Array, n: number) => Promise<ArrayLike<number> | Scores>;

// The signature type is the registry's (it stores and compares signatures); reading one is here.
export type { OnnxSignature, TensorSignature };

function signatureOf(session: ort.InferenceSession): OnnxSignature {
  const sig = (m: ort.InferenceSession.ValueMetadata): TensorSignature =>
    m.isTensor
      ? { name: m.name, type: m.type, shape: m.shape.map((d) => (typeof d === 'number' ? d : String(d))) }
      : { name: m.name, type: 'non-tensor', shape: [] };
  return { inputs: session.inputMetadata.map(sig), outputs: session.outputMetadata.map(sig) };
}

/** The input/output signature declared in the ONNX graph itself (a session of its own, released). */
export async function readOnnxSignature(bytes: Uint8Array): Promise<OnnxSignature> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    return signatureOf(session);
  } finally {
    await session.release();
  }
}

/** Replays the card's golden cases; the per-case results (validation evidence). */
export async function replayGoldenCases(
  model: LoadedModel,
): Promise<Array<{ name: string; expected: number; got: number; delta: number; pass: boolean }>> {
  const cases = model.card.goldenCases;
  if (cases.length === 0) return [];
  const got = await model.predict(cases.map((c) => c.features));
  return cases.map((c, i) => {
    const delta = Math.abs(got[i]! - c.probability);
    return {
      name: c.name,
      expected: c.probability,
      got: got[i]!,
      delta,
      pass: delta <= model.card.goldenTolerance,
    };
  });
}
