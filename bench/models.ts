/**
 * Inference engine speed, each target beside its baseline in the same run:
 * - micro-batched throughput (single-row requests through the gateway's dynamic batcher) against a
 *   raw onnxruntime-node loop of session.run at the same batch size;
 * - added p99 latency in stream mode at 1,000 requests/s against raw single-row session.run;
 * - BullMQ mini-batch scoring jobs on Redis: two worker processes against one.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import * as ort from 'onnxruntime-node';
import { configSchema } from '../src/config/schema.js';
import {
  type Batcher,
  type BatcherOptions,
  createBatcher,
  streamModel,
} from '../src/models/runtime/batcher.js';
import { sessionOptions } from '../src/models/runtime/inference-thread.js';
import { loadModels } from '../src/models/runtime/loader.js';
import { connectionFrom } from '../src/queue/bullmq.js';

const ROOT = join(import.meta.dirname, '..');
/** The gateway's defaults: models.inferenceThread and models.intraOpThreads. */
const defaults = configSchema.parse({}).models;
/** The onnxruntime session options the gateway gives every session, raw loops included. */
export const SESSION = sessionOptions(defaults.intraOpThreads);

/** A model as the gateway serves it (streamModel, as governed.ts): its session, inference thread and batcher. */
async function gatewayModel(name: string, o: BatcherOptions) {
  const registry = await loadModels(join(ROOT, 'models'), { sessionOptions: SESSION });
  const model = registry.get(name)!;
  const batched = streamModel(model, readFileSync(join(ROOT, 'models', name, 'model.onnx')), {
    batcher: o,
    inferenceThread: defaults.inferenceThread,
    sessionOptions: SESSION,
  });
  const { thread } = batched;
  while (thread && !thread.ready) await new Promise((r) => setTimeout(r, 5));
  const close = async () => {
    await batched.batcher.close();
    await thread?.close();
    await registry.close(); // every model it opened, this one's session included
  };
  return { model, batched, close };
}
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

function rowsFor(width: number, n: number, seed = 1): number[][] {
  let x = seed;
  const rnd = () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
  return Array.from({ length: n }, () => Array.from({ length: width }, () => 50 + rnd() * 80));
}

export interface ThroughputResult {
  model: string;
  batch: number;
  rawRowsPerSec: number;
  gatewayRowsPerSec: number;
  /** The raw loop with onnxruntime's default session options (intra-op threads: one per core). */
  rawDefaultRowsPerSec: number;
  meanBatch: number;
  /** The same clients through a batcher whose "model" answers at once: the batcher's own cost. */
  batcherOnlyRowsPerSec: number;
}

/** Raw loop: session.run on `batch` rows at a time, the tensor built from rows each time. */
async function rawLoop(
  file: string,
  rows: number[][],
  batch: number,
  seconds: number,
  options: ort.InferenceSession.SessionOptions = SESSION,
): Promise<number> {
  const session = await ort.InferenceSession.create(readFileSync(file), options);
  const width = rows[0]!.length;
  const data = new Float32Array(batch * width);
  let done = 0;
  let i = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    for (let r = 0; r < batch; r++) data.set(rows[(i + r) % rows.length]!, r * width);
    await session.run({ features: new ort.Tensor('float32', data, [batch, width]) });
    i += batch;
    done += batch;
  }
  const rate = done / ((performance.now() - t0) / 1000);
  await session.release();
  return rate;
}

