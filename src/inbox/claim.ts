import type { Database } from '../db/database.js';
import type { Logger } from '../observability/logger.js';
import type { WorkQueue } from '../queue/work-queue.js';

/**
 * Work without Redis when intake and processing run in different processes (GATEWAY_ROLE): the
 * inbox table is the queue. An intake process stores and does not queue (storedOnlyQueue); a worker
 * process claims `received` rows in batches (startInboxClaimer) and feeds its in-process queue.
 *
 * A claim stamps the row's `updated_at` (nothing reads it while a row is `received` but the sweeper,
 * which then leaves the row alone as recently changed); another worker may claim it again once
 * `leaseMs` has passed without the message being finished (its worker died). Claims take rows with
 * `for update skip locked`, so two workers claiming at once never get the same rows.
 */

/** Intake role without Redis: nothing is queued in this process; the backlog is the inbox's. */
export function storedOnlyQueue(db: Database, refreshMs = 1000): WorkQueue {
  let counted = 0;
  let added = 0;
  const refresh = async () => {
    const before = added;
    const r = await db.query<{ n: number }>(`select count(*)::int as n from inbox where status = 'received'`);
    // What was stored while the count ran counts too (at worst twice, until the next refresh).
    counted = Number(r.rows[0]?.n ?? 0) + (added - before);
  };
  void refresh().catch(() => {});
  const timer = setInterval(() => void refresh().catch(() => {}), refreshMs);
  timer.unref();
  return {
    kind: 'inbox',
    async enqueue(ids, opts) {
      if (opts?.again === undefined) {
        counted += ids.length;
        added += ids.length;
      }
      // Queued again (a replay, the sweeper): claimable by a worker now, not after the lease.
      if (opts?.again !== undefined && ids.length > 0)
        await db.query(
          `update inbox set updated_at = null where message_id = any($1) and status = 'received'`,
          [ids],
        );
    },
    start() {
      throw new Error('an intake-role process does not process messages');
    },
    backlog: () => counted,
    async ping() {},
    async close() {
      clearInterval(timer);
    },
  };
}

export interface InboxClaimer {
  /** Claims once now (tests, start-up); resolves with how many rows were claimed. */
  claim(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Worker role without Redis: every `intervalMs`, while the local queue has fewer than `target`
 * messages, claims up to the difference (oldest first) and queues them; at once again while a
 * claim comes back full.
 */
export function startInboxClaimer(o: {
  db: Database;
  queue: WorkQueue;
  logger: Logger;
  /** Messages to keep queued locally (a few times processing.concurrency). */
  target: number;
  intervalMs: number;
  leaseMs: number;
}): InboxClaimer {
  let closed = false;
  let running: Promise<number> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const claimOnce = async (): Promise<number> => {
    const room = o.target - o.queue.backlog();
    if (room <= 0) return 0;
    const r = await o.db.query<{ message_id: string }>(
      `update inbox set updated_at = now() where message_id in (
         select message_id from inbox
          where status = 'received'
            and (updated_at is null or updated_at < now() - make_interval(secs => $2))
          order by received_at limit $1
          for update skip locked)
       returning message_id`,
      [room, o.leaseMs / 1000],
    );
    if (r.rows.length > 0) await o.queue.enqueue(r.rows.map((x) => x.message_id));
    return r.rows.length === room ? r.rows.length : -r.rows.length;
  };
  const claim = async () => {
    if (!running)
      running = claimOnce().finally(() => {
        running = undefined;
      });
    return running;
  };
  const loop = async () => {
    if (closed) return;
    let full = false;
    try {
      full = (await claim()) > 0;
    } catch (err) {
      o.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'inbox claim failed; retried');
    }
    if (!closed) timer = setTimeout(() => void loop(), full ? 0 : o.intervalMs);
  };
  void loop();
  return {
    claim: async () => Math.abs(await claim()),
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => {});
    },
  };
}
