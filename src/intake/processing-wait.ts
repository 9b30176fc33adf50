import type { Database } from '../db/database.js';
import { finishedStatuses } from '../inbox/store.js';

export type Outcome = 'processed' | 'ignored' | 'failed' | 'timeout';

/**
 * Waits for the pipeline's outcome of stored messages (ACK timing "after processing"). The pipeline
 * of this process calls notify() when it finishes a message; messages finished by another process
 * (BullMQ workers elsewhere) are found by polling the inbox status, one query for all waiters.
 */
export function createOutcomeWaiter(db: Database, pollMs = 50) {
  const waiters = new Map<string, Array<(o: Outcome) => void>>();
  let timer: NodeJS.Timeout | undefined;
  let checking = false;

  async function check(): Promise<void> {
    if (checking || waiters.size === 0) return;
    checking = true;
    try {
      const rows = await finishedStatuses(db, [...waiters.keys()]);
      for (const row of rows) settle(row.message_id, toOutcome(row.status));
    } catch {
      // The database is away: the next poll tries again; waiters time out on their own.
    } finally {
      checking = false;
    }
    schedule();
  }

  function schedule(): void {
    if (timer || waiters.size === 0) return;
    timer = setTimeout(() => {
      timer = undefined;
      void check();
    }, pollMs);
    timer.unref();
  }

  function settle(id: string, o: Outcome): void {
    const list = waiters.get(id);
    if (!list) return;
    waiters.delete(id);
    for (const fn of list) fn(o);
  }

  return {
    /** Resolves with the message's outcome, or 'timeout'. */
    wait(messageId: string, timeoutMs: number): Promise<Outcome> {
      return new Promise<Outcome>((resolve) => {
        const t = setTimeout(() => {
          const list = waiters.get(messageId);
          const i = list?.indexOf(done) ?? -1;
          if (list && i >= 0) list.splice(i, 1);
          if (list?.length === 0) waiters.delete(messageId);
          resolve('timeout');
        }, timeoutMs);
        const done = (o: Outcome) => {
          clearTimeout(t);
          resolve(o);
        };
        const list = waiters.get(messageId) ?? [];
        list.push(done);
        waiters.set(messageId, list);
        schedule();
      });
    },
    /** The pipeline finished (or gave up on) a message: look at its status now. */
    notify(messageId: string): void {
      if (waiters.has(messageId)) void check();
    },
    close(): void {
      if (timer) clearTimeout(timer);
      for (const id of [...waiters.keys()]) settle(id, 'timeout');
    },
  };
}

export type OutcomeWaiter = ReturnType<typeof createOutcomeWaiter>;

function toOutcome(status: string): Outcome {
  return status === 'processed' || status === 'ignored' ? status : 'failed';
}
