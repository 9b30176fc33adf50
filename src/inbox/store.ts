import type { Queryable } from '../db/database.js';
import { sql } from '../db/sql.js';

/**
 * The inbox table, read and written for the stages after intake: the sweeper, the wait for an
 * outcome, replay, retention, the console's numbers and the raw text behind a PHI view. The intake's
 * commit is `Inbox` (inbox.ts, with the group commit as its fast strategy), the search is search.ts;
 * no module outside src/inbox/ holds SQL on `inbox` (test/db/table-ownership.test.ts).
 */
const q = sql(import.meta.url, 'store', [
  'stalled',
  'finished',
  'byControlId',
  'raw',
  'replayCandidates',
  'resetForReplay',
  'statusCounts',
  'pruneRaw',
  'receivedPerMinute',
  'finishedPerMinute',
  'endToEnd',
  'byStatus',
  'bySender',
  'backlog',
] as const);

type When = Date | string;

/** Messages still `received` and unchanged for longer than `olderThanSec` (oldest first). */
export async function stalledMessages(
  db: Queryable,
  olderThanSec: number,
  limit: number,
): Promise<Array<{ message_id: string; changed: When }>> {
  return (await db.query<{ message_id: string; changed: When }>(q.stalled, [olderThanSec, limit])).rows;
}

/** The status of those of `ids` that are no longer `received`. */
export async function finishedStatuses(
  db: Queryable,
  ids: readonly string[],
): Promise<Array<{ message_id: string; status: string }>> {
  return (await db.query<{ message_id: string; status: string }>(q.finished, [ids])).rows;
}

/** The message id stored for a sender's control id, if any. */
export async function messageIdOf(
  db: Queryable,
  sender: string,
  controlId: string,
): Promise<string | undefined> {
  return (await db.query<{ message_id: string }>(q.byControlId, [sender, controlId])).rows[0]?.message_id;
}

/** The stored (sealed) raw bodies of `ids`; `raw` is null once pruned. Missing ids are left out. */
export async function rawBodies(
  db: Queryable,
  ids: readonly string[],
): Promise<Array<{ message_id: string; channel: string; raw: Uint8Array | null }>> {
  return (await db.query<{ message_id: string; channel: string; raw: Uint8Array | null }>(q.raw, [ids])).rows;
}

export interface ReplayCriteria {
  /** Message ids or control ids. */
  ids?: readonly string[];
  from?: string;
  to?: string;
  /** A model named in the message's lineage. */
  model?: string;
  statuses: readonly string[];
  limit: number;
}

/** The messages a replay filter matches, oldest first. */
export async function replayCandidates(
  db: Queryable,
  c: ReplayCriteria,
): Promise<Array<{ message_id: string; status: string; pruned: boolean }>> {
  return (
    await db.query<{ message_id: string; status: string; pruned: boolean }>(q.replayCandidates, [
      c.ids?.length ? c.ids : null,
      c.from ?? null,
      c.to ?? null,
      c.model ?? null,
      c.statuses,
      c.limit,
    ])
  ).rows;
}

/** Sets those of `ids` that are finished and still have a body back to `received` (in `tx`). */
export async function resetForReplay(
  tx: Queryable,
  ids: readonly string[],
  at: string,
): Promise<Array<{ message_id: string; previous: string }>> {
  return (await tx.query<{ message_id: string; previous: string }>(q.resetForReplay, [ids, at])).rows;
}

/** How many of `ids` are in each status. */
export async function statusCounts(db: Queryable, ids: readonly string[]): Promise<Record<string, number>> {
  const r = await db.query<{ status: string; n: number }>(q.statusCounts, [ids]);
  const out: Record<string, number> = {};
  for (const c of r.rows) out[c.status] = Number(c.n);
  return out;
}

/** Drops the raw body of at most `batch` finished messages received before `cutoff`; their ids. */
export async function pruneRaw(tx: Queryable, cutoff: string, batch: number, at: string): Promise<string[]> {
  return (await tx.query<{ message_id: string }>(q.pruneRaw, [cutoff, batch, at])).rows.map(
    (x) => x.message_id,
  );
}

/** What the console's overview counts in the inbox since `since` (and its backlog now). */
export async function inboxNumbers(db: Queryable, since: string) {
  const [received, finished, e2e, statuses, senders, backlog] = await Promise.all([
    db.query<{ m: When; n: number }>(q.receivedPerMinute, [since]),
    db.query<{ m: When; status: string; n: number }>(q.finishedPerMinute, [since]),
    db.query<{ n: number; q: number[] | null }>(q.endToEnd, [since]),
    db.query<{ status: string; n: number }>(q.byStatus),
    db.query<{ sender: string; status: string; n: number; last: When }>(q.bySender, [since]),
    db.query<{ n: number; oldest: When | null }>(q.backlog),
  ]);
  return { received, finished, e2e, statuses, senders, backlog };
}
