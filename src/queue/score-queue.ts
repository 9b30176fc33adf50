/**
 * Mini-batch scoring jobs (issue 5): each job scores a group of patients of one model in one
 * session.run. A periodic tick (scheduled re-scoring) splits the active patients into such jobs.
 * With REDIS_URL the jobs and the tick are BullMQ's, shared by every process (the job scheduler
 * fires each tick once for the whole cluster); without it an in-process queue keeps the interface.
 */
import { Queue, Worker } from 'bullmq';
import { connectionFrom } from './bullmq.js';

export const SCORE_QUEUE = 'gateway-score';

export interface ScoreJob {
  model: string;
  /** The tick (ISO time) or batch this group belongs to: part of each output's idempotency key. */
  tick: string;
  patients: string[];
}

export interface ScoreQueue {
  readonly kind: 'in-process' | 'bullmq';
  enqueue(jobs: ScoreJob[]): Promise<void>;
  /** Starts workers: `score` runs a group, `tick` plans a round of re-scoring. */
  start(h: { score(job: ScoreJob): Promise<void>; tick(at: string): Promise<void> }): void;
  /** Runs a tick every intervalMs (once per cluster); 0 = never. */
  schedule(intervalMs: number): Promise<void>;
  /** Groups waiting or running. */
  pending(): Promise<number>;
  close(): Promise<void>;
}

export interface ScoreQueueOptions {
  concurrency: number;
  maxAttempts: number;
  onError(err: unknown): void;
}

export function createInProcessScoreQueue(o: ScoreQueueOptions): ScoreQueue {
  const waiting: Array<{ job: ScoreJob; attempt: number }> = [];
  let running = 0;
  let h: Parameters<ScoreQueue['start']>[0] | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let drained: (() => void) | undefined;
  const pump = () => {
    while (!closed && h && running < o.concurrency && waiting.length > 0) {
      const w = waiting.shift()!;
      running++;
      void h
        .score(w.job)
        .catch((err) => {
          if (w.attempt < o.maxAttempts && !closed) waiting.push({ job: w.job, attempt: w.attempt + 1 });
          else o.onError(err);
        })
        .finally(() => {
          running--;
          if (running === 0) drained?.();
          pump();
        });
    }
  };
  return {
    kind: 'in-process',
    async enqueue(jobs) {
      for (const job of jobs) waiting.push({ job, attempt: 1 });
      pump();
    },
    start(handlers) {
      h = handlers;
      pump();
    },
    async schedule(intervalMs) {
      if (intervalMs <= 0) return;
      timer = setInterval(() => void h?.tick(new Date().toISOString()).catch(o.onError), intervalMs);
      timer.unref();
    },
    async pending() {
      return waiting.length + running;
    },
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      if (running > 0) await new Promise<void>((r) => (drained = r));
    },
  };
}

export function createBullmqScoreQueue(url: string, o: ScoreQueueOptions & { prefix?: string }): ScoreQueue {
  const connection = connectionFrom(url);
  const prefix = o.prefix ?? 'ml-gateway';
  const queue = new Queue(SCORE_QUEUE, { connection, prefix });
  let worker: Worker | undefined;
  return {
    kind: 'bullmq',
    async enqueue(jobs) {
      await queue.addBulk(
        jobs.map((job, i) => ({
          name: 'score',
          data: job,
          opts: {
            // The same group of the same tick is queued once, whoever plans it.
            jobId: `${job.model}-${job.tick}-${i}-${job.patients.length}`.replace(/[^A-Za-z0-9._-]/g, '_'),
            attempts: o.maxAttempts,
            backoff: { type: 'exponential', delay: 500 },
            removeOnComplete: { count: 1000 },
            removeOnFail: { count: 1000 },
          },
        })),
      );
    },
    start(h) {
      worker = new Worker(
        SCORE_QUEUE,
        async (job) => {
          if (job.name === 'tick') return h.tick(new Date(job.timestamp).toISOString());
          return h.score(job.data as ScoreJob);
        },
        { connection, prefix, concurrency: o.concurrency },
      );
      worker.on('failed', (_job, err) => o.onError(err));
      worker.on('error', () => {});
    },
    async schedule(intervalMs) {
      if (intervalMs <= 0) {
        await queue.removeJobScheduler('rescore').catch(() => false);
        return;
      }
      await queue.upsertJobScheduler('rescore', { every: intervalMs }, { name: 'tick', data: {} });
    },
    async pending() {
      const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      return Object.values(c).reduce((a, b) => a + b, 0);
    },
    async close() {
      await worker?.close();
      await queue.close();
    },
  };
}
