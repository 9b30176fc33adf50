/** A worker process of benchProcesses: scores BullMQ mini-batch jobs with the governed runtime's batcher path. */
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
const worker = new Worker(
  'gateway-score',
  async (job) => {
    const rows = (job.data as { rows: number[][] }).rows;
    const scores = await model.predict(rows);
    return scores.length;
  },
  { connection: connectionFrom(redisUrl), prefix, concurrency: 8 },
);
await worker.waitUntilReady();
process.send?.('ready');
process.on('SIGTERM', () => void worker.close().then(() => process.exit(0)));
