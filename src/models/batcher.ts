/**
 * Dynamic micro-batcher, one per model version (as Triton's `dynamic_batching`): single-row
 * requests wait in a bounded queue and run together in one `session.run` of at most
 * `maxBatchSize` rows, after at most `maxQueueDelayMs` (0: whatever arrived in the same turn of
 * the event loop, and everything that queued while the previous batch ran). A full queue refuses
 * at once (back-pressure, with a retry hint); a request whose deadline passes before its batch
 * starts is refused rather than run late.
 */
import type { LoadedModel } from './onnx-model.js';

export interface BatcherOptions {
  maxBatchSize: number;
  maxQueueDelayMs: number;
  /** Requests waiting at most; beyond this, submit() rejects with ModelOverloadedError. */
  maxQueue: number;
  /** Deadline of a request that names none, from submission. */
  deadlineMs: number;
}

export class ModelOverloadedError extends Error {
  readonly code = 'MODEL_OVERLOADED';
  /** Asks the work queue to run the message again later without using an attempt. */
  readonly retryAfterMs: number;
  constructor(model: string, queued: number, retryAfterMs = 50) {
    super(`model ${model}: ${queued} requests already queued; retry later`);
    this.name = 'ModelOverloadedError';
    this.retryAfterMs = retryAfterMs;
  }
}

export class ModelDeadlineError extends Error {
  readonly code = 'MODEL_DEADLINE';
  constructor(model: string, ms: number) {
    super(`model ${model}: request not started within its deadline of ${ms} ms`);
    this.name = 'ModelDeadlineError';
  }
}

export interface BatcherStats {
  batches: number;
  rows: number;
  refused: number;
  expired: number;
}

export interface Batcher {
  /** Scores one row (length = feature count); resolves with its score. */
  submit(row: ArrayLike<number>, deadlineMs?: number): Promise<number>;
  readonly queued: number;
  readonly stats: BatcherStats;
  /** Runs what is queued, then refuses new work. */
  close(): Promise<void>;
}

type Run = (data: Float32Array, n: number) => Promise<ArrayLike<number>>;

export function createBatcher(label: string, width: number, run: Run, o: BatcherOptions): Batcher {
  // Parallel arrays instead of an object per request: the queue is on the hot path.
  let rows: Array<ArrayLike<number>> = [];
  let resolves: Array<(v: number) => void> = [];
  let rejects: Array<(e: unknown) => void> = [];
  let deadlines: number[] = [];
  let running = false;
  let timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  let closed = false;
  let idle: (() => void) | undefined;
  const stats: BatcherStats = { batches: 0, rows: 0, refused: 0, expired: 0 };
  const buffer = new Float32Array(o.maxBatchSize * width);

  const schedule = () => {
    if (timer || running || rows.length === 0) return;
    if (rows.length >= o.maxBatchSize || o.maxQueueDelayMs <= 0) {
      timer = setImmediate(fire);
    } else {
      timer = setTimeout(fire, o.maxQueueDelayMs);
    }
  };
  function fire() {
    timer = undefined;
    void dispatch();
  }

  async function dispatch(): Promise<void> {
    if (running || rows.length === 0) return;
    running = true;
    const take = Math.min(o.maxBatchSize, rows.length);
    const now = performance.now();
    const res: Array<(v: number) => void> = [];
    const rej: Array<(e: unknown) => void> = [];
    let n = 0;
    for (let i = 0; i < take; i++) {
      if (deadlines[i]! < now) {
        stats.expired++;
        rejects[i]!(new ModelDeadlineError(label, o.deadlineMs));
        continue;
      }
      const row = rows[i]!;
      const base = n * width;
      for (let j = 0; j < width; j++) buffer[base + j] = row[j]!;
      res.push(resolves[i]!);
      rej.push(rejects[i]!);
      n++;
    }
    rows = rows.slice(take);
    resolves = resolves.slice(take);
    rejects = rejects.slice(take);
    deadlines = deadlines.slice(take);
    try {
      if (n > 0) {
        stats.batches++;
        stats.rows += n;
        const out = await run(buffer.subarray(0, n * width), n);
        for (let i = 0; i < n; i++) res[i]!(out[i]!);
      }
    } catch (err) {
      for (const r of rej) r(err);
    } finally {
      running = false;
      if (rows.length >= o.maxBatchSize || (rows.length > 0 && o.maxQueueDelayMs <= 0)) void dispatch();
      else schedule();
      if (rows.length === 0 && idle) idle();
    }
  }

  return {
    submit(row, deadlineMs = o.deadlineMs) {
      if (closed) return Promise.reject(new ModelOverloadedError(label, rows.length));
      if (rows.length >= o.maxQueue) {
        stats.refused++;
        return Promise.reject(new ModelOverloadedError(label, rows.length));
      }
      if (row.length !== width)
        return Promise.reject(new RangeError(`model ${label}: expected ${width} values, got ${row.length}`));
      return new Promise<number>((resolve, reject) => {
        rows.push(row);
        resolves.push(resolve);
        rejects.push(reject);
        deadlines.push(performance.now() + deadlineMs);
        if (rows.length >= o.maxBatchSize && !running) {
          if (timer) clearTimeout(timer as NodeJS.Timeout);
          clearImmediate(timer as NodeJS.Immediate);
          timer = undefined;
          void dispatch();
        } else schedule();
      });
    },
    get queued() {
      return rows.length;
    },
    stats,
    async close() {
      closed = true;
      if (rows.length > 0 || running) await new Promise<void>((r) => (idle = r));
    },
  };
}

/**
 * The model with single-row predict() going through a micro-batcher; larger calls (already a
 * batch: mini-batch jobs, V2 requests with many rows) go straight to the session.
 */
export function withBatcher(model: LoadedModel, o: BatcherOptions): LoadedModel & { batcher: Batcher } {
  const batcher = createBatcher(
    `${model.name}@${model.version}`,
    model.featureNames.length,
    (data, n) => model.predict(data, n),
    o,
  );
  return Object.assign(Object.create(model) as LoadedModel, {
    batcher,
    async predict(rows: Float32Array | number[][], n?: number): Promise<number[]> {
      if (Array.isArray(rows) && rows.length === 1 && n === undefined) {
        for (const v of rows[0]!) if (!Number.isFinite(v)) return model.predict(rows);
        return [await batcher.submit(rows[0]!)];
      }
      return model.predict(rows, n);
    },
    async close() {
      await batcher.close();
      await model.close();
    },
  });
}
