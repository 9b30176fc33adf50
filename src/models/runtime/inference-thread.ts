/**
 * An inference thread per model version: the micro-batcher's batches run in an onnxruntime
 * session on a worker thread (inference-worker.js), fed through shared memory. onnxruntime-node
 * runs `session.run` on the thread that calls it, so on the event loop a batch and the assembling
 * of the next one (and every socket) take turns; here they overlap, as in Triton, where the model
 * instances have threads of their own.
 *
 * Two slots, used in ring order (double buffering): while the thread runs one batch, the next
 * waits in the other. The main thread learns that a batch is done by looking at its slot once
 * per event-loop turn while batches are in flight (microseconds, where a thread wake-up costs
 * tens), and after `pollMs` goes to sleep on the slot (Atomics.waitAsync), for long batches.
 */

import { Worker } from 'node:worker_threads';
import type { InferenceSession } from 'onnxruntime-node';
import { GatewayError } from '../../errors/codes.js';
import {
  bytesFor,
  DONE,
  FAILED,
  FREE,
  MAIN_WAITING,
  SLEEPING,
  STOP,
  SUBMITTED,
  slotViews,
  stateWord as state,
} from './inference-layout.js';
import type { LoadedModel, Run } from './onnx-model.js';

/** Atomics.waitAsync: in Node since 16, typed only from lib ES2024 (which Node 20 does not fully have). */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> | string };
  }
).waitAsync;

export interface InferenceThreadOptions {
  /** The ONNX bytes, already checked against the card; the thread checks them again. */
  bytes: Uint8Array;
  sha256: string;
  input: string;
  output: string;
  outputIndex: number;
  width: number;
  /** Most rows in one batch (the batcher's maxBatchSize). */
  maxRows: number;
  sessionOptions?: InferenceSession.SessionOptions;
  /** How long the thread spins for the next batch before it sleeps (default 50 µs). */
  spinUs?: number;
  /** How long the event loop looks for a finished batch each turn before it sleeps on it (default 1 ms). */
  pollMs?: number;
  /** The thread stopped without being closed (a crash): batches go back to the caller's session. */
  onExit?: (err: Error) => void;
}

export interface InferenceThread {
  /** Batches in flight at most (the slots). */
  readonly slots: number;
  /** The thread has its session and takes batches. */
  readonly ready: boolean;
  /** Batches the thread has scored. */
  readonly batches: number;
  /**
   * The shortest time one of the last 8 batches took in the thread's session (ms; 0 before the
   * first): what a small batch of this model costs, whatever else the machine did meanwhile.
   */
  readonly computeMs: number;
  /** Nothing in flight and the thread asleep: a batch now waits for it to wake. */
  readonly idle: boolean;
  /** Scores n rows (n <= maxRows, finite); at most `slots` calls in flight. One score a row. */
  run(data: Float32Array, n: number): Promise<Float32Array>;
  close(): Promise<void>;
}

/** A batch the inference thread could not run: the error onnxruntime gave. */
export class InferenceThreadError extends GatewayError {
  constructor(label: string, message: string) {
    super('MODEL_THREAD', label, message);
    this.name = 'InferenceThreadError';
  }
}

interface Pending {
  resolve(scores: Float32Array): void;
  reject(err: Error): void;
  n: number;
  at: number;
}