/** Best of three alternating runs of each side (the machine is shared with other work). */
export async function benchThroughput(name: string, batch: number, seconds = 1.5): Promise<ThroughputResult> {
  const { model, batched, close } = await gatewayModel(name, {
    maxBatchSize: batch,
    maxQueueDelayMs: 0,
    maxQueue: 1 << 20,
    deadlineMs: 60_000,
  });
  const rows = rowsFor(model.featureNames.length, 4096);
  const file = join(ROOT, 'models', name, 'model.onnx');
  await rawLoop(file, rows, batch, 0.5); // warm-up
  // Clients: 2 x batch single-row requests in flight at all times, each one sent again when answered.
  const clients = async (batcher: Batcher, sec: number) => {
    let done = 0;
    let stop = false;
    const t0 = performance.now();
    const client = async (k: number) => {
      let i = k;
      while (!stop) {
        await batcher.submit(rows[i % rows.length]!);
        done++;
        i += 2 * batch;
      }
    };
    const timer = setTimeout(() => {
      stop = true;
    }, sec * 1000);
    await Promise.all(Array.from({ length: 2 * batch }, (_, k) => client(k)));
    clearTimeout(timer);
    return done / ((performance.now() - t0) / 1000);
  };
  const gatewayRun = () => clients(batched.batcher, seconds);
  let raw = 0;
  let rawDefault = 0;
  let gateway = 0;
  for (let i = 0; i < 3; i++) {
    raw = Math.max(raw, await rawLoop(file, rows, batch, seconds));
    rawDefault = Math.max(rawDefault, await rawLoop(file, rows, batch, seconds, {}));
    gateway = Math.max(gateway, await gatewayRun());
  }
  const s = batched.batcher.stats;
  // A "model" that costs nothing but answers in a later turn of the event loop, as onnxruntime-node does.
  const scores = new Float32Array(batch);
  const answer = () => new Promise<Float32Array>((r) => setImmediate(() => r(scores)));
  const noModel = createBatcher(name, model.featureNames.length, answer, {
    maxBatchSize: batch,
    maxQueueDelayMs: 0,
    maxQueue: 1 << 20,
    deadlineMs: 60_000,
  });
  let batcherOnly = 0;
  for (let i = 0; i < 3; i++) batcherOnly = Math.max(batcherOnly, await clients(noModel, seconds / 3));
  await close();
  return {
    model: name,
    batch,
    rawRowsPerSec: raw,
    rawDefaultRowsPerSec: rawDefault,
    gatewayRowsPerSec: gateway,
    meanBatch: s.rows / s.batches,
    batcherOnlyRowsPerSec: batcherOnly,
  };
}

export interface LatencyResult {
  model: string;
  rate: number;
  rawP50: number;
  rawP99: number;
  gwP50: number;
  gwP99: number;
}

/** Paced single-row requests: `rate` per second for `seconds`; latency of each from its due time. */
async function paced(rate: number, seconds: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const total = rate * seconds;
  const lat: number[] = [];
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  let i = 0;
  while (i < total) {
    const due = t0 + (i * 1000) / rate;
    const now = performance.now();
    if (now < due) {
      await new Promise((r) => setTimeout(r, Math.max(0, due - now - 0.5)));
      continue;
    }
    const k = i++;
    const start = performance.now();
    pending.push(fn(k).then(() => void lat.push(performance.now() - start)));
  }
  await Promise.all(pending);
  return lat;
}

export async function benchLatency(name: string, rate = 1000, seconds = 5): Promise<LatencyResult> {
  const { model, batched, close } = await gatewayModel(name, {
    maxBatchSize: 64,
    maxQueueDelayMs: 0,
    maxQueue: 10_000,
    deadlineMs: 5000,
  });
  const rows = rowsFor(model.featureNames.length, 1024);
  const session = await ort.InferenceSession.create(
    readFileSync(join(ROOT, 'models', name, 'model.onnx')),
    SESSION,
  );
  const width = model.featureNames.length;
  const raw = (i: number) =>
    session.run({
      features: new ort.Tensor('float32', Float32Array.from(rows[i % rows.length]!), [1, width]),
    });
  await paced(rate, 1, raw); // warm-up
  const rawLat = await paced(rate, seconds, raw);
  await paced(rate, 1, (i) => batched.predict([rows[i % rows.length]!]));
  const gwLat = await paced(rate, seconds, (i) => batched.predict([rows[i % rows.length]!]));
  await session.release();
  await close();
  return {
    model: name,
    rate,
    rawP50: pct(rawLat, 50),
    rawP99: pct(rawLat, 99),
    gwP50: pct(gwLat, 50),
    gwP99: pct(gwLat, 99),
  };
}

