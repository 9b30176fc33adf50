import type { Database } from '../db/database.js';
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

const UNIQUE_VIOLATION = '23505';
const ATTEMPTS = 4;

/**
 * The group commit in one round trip on PostgreSQL (`inbox_accept_rows`, migration 140): the `received`
 * entries are chained here after the tail this process last saw of one lineage shard; the database
 * stores messages and entries in one statement (one implicit transaction, so still durable before
 * the ACK) if that shard is free and its tail unchanged. Otherwise it answers a shard and its tail
 * (the same shard when another writer moved it; a free one when it is held) and the entries are
 * chained again there. Overlapping commits of this process chain on different shards. Where a message
 * is a duplicate (unique violation) or the tails keep moving, it answers 'fallback' and nothing was
 * stored.
 */
export function createFastCommit(db: Database, shards = 16) {
  /** The last tail seen per shard. */
  const tails = new Map<number, { seq: number; hash: string }>();
  /** Shards a commit of this process is writing to now. */
  const busy = new Set<number>();

  function pick(): number {
    for (const s of tails.keys()) if (!busy.has(s)) return s;
    for (let s = 0; s < shards; s++) if (!busy.has(s)) return s;
    return 0;
  }

  async function commit(rows: readonly FastRow[]): Promise<FastOutcome> {
    let shard = pick();
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const from = tails.get(shard) ?? { seq: -1, hash: GENESIS_HASH };
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
      let res:
        | { outcome: string; tail_shard: number | string; tail_seq: string | number; tail_hash: string }
        | undefined;
      busy.add(shard);
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
          await db.query<{
            outcome: string;
            tail_shard: number;
            tail_seq: string | number;
            tail_hash: string;
          }>(
            'select outcome, tail_shard, tail_seq, tail_hash from inbox_accept_rows($1, $2, $3, $4, $5, $6)',
            [shard, shards, from.seq, from.hash, rowsJson, Buffer.concat(rows.map((r) => r.raw))],
          )
        ).rows[0];
      } catch (err) {
        tails.delete(shard);
        if ((err as { code?: string }).code === UNIQUE_VIOLATION) return 'fallback';
        throw err;
      } finally {
        busy.delete(shard);
      }
      if (!res) return 'fallback';
      const answered = Number(res.tail_shard);
      tails.set(answered, { seq: Number(res.tail_seq), hash: res.tail_hash });
      if (res.outcome === 'ok') return 'stored';
      shard = answered;
    }
    return 'fallback';
  }

  return { commit };
}