export function startInferenceThread(label: string, o: InferenceThreadOptions): InferenceThread {
  const slots = 2;
  const shared = new SharedArrayBuffer(bytesFor(slots, o.maxRows, o.width));
  const { ctrl, slots: views } = slotViews(shared, slots, o.maxRows, o.width);
  const pollMs = o.pollMs ?? 1;
  const decoder = new TextDecoder();

  const worker = new Worker(new URL('./inference-worker.js', import.meta.url), {
    // Plain JavaScript: the thread needs neither the TypeScript loader nor other start-up flags.
    execArgv: [],
    workerData: {
      bytes: o.bytes,
      sha256: o.sha256,
      input: o.input,
      output: o.output,
      outputIndex: o.outputIndex,
      width: o.width,
      maxRows: o.maxRows,
      slots,
      sessionOptions: o.sessionOptions ?? {},
      spinUs: o.spinUs ?? 50,
      shared,
    },
  });
  // Idle, the thread does not keep the process alive; it is held only while the event loop sleeps
  // on a batch (polling keeps the loop alive by itself).
  worker.unref();

  const inFlight: Array<Pending | undefined> = new Array(slots);
  let nextSlot = 0;
  let oldest = 0;
  let count = 0;
  let ready = false;
  let closing = false;
  let dead: Error | undefined;
  let polling = false;
  let sleeping = false;
  let batches = 0;
  const recentMs = new Float64Array(8);
  let drained: (() => void) | undefined;

  worker.on('message', (m: { ready?: boolean }) => {
    if (m.ready && !closing) ready = true;
  });
  const fail = (err: Error) => {
    if (dead) return;
    dead = err;
    ready = false;
    for (let s = 0; s < slots; s++) {
      inFlight[s]?.reject(new InferenceThreadError(label, `inference thread stopped: ${err.message}`));
      inFlight[s] = undefined;
    }
    count = 0;
    drained?.();
    if (!closing) o.onExit?.(err);
  };
  worker.on('error', fail);
  const exited = new Promise<void>((resolve) =>
    worker.on('exit', (code) => {
      fail(new Error(`exited with code ${code}`));
      resolve();
    }),
  );

  /** Settles the finished batches, oldest first; true while some are still running. */
  const collect = (): boolean => {
    while (count > 0) {
      const s = oldest;
      const st = Atomics.load(ctrl, state(s));
      if (st !== DONE && st !== FAILED) return true;
      const p = inFlight[s]!;
      inFlight[s] = undefined;
      const v = views[s]!;
      // Copied out: the slot takes the next batch as soon as it is free.
      const scores = st === DONE ? v.scores.slice(0, p.n) : undefined;
      const error =
        st === FAILED ? decoder.decode(v.error.slice(0, Math.max(1, v.error.indexOf(0)))) : undefined;
      Atomics.store(ctrl, state(s), FREE);
      oldest = (s + 1) % slots;
      count--;
      if (scores) {
        recentMs[batches % recentMs.length] = ctrl[state(s) + 2]! / 1000;
        batches++;
        p.resolve(scores);
      } else p.reject(new InferenceThreadError(label, error ?? 'batch failed'));
    }
    drained?.();
    return false;
  };
  const poll = () => {
    polling = false;
    if (dead || !collect()) return;
    if (performance.now() - inFlight[oldest]!.at < pollMs) {
      polling = true;
      setImmediate(poll);
      return;
    }
    // A long batch: sleep on its state word instead of turning the loop for it.
    if (sleeping) return;
    sleeping = true;
    worker.ref();
    Atomics.store(ctrl, MAIN_WAITING, 1);
    const w = waitAsync(ctrl, state(oldest), SUBMITTED);
    const wake = () => {
      sleeping = false;
      worker.unref();
      Atomics.store(ctrl, MAIN_WAITING, 0);
      poll();
    };
    if (w.async) void (w.value as Promise<string>).then(wake);
    else wake();
  };

  return {
    slots,
    get ready() {
      return ready && !dead;
    },
    get batches() {
      return batches;
    },
    get computeMs() {
      let min = Number.POSITIVE_INFINITY;
      for (let i = 0; i < Math.min(batches, recentMs.length); i++) min = Math.min(min, recentMs[i]!);
      return batches === 0 ? 0 : min;
    },
    get idle() {
      return count === 0 && Atomics.load(ctrl, SLEEPING) === 1;
    },
    run(data, n) {
      if (dead || !ready)
        return Promise.reject(new InferenceThreadError(label, 'inference thread not running'));
      if (count === slots) return Promise.reject(new InferenceThreadError(label, 'more batches than slots'));
      if (n > o.maxRows || data.length < n * o.width)
        return Promise.reject(
          new InferenceThreadError(label, `${n} rows do not fit a batch of ${o.maxRows}`),
        );
      const s = nextSlot;
      nextSlot = (s + 1) % slots;
      views[s]!.rows.set(data.length === n * o.width ? data : data.subarray(0, n * o.width));
      ctrl[state(s) + 1] = n;
      const p = new Promise<Float32Array>((resolve, reject) => {
        inFlight[s] = { resolve, reject, n, at: performance.now() };
      });
      count++;
      Atomics.store(ctrl, state(s), SUBMITTED);
      if (Atomics.load(ctrl, SLEEPING) === 1) Atomics.notify(ctrl, state(s));
      if (!polling && !sleeping) {
        polling = true;
        setImmediate(poll);
      }
      return p;
    },
    async close() {
      closing = true;
      ready = false;
      // Batches already handed over finish first.
      if (count > 0 && !dead) await new Promise<void>((r) => (drained = r));
      Atomics.store(ctrl, STOP, 1);
      for (let s = 0; s < slots; s++) Atomics.notify(ctrl, state(s));
      const timer = setTimeout(() => void worker.terminate(), 2000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The inference thread of an ONNX model opened from `bytes` (its card names input and output). */
export function startModelThread(
  model: LoadedModel,
  bytes: Uint8Array,
  o: Pick<InferenceThreadOptions, 'maxRows' | 'sessionOptions' | 'onExit'>,
): InferenceThread {
  const { input, output, outputIndex } = model.card.onnx;
  return startInferenceThread(`${model.name}@${model.version}`, {
    ...o,
    bytes,
    sha256: model.sha256,
    input,
    output,
    outputIndex,
    width: model.featureNames.length,
  });
}

/** Session options from `models.intraOpThreads` (0: onnxruntime's own choice). */
export function sessionOptions(intraOpThreads: number): InferenceSession.SessionOptions {
  return intraOpThreads > 0 ? { intraOpNumThreads: intraOpThreads, interOpNumThreads: 1 } : {};
}

/** A model whose small batches take longer than this keeps to the thread even when it sleeps. */
const LONG_BATCH_MS = 0.5;

/**
 * Where each batch runs. On the inference thread when it is awake or busy: under load, batches
 * overlap with the event loop. On the event loop when the thread sleeps and nothing runs: a lone
 * request would otherwise wait for the thread to wake (50 µs to a millisecond on a virtual
 * machine), far longer than a small model takes; unless the model's batches take long, which the
 * event loop cannot afford. How long they take is what the thread measures in its session once it
 * has run some (the shortest of its recent batches: the event loop's own measure also counts its
 * waits, and a batch can be slow because the machine was busy); until then the event loop's.
 * On the event loop as well before the thread is up, and if it ever stops.
 */
export function routeBatches(thread: InferenceThread, local: Run): Run {
  let localRunning = 0;
  let localMs = 0;
  const onLoop: Run = async (data, n) => {
    localRunning++;
    const t0 = performance.now();
    try {
      return await local(data, n);
    } finally {
      localRunning--;
      localMs = 0.8 * localMs + 0.2 * (performance.now() - t0);
    }
  };
  return (data, n) => {
    if (!thread.ready) return local(data, n);
    if (thread.idle && localRunning === 0) {
      const batchMs = thread.batches > 0 ? thread.computeMs : localMs;
      if (batchMs < LONG_BATCH_MS) return onLoop(data, n);
    }
    return thread.run(data, n);
  };
}
