import { DelayedError, Queue, Worker } from 'bullmq';
import { deferral, type QueueOptions, retryDelay, type WorkQueue } from './work-queue.js';

export const PROCESS_QUEUE = 'gateway-process';

export function connectionFrom(url: string) {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}

/**
 * BullMQ over Redis: jobs keyed by message id (a message is queued once however often it is
 * enqueued), retried with exponential back-off, shared by every gateway process on the same Redis.
 */
export function createBullmqQueue(url: string, o: QueueOptions & { prefix?: string }): WorkQueue {
  const connection = connectionFrom(url);
  const prefix = o.prefix ?? 'ml-gateway';
  const queue = new Queue(PROCESS_QUEUE, { connection, prefix });
  let worker: Worker | undefined;
  let counted = 0;
  const refresh = async () => {
    const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    counted = Object.values(c).reduce((a, b) => a + b, 0);
  };
  const timer = setInterval(() => void refresh().catch(() => {}), 1000);
  timer.unref();

  return {
    kind: 'bullmq',
    async enqueue(ids, opts) {
      counted += ids.length;
      // A job id is kept after the job ends; queuing a message again needs an id of its own, and
      // the same tag twice (the sweeper seeing the same message again) is still one job.
      const again = opts?.again;
      const suffix = (id: string) =>
        again === undefined ? '' : `-${(typeof again === 'function' ? again(id) : again).replace(/:/g, '-')}`;
      await queue.addBulk(
        ids.map((id) => ({
          name: 'process',
          data: opts?.traceparents?.has(id)
            ? { messageId: id, traceparent: opts.traceparents.get(id) }
            : { messageId: id },
          opts: {
            jobId: `${id}${suffix(id)}`,
            attempts: o.maxAttempts,
            backoff: { type: 'custom' },
            removeOnComplete: { count: 1000 },
            removeOnFail: { count: 10_000 },
          },
        })),
      );
    },
    start(handler) {
      worker = new Worker(
        PROCESS_QUEUE,
        async (job, token) => {
          try {
            const data = job.data as { messageId: string; traceparent?: string };
            await handler(data.messageId, job.attemptsMade + 1, data.traceparent);
          } catch (err) {
            const wait = deferral(err);
            if (wait === undefined || !token) throw err;
            // Deferred (the FHIR circuit is open): back to delayed without using an attempt.
            await job.moveToDelayed(Date.now() + wait, token);
            throw new DelayedError();
          }
        },
        {
          connection,
          prefix,
          concurrency: o.concurrency,
          settings: {
            backoffStrategy: (attemptsMade: number) => retryDelay(attemptsMade, o.backoffMs, o.maxBackoffMs),
          },
        },
      );
      worker.on('failed', (job, err) => {
        if (job && job.attemptsMade >= o.maxAttempts) {
          void o.onGiveUp((job.data as { messageId: string }).messageId, err).catch(() => {});
        }
      });
      worker.on('error', () => {});
    },
    backlog: () => counted,
    async ping() {
      await queue.getJobCounts('waiting');
    },
    async close() {
      clearInterval(timer);
      await worker?.close();
      await queue.close();
    },
  };
}
