/**
 * Dynamic micro-batcher, one per model version (as Triton's `dynamic_batching`): single-row
 * requests wait in a bounded queue and run together in one `session.run` of at most
 * `maxBatchSize` rows, after at most `maxQueueDelayMs` (0: whatever arrived in the same turn of
 * the event loop, and everything that queued while the previous batch ran). A full queue refuses
 * at once (back-pressure, with a retry hint); a request whose deadline passes before its batch
 * starts is refused rather than run late.
 *
 * The queue is a FIFO of batch-sized blocks, reused: a request's row is written into its block's
 * Float32Array when it is submitted, so a batch goes to the model as it stands, without a copy,
 * and nothing on the path is O(queue). The clock is read once per block, not per request: a
 * request's deadline counts from the moment its block took its first request (never later than
 * its own arrival, so a deadline can only come early, never late).
 */
import type { InferenceSession } from 'onnxruntime-node';
import { GatewayError } from '../../errors/codes.js';
import { type InferenceThread, routeBatches, startModelThread } from './inference-thread.js';
import { type LoadedModel, ModelInputError, type Run, type Scores } from './onnx-model.js';

export interface BatcherOptions {
  maxBatchSize: number;
  maxQueueDelayMs: number;
  /** Requests waiting at most; beyond this, submit() rejects with ModelOverloadedError. */
  maxQueue: number;
  /** Deadline of a request that names none, from submission. */
  deadlineMs: number;
}

/** What a batcher reports as it works (metrics); every call is per batch or per refusal. */
export interface BatcherObserver {
  /** A batch started: its rows and how long its first (longest-waiting) request waited. */
  batch(rows: number, queueDelayMs: number): void;
  refused(): void;
  expired(n: number): void;
  /** Batches go to an inference thread while `up()` (read at each scrape). */
  thread?(up: () => boolean): void;
  /** The batcher exists (its queue can be read from now on). */
  opened?(batcher: Batcher): void;
  /** The batcher closed: stop reading its queue. */
  closed?(): void;
}

/** Back-pressure (retry class `wait`): asks the work queue to run the message again later without using an attempt. */
export class ModelOverloadedError extends GatewayError {
  declare readonly retryAfterMs: number;
  constructor(model: string, queued: number, retryAfterMs = 50) {
    super('MODEL_OVERLOADED', { retryAfterMs }, model, String(queued));
    this.name = 'ModelOverloadedError';
  }
}

