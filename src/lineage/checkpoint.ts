import type { Queryable } from '../db/database.js';
import { sql } from '../db/sql.js';
import { type Checkpoint, checkpointHash, GENESIS_HASH } from './chain.js';

const SQL = sql(import.meta.url, 'checkpoint', [
  'checkpointInsert',
  'checkpointLock',
  'checkpointState',
] as const);

type Json<T> = T | string | null;
const parse = <T>(v: Json<T>): T | null => (typeof v === 'string' ? (JSON.parse(v) as T) : v);

/**
 * Checkpoints over all shard heads, written by whichever writer is due (this process appended
 * `every` entries, or `ms` passed since its last checkpoint) inside its own append's transaction:
 * the checkpoint commits or rolls back with that writer's entries. One writer at a time takes the
 * checkpoint lock with a try (never waits); a writer that does not get it skips.
 */
export function createCheckpointer(every: number, ms: number) {
  let since = 0;
  let last = Date.now();

  return {
    /** Counts appended entries; true when a checkpoint is due. */
    appended(n: number): boolean {
      since += n;
      return since >= every || Date.now() - last >= ms;
    },
    async write(tx: Queryable): Promise<Checkpoint | undefined> {
      const got = (await tx.query<{ got: boolean }>(SQL.checkpointLock)).rows[0]?.got;
      if (!got) return undefined;
      // A statement of its own after the lock, so it sees every checkpoint committed before.
      const st = (
        await tx.query<{
          heads: Json<Array<{ shard: number; seq: number | string; hash: string }>>;
          last: Json<{ n: number | string; hash: string; entries: number | string }>;
        }>(SQL.checkpointState)
      ).rows[0];
      since = 0;
      last = Date.now();
      const heads = (parse(st?.heads ?? null) ?? []).map((h) => ({
        shard: Number(h.shard),
        seq: Number(h.seq),
        hash: h.hash,
      }));
      const prev = parse(st?.last ?? null);
      const entries = heads.reduce((n, h) => n + h.seq, 0);
      // Heads only grow: the same total means the same heads, nothing to record.
      if (entries === 0 || (prev && Number(prev.entries) === entries)) return undefined;
      const body = { n: prev ? Number(prev.n) + 1 : 1, at: new Date().toISOString(), entries, heads };
      const prevHash = prev?.hash ?? GENESIS_HASH;
      const c: Checkpoint = { ...body, prevHash, hash: checkpointHash(prevHash, body) };
      await tx.query(SQL.checkpointInsert, [
        c.n,
        c.at,
        c.entries,
        JSON.stringify(c.heads),
        c.prevHash,
        c.hash,
      ]);
      return c;
    },
  };
}
