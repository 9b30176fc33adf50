import type { Database } from '../db/database.js';
import { sql } from '../db/sql.js';
import { chain, GENESIS_HASH, type LineageEntryInput } from '../lineage/chain.js';

/** One message of a group commit, as the inbox stores it. */
export interface FastRow {
  messageId: string;
  channel: string;
  sender: string;
  controlId: string;
  messageType: string;
  sha256: string;
  raw: Buffer;
  receivedAt: string;
  /** W3C trace context of the span that received it (tracing on). */
  traceparent?: string;
  /** Detail of its `received` lineage entry. */
  detail: Record<string, unknown>;
}

/** The commit could not be done in one round trip: use the statement-by-statement path. */
export type FastOutcome = 'stored' | 'fallback';

const q = sql(import.meta.url, 'group-commit', ['acceptRows'] as const);

const UNIQUE_VIOLATION = '23505';
const ATTEMPTS = 3;

/**
 * The group commit in one round trip on PostgreSQL (`inbox_accept_rows`, migration 008): the `received`
 * entries are chained here after the chain tail this process last saw; the database checks under
 * the chain lock that it is still the tail and stores messages and entries in one statement (one
 * implicit transaction, so still durable before the ACK). When another writer moved the tail, the
 * function answers the new tail and the entries are chained again. Where a message is a duplicate
 * (unique violation) or the tail keeps moving, it answers 'fallback' and nothing was stored.
 */
export function createFastCommit(db: Database) {
  let tail: { seq: number; hash: string } | undefined;

  async function commit(rows: readonly FastRow[]): Promise<FastOutcome> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const from = tail ?? { seq: -1, hash: GENESIS_HASH };
      const entries = chain(
        from,
        rows.map(
          (r): LineageEntryInput => ({
            messageId: r.messageId,
            stage: 'received',
            at: r.receivedAt,
            detail: r.detail,
          }),
        ),
      );
      // Commits may overlap: the next batch chains after this one before this one is stored.
      const last = entries[entries.length - 1];
      if (last && from.seq >= 0) tail = { seq: last.seq, hash: last.hash };
      let res: { outcome: string; tail_seq: string | number; tail_hash: string } | undefined;
      try {
        let off = 0;
        const rowsJson = JSON.stringify(
          rows.map((r, i) => {
            const e = entries[i]!;
            const row = {
              id: r.messageId,
              channel: r.channel,
              sender: r.sender,
              control_id: r.controlId,
              type: r.messageType,
              sha256: r.sha256,
              received: r.receivedAt,
              ...(r.traceparent ? { traceparent: r.traceparent } : {}),
              off,
              len: r.raw.length,
              seq: e.seq,
              prev: e.prevHash,
              hash: e.hash,
              detail: e.detail,
            };
            off += r.raw.length;
            return row;
          }),
        );
        res = (
          await db.query<{ outcome: string; tail_seq: string | number; tail_hash: string }>(q.acceptRows, [
            from.seq,
            from.hash,
            rowsJson,
            Buffer.concat(rows.map((r) => r.raw)),
          ])
        ).rows[0];
      } catch (err) {
        tail = undefined;
        if ((err as { code?: string }).code === UNIQUE_VIOLATION) return 'fallback';
        throw err;
      }
      if (!res) return 'fallback';
      if (res.outcome === 'ok') return 'stored';
      tail = { seq: Number(res.tail_seq), hash: res.tail_hash };
    }
    return 'fallback';
  }

  return { commit };
}