export class ModelDeadlineError extends GatewayError {
  constructor(model: string, ms: number) {
    super('MODEL_DEADLINE', model, String(ms));
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

export type { Run };

type Resolve = (v: number) => void;
type Reject = (e: unknown) => void;

/** Up to maxBatchSize requests: their rows in place, their promises, their deadlines. */
interface Block {
  readonly data: Float32Array;
  readonly resolves: Resolve[];
  readonly rejects: Reject[];
  readonly deadlines: Float64Array;
  n: number;
  /** Clock when the first request arrived. */
  opened: number;
  minDeadline: number;
}

/** Blocks kept for reuse; more are made (and left to the GC) only under a burst. */
const POOL = 4;

export function createBatcher(
  label: string,
  width: number,
  run: Run,
  o: BatcherOptions,
  observer?: BatcherObserver,
  /** Batches in flight at once: 1 on the event loop; the slots of an inference thread. */
  concurrency = 1,
): Batcher {
  const max = o.maxBatchSize;
  const blocks: Block[] = [];
  let head = 0;
  const pool: Block[] = [];
  let queued = 0;
  let inFlight = 0;
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  let closed = false;
  let idle: (() => void) | undefined;
  const stats: BatcherStats = { batches: 0, rows: 0, refused: 0, expired: 0 };
  // The promise executor, shared: it hands back the resolving functions without a closure per request.
  let capturedResolve: Resolve | undefined;
  let capturedReject: Reject | undefined;
  const capture = (res: Resolve, rej: Reject) => {
    capturedResolve = res;
    capturedReject = rej;
  };

  const newBlock = (): Block =>
    pool.pop() ?? {
      data: new Float32Array(max * width),
      resolves: new Array<Resolve>(max),
      rejects: new Array<Reject>(max),
      deadlines: new Float64Array(max),
      n: 0,
      opened: 0,
      minDeadline: 0,
    };
  const release = (b: Block) => {
    b.n = 0;
    b.resolves.fill(undefined as never);
    b.rejects.fill(undefined as never);
    if (pool.length < POOL) pool.push(b);
  };

  const cancelTimers = () => {
    if (timer) clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
    timer = undefined;
    immediate = undefined;
  };
  const fire = () => {
    timer = undefined;
    immediate = undefined;
    dispatch();
  };
  /**
   * Starts the oldest block now if it is due (full, or followed by another, or - after a batch,
   * with no queue delay - it filled while that batch ran), or arms the timer of its queue delay.
   */
  const next = (afterBatch = false) => {
    if (inFlight >= concurrency || queued === 0) return;
    const b = blocks[head]!;
    if (b.n === max || head + 1 < blocks.length || (afterBatch && o.maxQueueDelayMs <= 0)) {
      cancelTimers();
      dispatch();
      return;
    }
    if (timer || immediate) return;
    const wait = o.maxQueueDelayMs <= 0 ? 0 : b.opened + o.maxQueueDelayMs - performance.now();
    if (wait <= 0) immediate = setImmediate(fire);
    else timer = setTimeout(fire, wait);
  };

  /** Drops the requests of `b` whose deadline passed; the others move down, in order. */
  function expire(b: Block, now: number) {
    let k = 0;
    let min = Number.POSITIVE_INFINITY;
    for (let i = 0; i < b.n; i++) {
      const d = b.deadlines[i]!;
      if (d < now) {
        b.rejects[i]!(new ModelDeadlineError(label, o.deadlineMs));
        continue;
      }
      if (k !== i) {
        b.data.copyWithin(k * width, i * width, (i + 1) * width);
        b.resolves[k] = b.resolves[i]!;
        b.rejects[k] = b.rejects[i]!;
        b.deadlines[k] = d;
      }
      if (d < min) min = d;
      k++;
    }
    const gone = b.n - k;
    stats.expired += gone;
    observer?.expired(gone);
    b.n = k;
    b.minDeadline = min;
  }

  function dispatch(): void {
    if (inFlight >= concurrency || queued === 0) return;
    const b = blocks[head]!;
    blocks[head++] = undefined as never;
    if (head === blocks.length) {
      blocks.length = 0;
      head = 0;
    } else if (head > 64 && head * 2 > blocks.length) {
      blocks.splice(0, head);
      head = 0;
    }
    queued -= b.n;
    const now = performance.now();
    if (b.minDeadline < now) expire(b, now);
    const n = b.n;
    if (n === 0) {
      release(b);
      next(true);
      finish();
      return;
    }
    inFlight++;
    stats.batches++;
    stats.rows += n;
    observer?.batch(n, now - b.opened);
    let out: Promise<ArrayLike<number> | Scores>;
    try {
      out = run(n === max ? b.data : b.data.subarray(0, n * width), n);
    } catch (err) {
      out = Promise.reject(err);
    }
    out.then(
      (r) => {
        inFlight--;
        // The next batch goes to the model before these answers wake their callers.
        next(true);
        const resolves = b.resolves;
        if ('stride' in r) {
          const { values, stride, offset } = r;
          for (let i = 0; i < n; i++) resolves[i]!(values[i * stride + offset]!);
        } else for (let i = 0; i < n; i++) resolves[i]!(r[i]!);
        release(b);
        finish();
      },
      (err: unknown) => {
        inFlight--;
        next(true);
        for (let i = 0; i < n; i++) b.rejects[i]!(err);
        release(b);
        finish();
      },
    );
    // With a second slot free (an inference thread), a block already full goes at once.
    if (inFlight < concurrency) next();
  }
  const finish = () => {
    if (queued === 0 && inFlight === 0 && idle) idle();
  };

  const batcher: Batcher = {
    submit(row, deadlineMs = o.deadlineMs) {
      if (closed) return Promise.reject(new ModelOverloadedError(label, queued));
      if (queued >= o.maxQueue) {
        stats.refused++;
        observer?.refused();
        return Promise.reject(new ModelOverloadedError(label, queued));
      }
      if (row.length !== width)
        return Promise.reject(new RangeError(`model ${label}: expected ${width} values, got ${row.length}`));
      let b = blocks.length > head ? blocks[blocks.length - 1]! : undefined;
      const fresh = b === undefined || b.n === max;
      if (fresh) b = newBlock();
      const block = b!;
      const i = block.n;
      const data = block.data;
      const base = i * width;
      for (let j = 0; j < width; j++) {
        data[base + j] = row[j]!;
        // Checked as stored (float32): one bad row is refused alone, never its whole batch.
        const v = data[base + j]!;
        if (v - v !== 0) {
          if (fresh) release(block);
          return Promise.reject(new ModelInputError(label, 'features must be finite numbers'));
        }
      }
      if (fresh) {
        block.opened = performance.now();
        block.minDeadline = Number.POSITIVE_INFINITY;
        blocks.push(block);
      }
      const deadline =
        deadlineMs === o.deadlineMs ? block.opened + deadlineMs : performance.now() + deadlineMs;
      block.deadlines[i] = deadline;
      if (deadline < block.minDeadline) block.minDeadline = deadline;
      const p = new Promise<number>(capture);
      block.resolves[i] = capturedResolve!;
      block.rejects[i] = capturedReject!;
      block.n = i + 1;
      queued++;
      if (inFlight < concurrency && (block.n === max || fresh)) next();
      return p;
    },
    get queued() {
      return queued;
    },
    stats,
    async close() {
      closed = true;
      if (queued > 0 || inFlight > 0) await new Promise<void>((r) => (idle = r));
      observer?.closed?.();
    },
  };
  observer?.opened?.(batcher);
  return batcher;
}

/**
 * The model with single-row predict() going through a micro-batcher; larger calls (already a
 * batch: mini-batch jobs, V2 requests with many rows) go straight to the session.
 */
export function withBatcher(
  model: LoadedModel,
  o: BatcherOptions,
  observer?: BatcherObserver,
  thread?: InferenceThread,
): LoadedModel & { batcher: Batcher; thread: InferenceThread | undefined } {
  // Rows the batcher has checked go to the session as they stand (no second check, no copy).
  const local: Run = model.scoreRows
    ? (data, n) => model.scoreRows!(data, n)
    : (data, n) => model.predict(data, n);
  const run = thread ? routeBatches(thread, local) : local;
  const batcher = createBatcher(
    `${model.name}@${model.version}`,
    model.featureNames.length,
    run,
    o,
    observer,
    thread?.slots ?? 1,
  );
  if (thread) observer?.thread?.(() => thread.ready);
  return Object.assign(Object.create(model) as LoadedModel, {
    batcher,
    thread,
    async predict(rows: Float32Array | number[][], n?: number): Promise<number[]> {
      if (Array.isArray(rows) && rows.length === 1 && n === undefined) {
        for (const v of rows[0]!) if (!Number.isFinite(v)) return model.predict(rows);
        return [await batcher.submit(rows[0]!)];
      }
      return model.predict(rows, n);
    },
    async close() {
      await batcher.close();
      await thread?.close();
      await model.close();
    },
  });
}

export interface StreamOptions {
  batcher: BatcherOptions;
  /** Batches on an inference thread of the model's own (models.inferenceThread). */
  inferenceThread: boolean;
  sessionOptions?: InferenceSession.SessionOptions | undefined;
  observer?: BatcherObserver | undefined;
  /** The inference thread stopped without being closed (batches go back to the event loop). */
  onThreadExit?: ((err: Error) => void) | undefined;
}

/**
 * A model as the gateway serves it in stream mode (governed.ts; the bench builds it the same way):
 * its micro-batcher, and an inference thread opened from the same checked `bytes` when asked.
 */
export function streamModel(model: LoadedModel, bytes: Uint8Array, o: StreamOptions) {
  const thread = o.inferenceThread
    ? startModelThread(model, bytes, {
        maxRows: o.batcher.maxBatchSize,
        sessionOptions: o.sessionOptions,
        onExit: o.onThreadExit,
      })
    : undefined;
  return withBatcher(model, o.batcher, o.observer, thread);
}
