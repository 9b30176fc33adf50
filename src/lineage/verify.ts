import type { Database } from '../db/database.js';
import { sql } from '../db/sql.js';
import {
  type ChainProblem,
  type Checkpoint,
  checkpointHash,
  GENESIS_HASH,
  type LineageEntry,
  shardGenesis,
  verifyChain,
} from './chain.js';
import { type EntryRow, toEntry } from './rows.js';

const SQL = sql(import.meta.url, 'verify', [
  'checkpointAnchor',
  'checkpoints',
  'count',
  'orphans',
  'shardHeads',
  'shardPage',
] as const);

/** The head of one non-empty shard, as verified. */
export interface ShardHead {
  shard: number;
  seq: number;
  hash: string;
}

interface Summary {
  entries: number;
  /** Shard 0's head: the chain that continues the single chain of old. */
  head: string;
  headSeq: number;
  /** Every non-empty shard's head. */
  shards: ShardHead[];
  /** Checkpoints verified. */
  checkpoints: number;
}

export type LineageVerifyResult =
  | ({ ok: true } & Summary)
  | ({ ok: false; brokenAt: number; reason: string; problems: ChainProblem[] } & Summary);

const PAGE = 5000;
const MAX_PROBLEMS = 100;

type Claim = { n: number; seq: number; hash: string };

/**
 * Verifies the whole lineage: the checkpoint chain (each checkpoint's hash, its link to the one
 * before, its number, heads that never go back) against its anchor; then every shard's chain in seq
 * order (altered, removed, reordered entries, as the single chain was), each checkpoint's claim on
 * it (the entry it names exists with that hash: a shard cut back below a checkpoint shows even if
 * its head row was rewritten too) and its head row (cut back after the newest checkpoint); entries in
 * no shard's chain; messages with no entry at all.
 */
