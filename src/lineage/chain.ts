import { createHash } from 'node:crypto';

/** One entry of the audit chain, as hashed. */
export interface LineageEntryInput {
  messageId: string;
  stage: string;
  /** ISO 8601 with milliseconds, UTC (Date#toISOString). */
  at: string;
  detail: Record<string, unknown>;
}

export interface LineageEntry extends LineageEntryInput {
  /** Position in its shard's chain, from 1. */
  seq: number;
  prevHash: string;
  hash: string;
  /** The shard whose chain holds it (0 when unset: the single chain of old is shard 0). */
  shard?: number;
  /** Global insertion order across shards (not hashed; checked against seq order per shard). */
  id?: number;
}

export const GENESIS_HASH = '0'.repeat(64);

/**
 * Where shard `shard`'s chain starts: shard 0 keeps the single chain's genesis (so the old chain is
 * its prefix, unchanged); every other shard has one of its own, so a shard's entries cannot be passed
 * off as another's.
 */
export function shardGenesis(shard: number): string {
  return shard === 0 ? GENESIS_HASH : createHash('sha256').update(`lineage-shard:${shard}`).digest('hex');
}

/** JSON with object keys sorted at every depth: the same value always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

export function entryHash(prevHash: string, e: LineageEntryInput & { seq: number }): string {
  return createHash('sha256')
    .update(prevHash)
    .update('\n')
    .update(canonicalJson({ seq: e.seq, messageId: e.messageId, stage: e.stage, at: e.at, detail: e.detail }))
    .digest('hex');
}

/** Chains new entries after the given tail. Pure. */
export function chain(tail: { seq: number; hash: string }, inputs: LineageEntryInput[]): LineageEntry[] {
  let { seq, hash } = tail;
  return inputs.map((e) => {
    seq += 1;
    const prevHash = hash;
    hash = entryHash(prevHash, { ...e, seq });
    return { ...e, seq, prevHash, hash };
  });
}

/** One thing wrong with the chain, named by the sequence number where it shows. */
export interface ChainProblem {
  seq: number;
  /** The shard it is in (absent for shard 0 and for problems of no one shard). */
  shard?: number;
  /** The checkpoint it concerns, when it is about one. */
  checkpoint?: number;
  kind: 'altered' | 'removed' | 'reordered';
  reason: string;
}

export type VerifyResult =
  | { ok: true; entries: number; head: string; headSeq: number }
  | {
      ok: false;
      entries: number;
      /** The first problem (as `problems[0]`). */
      brokenAt: number;
      reason: string;
      problems: ChainProblem[];
      head: string;
      headSeq: number;
    };

/** Where a verification walk stands: the last entry seen (seq and stored hash). */
export interface ChainCursor {
  seq: number;
  hash: string;
}

const MAX_PROBLEMS = 100;

/** The seq an entry was hashed with, when it is not the one it is stored at (it was moved). */
function hashedAs(e: LineageEntry): number | undefined {
  for (let d = 1; d <= 8; d++) {
    for (const s of [e.seq - d, e.seq + d])
      if (s > 0 && entryHash(e.prevHash, { ...e, seq: s }) === e.hash) return s;
  }
  return undefined;
}

/**
 * Walks entries in stored order and checks each: its hash against its content (altered), its
 * sequence number (removed: a gap; reordered: moved to another seq), and its link to the entry
 * before (prevHash). After a problem the walk carries on from the entry as stored, so every
 * altered, removed or reordered entry is named, not only the first (up to 100).
 */
export function verifyChain(
  entries: Iterable<LineageEntry>,
  start: ChainCursor = { seq: 0, hash: GENESIS_HASH },
  problems: ChainProblem[] = [],
  /** The shard walked: problems in shards other than 0 are named with it. */
  shard = 0,
  /** Called with every entry after it is checked (the store checks checkpoints with it). */
  onEntry?: (e: LineageEntry) => void,
): VerifyResult {
  let { seq, hash } = start;
  let n = 0;
  let flagged = false;
  const add = (p: ChainProblem) => {
    flagged = true;
    if (problems.length < MAX_PROBLEMS)
      problems.push(shard === 0 ? p : { ...p, shard, reason: `shard ${shard}: ${p.reason}` });
  };
  for (const e of entries) {
    n++;
    // A broken link right after an entry already named is a consequence, not a second problem.
    const afterProblem = flagged;
    flagged = false;
    const intact = entryHash(e.prevHash, e) === e.hash;
    const moved = intact ? undefined : hashedAs(e);
    if (e.seq <= seq) {
      add({
        seq: e.seq,
        kind: 'reordered',
        reason: `entry ${e.seq} comes after entry ${seq}: entries reordered`,
      });
    } else if (e.seq > seq + 1) {
      const gap = e.seq - seq - 1;
      add({
        seq: seq + 1,
        kind: 'removed',
        reason: `entry ${e.seq} follows entry ${seq}: ${gap === 1 ? `entry ${seq + 1}` : `entries ${seq + 1}-${e.seq - 1}`} removed`,
      });
    }
    if (moved !== undefined) {
      add({
        seq: e.seq,
        kind: 'reordered',
        reason: `entry stored at ${e.seq} was written as entry ${moved}: entries moved (reordered, or renumbered after a removal)`,
      });
    } else if (!intact) {
      add({
        seq: e.seq,
        kind: 'altered',
        reason: `entry ${e.seq} was altered (its content no longer matches its hash)`,
      });
    } else if (e.prevHash !== hash && e.seq === seq + 1 && !afterProblem) {
      add({
        seq: e.seq,
        kind: 'altered',
        reason: `entry ${e.seq} does not link to entry ${seq} (entry ${seq} or its hash was altered, or entries between were removed)`,
      });
    }
    seq = e.seq;
    hash = e.hash;
    onEntry?.(e);
  }
  if (problems.length === 0) return { ok: true, entries: n, head: hash, headSeq: seq };
  const first = problems[0]!;
  return {
    ok: false,
    entries: n,
    brokenAt: first.seq,
    reason: first.reason,
    problems,
    head: hash,
    headSeq: seq,
  };
}

/** One checkpoint: the heads of all non-empty shards at one moment, hash-chained to the one before. */
export interface Checkpoint {
  n: number;
  /** ISO 8601 with milliseconds, UTC. */
  at: string;
  /** Entries in all shards it covers (the sum of the heads' seq). */
  entries: number;
  heads: Array<{ shard: number; seq: number; hash: string }>;
  prevHash: string;
  hash: string;
}

export function checkpointHash(prevHash: string, c: Omit<Checkpoint, 'prevHash' | 'hash'>): string {
  return createHash('sha256')
    .update(prevHash)
    .update('\n')
    .update(canonicalJson({ n: c.n, at: c.at, entries: c.entries, heads: c.heads }))
    .digest('hex');
}
