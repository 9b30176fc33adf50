/**
 * A worker process of benchProcesses: a BullMQ worker of mini-batch scoring jobs, set up as the
 * gateway's score queue is (src/queue/score-queue.ts: `models.rescore.concurrency` jobs at once).
 * Each job names a seed and a row count; the worker assembles the rows (as a re-scoring job
 * assembles feature state) and scores them in one session.run. Scores 50 jobs' worth of rows before
 * it says 'ready' (warm), and starts taking jobs when told 'go'.
 *
 * `local N` instead of a Redis URL: the same jobs without a queue (N of them, seeds 1..N, this
 * process's share), answering its elapsed ms: what the machine gives the scoring alone.
 */
import { join } from 'node:path';
import { Worker } from 'bullmq';
import { configSchema } from '../src/config/schema.js';
import { sessionOptions } from '../src/models/runtime/inference-thread.js';
import { loadModels } from '../src/models/runtime/loader.js';
import { connectionFrom } from '../src/queue/bullmq.js';

const [target, arg] = process.argv.slice(2) as [string, string];
const defaults = configSchema.parse({}).models;
// The gateway's session options (models.intraOpThreads: one onnxruntime thread a session).
const registry = await loadModels(join(import.meta.dirname, '..', 'models'), {
  sessionOptions: sessionOptions(defaults.intraOpThreads),
});
const model = registry.get('aki-risk')!;
const width = model.featureNames.length;

async function score(seed: number, rows: number): Promise<number> {
  const data = new Float32Array(rows * width);
  let x = seed;
  for (let i = 0; i < data.length; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    data[i] = 0.5 + (x / 2147483648) * 140;
  }
  return (await model.predict(data, rows)).length;
}

// Warm-up before 'ready' (the JIT, onnxruntime's first runs): the clock measures the steady state.
for (let i = 1; i <= 50; i++) await score(1_000_000 + i, 1024);

if (target === 'local') {
  const [jobs, rows] = arg.split(':').map(Number) as [number, number];
  process.on('message', async (m) => {
    if (m !== 'go') return;
    const t0 = performance.now();
    for (let i = 1; i <= jobs; i++) await score(i, rows);
    process.send?.(performance.now() - t0);
  });
  process.send?.('ready');
} else {
  const worker = new Worker(
    'gateway-score',
    async (job) => {
      const { seed, rows } = job.data as { seed: number; rows: number };
      return score(seed, rows);
    },
    {
      connection: connectionFrom(target),
      prefix: arg,
      concurrency: defaults.rescore.concurrency,
      autorun: false,
    },
  );
  await worker.waitUntilReady();
  process.on('message', (m) => {
    if (m === 'go') void worker.run();
  });
  process.send?.('ready');
  process.on('SIGTERM', () => void worker.close().then(() => process.exit(0)));
}
