/**
 * A worker process of benchProcesses: a BullMQ worker of mini-batch scoring jobs. Each job names a
 * seed and a row count; the worker assembles the rows (as a re-scoring job assembles feature
 * state) and scores them in one session.run. Starts taking jobs when told 'go'.
 */
import { join } from 'node:path';
import { Worker } from 'bullmq';
import { loadModels } from '../src/models/registry.js';
import { connectionFrom } from '../src/queue/bullmq.js';

const [redisUrl, prefix] = process.argv.slice(2) as [string, string];
const threads = Number(process.env.ORT_THREADS ?? 1);
const registry = await loadModels(join(import.meta.dirname, '..', 'models'), {
  sessionOptions: { intraOpNumThreads: threads, interOpNumThreads: 1 },
});
const model = registry.get('aki-risk')!;
const width = model.featureNames.length;
const worker = new Worker(
  'gateway-score',
  async (job) => {
    const { seed, rows } = job.data as { seed: number; rows: number };
    const data = new Float32Array(rows * width);
    let x = seed;
    for (let i = 0; i < data.length; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      data[i] = 0.5 + (x / 2147483648) * 140;
    }
    return (await model.predict(data, rows)).length;
  },
  { connection: connectionFrom(redisUrl), prefix, concurrency: 4, autorun: false },
);
await worker.waitUntilReady();
process.on('message', (m) => {
  if (m === 'go') void worker.run();
});
process.send?.('ready');
process.on('SIGTERM', () => void worker.close().then(() => process.exit(0)));
