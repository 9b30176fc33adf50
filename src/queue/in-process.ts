import { deferral, type QueueOptions, retryDelay, type WorkQueue } from './work-queue.js';

/** The default queue: an array and a fixed number of workers in this process. */
export function createInProcessQueue(o: QueueOptions): WorkQueue {
  const waiting: Array<{ id: string; attempt: number; traceparent?: string | undefined }> = [];
  const queued = new Set<string>();
  let running = 0;
  let handler: ((id: string, attempt: number, traceparent?: string) => Promise<void>) | undefined;
  let closed = false;
  const timers = new Set<NodeJS.Timeout>();
  let drainedResolve: (() => void) | undefined;

  const pump = () => {
    while (!closed && handler && running < o.concurrency && waiting.length > 0) {
      const job = waiting.shift()!;
      running++;
      const h = handler;
      void h(job.id, job.attempt, job.traceparent)
        .then(
          () => {
            queued.delete(job.id);
          },
          async (err) => {
            const wait = deferral(err);
            if (closed || (wait === undefined && job.attempt >= o.maxAttempts)) {
              queued.delete(job.id);
              if (!closed) await o.onGiveUp(job.id, err).catch(() => {});
              return;
            }
            // A deferral (the FHIR circuit is open) runs again without using an attempt.
            const next = wait === undefined ? job.attempt + 1 : job.attempt;
            const delay = wait ?? retryDelay(job.attempt, o.backoffMs, o.maxBackoffMs);
            const t = setTimeout(() => {
              timers.delete(t);
              waiting.push({ id: job.id, attempt: next, traceparent: job.traceparent });
              pump();
            }, delay);
            timers.add(t);
          },
        )
        .finally(() => {
          running--;
          if (running === 0 && drainedResolve) drainedResolve();
          pump();
        });
    }
  };

  return {
    kind: 'in-process',
    async enqueue(ids, opts) {
      for (const id of ids) {
        if (queued.has(id)) continue;
        queued.add(id);
        waiting.push({ id, attempt: 1, traceparent: opts?.traceparents?.get(id) });
      }
      pump();
    },
    start(h) {
      handler = h;
      pump();
    },
    backlog: () => queued.size,
    async ping() {},
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      if (running > 0) await new Promise<void>((r) => (drainedResolve = r));
    },
  };
}
