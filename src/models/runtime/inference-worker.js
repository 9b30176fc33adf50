/**
 * The inference thread of one model version (started by inference-thread.ts): its own
 * onnxruntime session, fed through shared memory, so a batch runs while the event loop assembles
 * the next one and keeps answering sockets.
 *
 * Plain JavaScript on purpose: a worker thread does not inherit the TypeScript loader the
 * gateway was started with (`bin/gateway.js` registers it in the main thread only), and this
 * file needs nothing but onnxruntime-node and the memory layout (inference-layout.js, plain
 * JavaScript too).
 *
 * Protocol, per slot in ring order: the main thread writes n rows and sets SUBMITTED; this thread
 * copies them out (onnxruntime refuses shared memory), runs the session, writes one score a row
 * and sets DONE (or FAILED with the error text), waking the main thread only if it said it sleeps.
 * Between batches it spins for `spinUs` (a batch under load follows within microseconds), then
 * sleeps on the slot's state word.
 */
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import {
  DONE,
  ERROR_BYTES,
  FAILED,
  MAIN_WAITING,
  SLEEPING,
  STOP,
  SUBMITTED,
  slotViews,
  stateWord as state,
} from './inference-layout.js';

const { bytes, sha256, input, output, outputIndex, width, maxRows, slots, sessionOptions, spinUs, shared } =
  workerData;
const { ctrl, slots: views } = slotViews(shared, slots, maxRows, width);

/** Waits until slot `s` is submitted or the thread is told to stop; false when stopping. */
function awaitSlot(s) {
  const at = state(s);
  const until = performance.now() + spinUs / 1000;
  let spins = 0;
  for (let now = Atomics.load(ctrl, at); now !== SUBMITTED; now = Atomics.load(ctrl, at)) {
    if (Atomics.load(ctrl, STOP) === 1) return false;
    if ((++spins & 255) === 0 && performance.now() > until) {
      // Asleep until the slot changes (FREE, or DONE before the main thread has collected it).
      Atomics.store(ctrl, SLEEPING, 1);
      Atomics.wait(ctrl, at, now, 1000);
      Atomics.store(ctrl, SLEEPING, 0);
    }
  }
  return true;
}

async function main() {
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== sha256) throw new Error(`ONNX bytes have sha256 ${actual}, expected ${sha256}`);
  const session = await ort.InferenceSession.create(bytes, sessionOptions);
  /**
   * One private input buffer (onnxruntime refuses shared memory), and per row count a tensor over
   * its first n rows: a view, so the memory stays one batch however many sizes the batches take.
   */
  const rowsIn = new Float32Array(maxRows * width);
  const feeds = new Map();
  const feedOf = (n) => {
    let feed = feeds.get(n);
    if (!feed) {
      const data = rowsIn.subarray(0, n * width);
      feed = { data, feeds: { [input]: new ort.Tensor('float32', data, [n, width]) } };
      feeds.set(n, feed);
    }
    return feed;
  };
  const fetches = [output];
  // A session's first runs allocate; they happen here, not in the first batch (nor in its timing).
  // A model that refuses zeros is not refused for it here: its batches will say why.
  for (const n of [1, maxRows]) await session.run(feedOf(n).feeds, fetches).catch(() => undefined);
  parentPort.postMessage({ ready: true });
  const encoder = new TextEncoder();
  for (let s = 0; awaitSlot(s); s = (s + 1) % slots) {
    const n = ctrl[state(s) + 1];
    const v = views[s];
    let outcome = DONE;
    try {
      const feed = feedOf(n);
      feed.data.set(v.rows.subarray(0, n * width));
      const t0 = performance.now();
      const result = await session.run(feed.feeds, fetches);
      ctrl[state(s) + 2] = Math.round((performance.now() - t0) * 1000);
      const tensor = result[output];
      if (!tensor) throw new Error(`session returned no '${output}'`);
      const stride = tensor.dims.length === 2 ? Number(tensor.dims[1]) : 1;
      const values = tensor.data;
      for (let i = 0; i < n; i++) v.scores[i] = values[i * stride + outputIndex];
    } catch (err) {
      outcome = FAILED;
      v.error.fill(0);
      encoder.encodeInto(String(err?.message ?? err).slice(0, ERROR_BYTES / 4), v.error);
    }
    Atomics.store(ctrl, state(s), outcome);
    if (Atomics.load(ctrl, MAIN_WAITING) === 1) Atomics.notify(ctrl, state(s));
  }
  await session.release();
}

await main();
