import type { Database } from '../db/database.js';
import { stalledMessages } from '../inbox/store.js';
import type { Logger } from '../observability/logger.js';
import type { WorkQueue } from '../queue/work-queue.js';

/**
 * Every `intervalMs`, queues again the messages still `received` that have waited longer than one
 * interval: a job lost with its process, a give-up that could not be recorded because the database
 * was away, a queue that was down at enqueue. Processing is idempotent, so queuing one twice is safe.
 */
export function startSweeper(o: { db: Database; queue: WorkQueue; logger: Logger; intervalMs: number }) {
  let running = false;
  const sweep = async () => {
    if (running) return;
    running = true;
    try {
      const rows = await stalledMessages(o.db, o.intervalMs / 1000, 5000);
      if (rows.length > 0) {
        o.logger.info({ messages: rows.length }, 'queuing again messages left unprocessed');
        // One sweep job per message and state: a message still waiting behind a long backlog is
        // not queued a second time at every sweep.
        const changed = new Map(rows.map((x) => [x.message_id, new Date(x.changed).getTime().toString(36)]));
        await o.queue.enqueue([...changed.keys()], { again: (id) => `s${changed.get(id)}` });
      }
    } catch (err) {
      o.logger.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'sweep failed; next one retries',
      );
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void sweep(), o.intervalMs);
  timer.unref();
  return { sweep, close: async () => clearInterval(timer) };
}