export interface ScaleResult {
  jobs: number;
  rowsPerJob: number;
  /** Jobs/s through BullMQ on Redis. */
  one: number;
  two: number;
  /** Jobs/s of the same scoring without a queue: what the machine gives one and two processes. */
  localOne: number;
  localTwo: number;
  /** Two processes / one on Redis, for each round (one and two measured back to back). */
  roundRatios: number[];
}

const fork1 = (args: string[]) =>
  fork(join(ROOT, 'bench', 'score-worker.ts'), args, {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
const ready = (w: ReturnType<typeof fork1>) => new Promise((r) => w.once('message', r));

/**
 * BullMQ mini-batch scoring jobs (aki-risk, one onnxruntime thread a process): jobs/s with one and
 * with two worker processes. As a re-scoring job carries patient keys and its worker assembles the
 * features, a job here carries a seed and a row count and its worker builds the rows. The jobs are
 * queued first; the clock runs from the moment every worker is told to start to the last job's
 * finishedOn. Beside it, the control: the same jobs scored by one and by two processes with no
 * queue at all, which is the most this machine gives at that moment. Best of `rounds` alternating
 * runs of each set-up.
 */
export async function benchProcesses(
  redisUrl: string,
  rowsPerJob: number,
  jobs: number,
  rounds = 5,
): Promise<ScaleResult> {
  const viaRedis = async (processes: number) => {
    const prefix = `bench-${randomBytes(4).toString('hex')}`;
    const queue = new Queue('gateway-score', { connection: connectionFrom(redisUrl), prefix });
    for (let i = 0; i < jobs; i += 500)
      await queue.addBulk(
        Array.from({ length: Math.min(500, jobs - i) }, (_, k) => ({
          name: 'score',
          data: { seed: i + k + 1, rows: rowsPerJob },
          // As the gateway's score queue keeps them (src/queue/score-queue.ts).
          opts: { removeOnComplete: { count: 1000 }, removeOnFail: { count: 1000 } },
        })),
      );
    const workers = Array.from({ length: processes }, () => fork1([redisUrl, prefix]));
    await Promise.all(workers.map(ready));
    const t0 = Date.now();
    for (const w of workers) w.send('go');
    // This process looks only now and then (it must not take a core from the workers); the clock
    // stops at the last job's finishedOn, as Redis recorded it.
    for (;;) {
      await new Promise((r) => setTimeout(r, 50));
      const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      if (Object.values(c).every((n) => n === 0)) break;
    }
    const [last] = await queue.getCompleted(0, 0);
    const rate = jobs / (((last?.finishedOn ?? Date.now()) - t0) / 1000);
    for (const w of workers) w.kill('SIGTERM');
    await queue.obliterate({ force: true });
    await queue.close();
    return rate;
  };
  const local = async (processes: number) => {
    const share = Math.ceil(jobs / processes);
    const workers = Array.from({ length: processes }, () => fork1(['local', `${share}:${rowsPerJob}`]));
    await Promise.all(workers.map(ready));
    const done = workers.map((w) => new Promise<number>((r) => w.once('message', (ms) => r(Number(ms)))));
    for (const w of workers) w.send('go');
    const ms = Math.max(...(await Promise.all(done)));
    for (const w of workers) w.kill('SIGTERM');
    return (share * processes) / (ms / 1000);
  };
  await viaRedis(1); // warm-up (Redis, page cache)
  // The machine is shared: alternate the set-ups and keep the best of each.
  const r: ScaleResult = { jobs, rowsPerJob, one: 0, two: 0, localOne: 0, localTwo: 0, roundRatios: [] };
  for (let i = 0; i < rounds; i++) {
    const one = await viaRedis(1);
    const two = await viaRedis(2);
    r.roundRatios.push(two / one);
    r.one = Math.max(r.one, one);
    r.two = Math.max(r.two, two);
    r.localOne = Math.max(r.localOne, await local(1));
    r.localTwo = Math.max(r.localTwo, await local(2));
  }
  return r;
}