export async function verifyLineage(db: Database): Promise<LineageVerifyResult> {
  const problems: ChainProblem[] = [];
  const add = (p: ChainProblem) => {
    if (problems.length < MAX_PROBLEMS) problems.push(p);
  };
  const label = (shard: number) => (shard === 0 ? '' : `shard ${shard}: `);

  // 1. Checkpoints.
  const claims = new Map<number, Claim[]>();
  let cp = { n: 0, hash: GENESIS_HASH, entries: 0 };
  let checkpoints = 0;
  const lastSeq = new Map<number, number>();
  for (;;) {
    const r = await db.query<{
      n: string | number;
      at: Date | string;
      entries: string | number;
      heads: Checkpoint['heads'] | string;
      prev_hash: string;
      hash: string;
    }>(SQL.checkpoints, [cp.n, PAGE]);
    for (const row of r.rows) {
      const heads = (
        typeof row.heads === 'string' ? JSON.parse(row.heads) : row.heads
      ) as Checkpoint['heads'];
      const c = {
        n: Number(row.n),
        at: (row.at instanceof Date ? row.at : new Date(row.at)).toISOString(),
        entries: Number(row.entries),
        heads,
      };
      checkpoints++;
      if (c.n !== cp.n + 1)
        add({
          seq: 0,
          checkpoint: c.n,
          kind: c.n > cp.n + 1 ? 'removed' : 'reordered',
          reason: `checkpoint ${c.n} follows checkpoint ${cp.n}: checkpoints ${c.n > cp.n + 1 ? 'removed' : 'reordered'}`,
        });
      if (checkpointHash(row.prev_hash, c) !== row.hash)
        add({
          seq: 0,
          checkpoint: c.n,
          kind: 'altered',
          reason: `checkpoint ${c.n} was altered or forged (its content no longer matches its hash)`,
        });
      else if (row.prev_hash !== cp.hash && c.n === cp.n + 1)
        add({
          seq: 0,
          checkpoint: c.n,
          kind: 'altered',
          reason: `checkpoint ${c.n} does not link to checkpoint ${cp.n} (one of them was altered or forged)`,
        });
      for (const h of heads) {
        const before = lastSeq.get(h.shard) ?? 0;
        if (h.seq < before)
          add({
            seq: h.seq,
            shard: h.shard,
            checkpoint: c.n,
            kind: 'altered',
            reason: `${label(h.shard)}checkpoint ${c.n} records entry ${h.seq}, behind entry ${before} of an earlier checkpoint (forged)`,
          });
        lastSeq.set(h.shard, Math.max(before, h.seq));
        const list = claims.get(h.shard) ?? [];
        claims.set(h.shard, list);
        list.push({ n: c.n, seq: h.seq, hash: h.hash });
      }
      cp = { n: c.n, hash: row.hash, entries: c.entries };
    }
    if (r.rows.length < PAGE) break;
  }
  const anchor = (await db.query<{ seq: string | number; hash: string }>(SQL.checkpointAnchor)).rows[0];
  if (!anchor) add({ seq: 0, kind: 'removed', reason: 'the lineage head anchor was removed' });
  else if (Number(anchor.seq) > cp.n)
    add({
      seq: 0,
      checkpoint: cp.n + 1,
      kind: 'removed',
      reason: `the checkpoints end at ${cp.n} but the head anchor records checkpoint ${Number(anchor.seq)}: newest checkpoints removed`,
    });
  else if (Number(anchor.seq) < cp.n || anchor.hash !== cp.hash)
    add({
      seq: 0,
      checkpoint: cp.n,
      kind: 'altered',
      reason: `checkpoint ${cp.n} (the newest) does not match the head anchor (forged or altered)`,
    });

  // 2. Every shard's chain.
  const heads = (
    await db.query<{ shard: number | string; seq: string | number; hash: string; entries: string | number }>(
      SQL.shardHeads,
    )
  ).rows.map((h) => ({
    shard: Number(h.shard),
    seq: Number(h.seq),
    hash: h.hash,
    entries: Number(h.entries),
  }));
  let total = 0;
  const verified: ShardHead[] = [];
  let head0 = { seq: 0, hash: GENESIS_HASH };
  for (const h of heads) {
    const before = problems.length;
    const own = (claims.get(h.shard) ?? []).sort((a, b) => a.seq - b.seq || a.n - b.n);
    let next = 0;
    let lastId = 0;
    const onEntry = (e: LineageEntry) => {
      while (next < own.length && own[next]!.seq <= e.seq) {
        const c = own[next++]!;
        if (c.seq === e.seq && c.hash !== e.hash)
          add({
            seq: e.seq,
            shard: h.shard,
            checkpoint: c.n,
            kind: 'altered',
            reason: `${label(h.shard)}entry ${e.seq} does not match the hash checkpoint ${c.n} recorded for it`,
          });
      }
      const prev = problems[problems.length - 1];
      const named = prev !== undefined && prev.seq === e.seq && (prev.shard ?? 0) === h.shard;
      if ((e.id ?? 0) <= lastId && !named)
        add({
          seq: e.seq,
          shard: h.shard,
          kind: 'reordered',
          reason: `${label(h.shard)}entry ${e.seq} has insertion number ${e.id}, not after entry ${e.seq - 1}'s ${lastId}`,
        });
      lastId = e.id ?? lastId;
    };
    let cursor = { seq: 0, hash: shardGenesis(h.shard) };
    let walked = 0;
    for (;;) {
      const r = await db.query<EntryRow>(SQL.shardPage, [h.shard, cursor.seq, PAGE]);
      const entries = r.rows.map(toEntry);
      const res = verifyChain(entries, cursor, problems, h.shard, onEntry);
      walked += res.entries;
      cursor = { seq: res.headSeq, hash: res.head };
      if (entries.length < PAGE) break;
    }
    total += walked;
    const broken = problems.length > before;
    // Claims beyond the end: the shard was cut back below a checkpoint.
    const beyond = own.filter((c) => c.seq > cursor.seq);
    if (beyond.length > 0) {
      const top = beyond.reduce((a, c) => (c.seq > a.seq || (c.seq === a.seq && c.n > a.n) ? c : a));
      add({
        seq: cursor.seq + 1,
        shard: h.shard,
        checkpoint: top.n,
        kind: 'removed',
        reason: `${label(h.shard)}the chain ends at entry ${cursor.seq} but checkpoint ${top.n} records entry ${top.seq}: entries removed from the end`,
      });
    }
    // The head row: cut back after the newest checkpoint.
    if (h.seq > cursor.seq) {
      add({
        seq: cursor.seq + 1,
        shard: h.shard,
        kind: 'removed',
        reason: `${label(h.shard)}the chain ends at entry ${cursor.seq} but the head anchor records entry ${h.seq}: ${
          h.seq === cursor.seq + 1 ? `entry ${h.seq}` : `entries ${cursor.seq + 1}-${h.seq}`
        } removed from the end`,
      });
    } else if (h.seq === cursor.seq && h.hash !== cursor.hash) {
      add({
        seq: h.seq,
        shard: h.shard,
        kind: 'altered',
        reason: `${label(h.shard)}entry ${h.seq} (the newest) does not match the head anchor's hash`,
      });
    } else if (!broken && h.entries !== walked) {
      // Only when nothing else showed: a removal in the middle is already named by its gap.
      add({
        seq: cursor.seq,
        shard: h.shard,
        kind: 'removed',
        reason: `${label(h.shard)}${h.entries} entries were appended but ${walked} remain`,
      });
    }
    if (cursor.seq > 0) verified.push({ shard: h.shard, seq: cursor.seq, hash: cursor.hash });
    if (h.shard === 0) head0 = cursor;
  }
  for (const [shard, own] of claims) {
    if (!heads.some((h) => h.shard === shard))
      add({
        seq: 0,
        shard,
        checkpoint: own[0]!.n,
        kind: 'removed',
        reason: `${label(shard)}checkpoint ${own[0]!.n} records this shard but its head row is gone`,
      });
  }

  // 3. Entries in no shard's chain, and messages with none at all.
  const stored = Number((await db.query<{ n: string | number }>(SQL.count)).rows[0]?.n ?? 0);
  if (stored > total)
    add({
      seq: 0,
      kind: 'altered',
      reason: `${stored - total} entries are stored outside every shard's chain`,
    });
  const orphans = await db.query<{ message_id: string }>(SQL.orphans);
  for (const o of orphans.rows)
    add({ seq: 0, kind: 'removed', reason: `message ${o.message_id} is stored but has no lineage entry` });

  const summary: Summary = {
    entries: total,
    head: head0.hash,
    headSeq: head0.seq,
    shards: verified,
    checkpoints,
  };
  if (problems.length === 0) return { ok: true, ...summary };
  const first = problems[0]!;
  return { ok: false, brokenAt: first.seq, reason: first.reason, problems, ...summary };
}
