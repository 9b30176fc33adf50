/**
 * What processing reads and writes in the inbox table: the rows of a batch of stored messages, the
 * status a run ends with (only while the row is still `received`, so a message is finished once),
 * and the queries start-up, `idle()` and the store metrics ask about messages left `received`.
 */
import type { Queryable } from '../db/database.js';

export interface InboxRow {
  message_id: string;
  channel: string;
  sender: string;
  control_id: string;
  raw: Uint8Array | null;
  status: string;
  attempts?: number;
  /** W3C trace context of the span that received it (migration 040); null when tracing was off. */
  traceparent?: string | null;
}

/** The rows of some messages, in the order they were received (one statement for a batch). */
export async function readForProcessing(db: Queryable, messageIds: readonly string[]): Promise<InboxRow[]> {
  if (messageIds.length === 0) return [];
  const r = await db.query<InboxRow>(
    `select message_id, channel, sender, control_id, raw, status, traceparent from inbox
      where message_id = any($1::text[]) order by received_at, message_id`,
    [messageIds],
  );
  return r.rows;
}

/** The trace context a message was received in (null when none was kept or the row is gone). */
export async function traceparentOf(db: Queryable, messageId: string): Promise<string | null> {
  const r = await db.query<{ traceparent: string | null }>(
    'select traceparent from inbox where message_id = $1',
    [messageId],
  );
  return r.rows[0]?.traceparent ?? null;
}

/** How a run ended, as the inbox row records it. */
export interface FinishedRow {
  messageId: string;
  status: 'processed' | 'ignored' | 'failed';
  reason: string | null;
  /** The models its lineage names (empty: the column keeps what it had). */
  models: readonly string[];
  /** Keyed digests of the patient's identifiers (null: the column keeps what it had). */
  patientDigests: readonly string[] | null;
}

/**
 * Records the outcome of each message still `received`, in one statement, inside the caller's
 * transaction; answers the sender of each row it changed, by message id. A message another worker
 * finished first is absent from the answer (its record stays).
 */
export async function markFinished(
  tx: Queryable,
  rows: readonly FinishedRow[],
): Promise<Map<string, { sender: string }>> {
  const out = new Map<string, { sender: string }>();
  if (rows.length === 0) return out;
  // Arrays of arrays cannot be unnested row by row: the models and digests go as JSON text.
  const r = await tx.query<{ message_id: string; sender: string }>(
    `update inbox i set status = v.status, status_reason = v.reason, updated_at = now(),
            models = case when cardinality(v.models) > 0 then v.models else i.models end,
            patient_digests = coalesce(v.digests, i.patient_digests)
       from (select u.id, u.status, u.reason,
                    array(select jsonb_array_elements_text(u.models::jsonb)) as models,
                    case when u.digests is null then null
                         else array(select jsonb_array_elements_text(u.digests::jsonb)) end as digests
               from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
                 as u(id, status, reason, models, digests)) v
      where i.message_id = v.id and i.status = 'received'
      returning i.message_id, i.sender`,
    [
      rows.map((f) => f.messageId),
      rows.map((f) => f.status),
      rows.map((f) => f.reason),
      rows.map((f) => JSON.stringify(f.models)),
      rows.map((f) => (f.patientDigests ? JSON.stringify(f.patientDigests) : null)),
    ],
  );
  for (const row of r.rows) out.set(row.message_id, { sender: row.sender });
  return out;
}

/** Messages stored but not yet processed, oldest first (resumed at start). */
export async function receivedIds(db: Queryable): Promise<string[]> {
  const r = await db.query<{ message_id: string }>(
    `select message_id from inbox where status = 'received' order by received_at`,
  );
  return r.rows.map((x) => x.message_id);
}

/** How many messages wait to be processed. */
export async function receivedCount(db: Queryable): Promise<number> {
  const r = await db.query<{ n: number }>(`select count(*)::int as n from inbox where status = 'received'`);
  return Number(r.rows[0]?.n ?? 0);
}

/** Seconds since the oldest message still waiting was received (0 when none waits). */
export async function oldestReceivedAgeSeconds(db: Queryable): Promise<number> {
  const r = await db.query<{ age: number | null }>(
    `select extract(epoch from (now() - min(received_at)))::float8 as age from inbox where status = 'received'`,
  );
  return Math.max(0, Number(r.rows[0]?.age ?? 0));
}
