import type { Queryable } from '../../db/database.js';
import { sql, withRows } from '../../db/sql.js';

/**
 * The egress outbox table (`egress_outbox`): the only module with SQL on it
 * (test/db/table-ownership.test.ts). The pump (outbox.ts) claims, settles and releases rows through
 * it; retention and the console's overview ask it for what they prune and count.
 */
const q = sql(import.meta.url, 'outbox-store', [
  'insert',
  'insertRow',
  'claim',
  'next',
  'settle',
  'release',
  'unknownDestinations',
  'pruneBodies',
  'numbers',
] as const);

/** A row as stored: kind, triggering message, destination, hashed order key, control id, sealed body. */
export interface StoredRow {
  kind: string;
  messageId: string;
  destination: string;
  orderKeyHash: string;
  controlId: string;
  body: Buffer;
  detail: Record<string, unknown>;
}

export interface ClaimedRow {
  id: string;
  message_id: string;
  destination: string;
  control_id: string;
  body: Uint8Array | null;
  detail: Record<string, unknown> | string;
  attempts: number;
  /** Trace context of the triggering message: each attempt is a span of its trace. */
  traceparent: string | null;
}

export type RowStatus = 'sent' | 'refused' | 'gave-up' | 'pending';

/** Writes rows (in the caller's transaction, or on their own); a control id already queued is kept. */
export async function insertRows(db: Queryable, rows: readonly StoredRow[]): Promise<void> {
  if (rows.length === 0) return;
  const params = rows.flatMap((r) => [
    r.kind,
    r.messageId,
    r.destination,
    r.orderKeyHash,
    r.controlId,
    r.body,
    JSON.stringify(r.detail),
  ]);
  await db.query(withRows(q.insert, rows.length, 7, q.insertRow), params);
}

/** Leases up to `limit` due rows of `kind` for `destinations` to `owner` for `leaseMs`. */
export async function claimRows(
  db: Queryable,
  kind: string,
  destinations: readonly string[],
  limit: number,
  owner: string,
  leaseMs: number,
): Promise<ClaimedRow[]> {
  return (await db.query<ClaimedRow>(q.claim, [kind, destinations, limit, owner, leaseMs])).rows;
}

/** Rows pending (every process), and ms until the next claimable one is due (null: none). */
export async function nextDue(
  db: Queryable,
  kind: string,
  destinations: readonly string[],
): Promise<{ pending: number; dueMs: number | null }> {
  const r = (await db.query<{ pending: number; due_ms: number | null }>(q.next, [kind, destinations]))
    .rows[0];
  const due = r?.due_ms;
  return { pending: Number(r?.pending ?? 0), dueMs: due === null || due === undefined ? null : Number(due) };
}

/** A row's state after an attempt, if `owner` still holds its lease: false when it does not. */
export async function settleRow(
  tx: Queryable,
  s: {
    id: string;
    owner: string;
    status: RowStatus;
    attempts: number;
    reason: string | null;
    ack: string | null;
    delayMs: number | null;
  },
): Promise<boolean> {
  const u = await tx.query(q.settle, [s.id, s.owner, s.status, s.attempts, s.reason, s.ack, s.delayMs]);
  return u.rowCount === 1;
}

/** Hands back the lease of one row, or (no id) every lease of `owner`. */
export async function releaseLeases(db: Queryable, owner: string, id?: string): Promise<void> {
  await db.query(q.release, [owner, id ?? null]);
}

/** Destinations of pending rows of `kind` that are not among `known`. */
export async function unknownDestinations(
  db: Queryable,
  kind: string,
  known: readonly string[],
): Promise<string[]> {
  return (await db.query<{ destination: string }>(q.unknownDestinations, [kind, known])).rows.map(
    (x) => x.destination,
  );
}

/** Retention: drops the body of at most `batch` rows given up or refused before `cutoff`. */
export async function pruneBodies(
  tx: Queryable,
  cutoff: string,
  batch: number,
): Promise<Array<{ message_id: string; kind: string; destination: string }>> {
  return (
    await tx.query<{ message_id: string; kind: string; destination: string }>(q.pruneBodies, [cutoff, batch])
  ).rows;
}

/** The console's overview: rows by kind, destination and status, and the oldest pending. */
export async function outboxNumbers(db: Queryable) {
  return db.query<{
    kind: string;
    destination: string;
    status: string;
    n: number;
    oldest: Date | string | null;
  }>(q.numbers);
}
