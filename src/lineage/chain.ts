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
  seq: number;
  prevHash: string;
  hash: string;
}

export const GENESIS_HASH = '0'.repeat(64);

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

export type VerifyResult =
  | { ok: true; entries: number; head: string }
  | { ok: false; entries: number; brokenAt: number; reason: string };

/**
 * Walks entries in seq order and checks each: sequence without gaps, prevHash equal to the previous
 * entry's hash, and hash equal to the recomputed one. Names the first entry that breaks.
 */
export function verifyChain(entries: Iterable<LineageEntry>, start = { seq: 0, hash: GENESIS_HASH }) {
  let { seq, hash } = start;
  let n = 0;
  for (const e of entries) {
    n++;
    if (e.seq !== seq + 1) {
      return {
        ok: false,
        entries: n,
        brokenAt: e.seq,
        reason: `entry ${e.seq} follows entry ${seq}: ${e.seq > seq + 1 ? 'entries removed' : 'entries reordered'}`,
      } as VerifyResult;
    }
    if (e.prevHash !== hash) {
      return {
        ok: false,
        entries: n,
        brokenAt: e.seq,
        reason: `entry ${e.seq} does not link to entry ${seq} (previous entry altered or removed)`,
      } as VerifyResult;
    }
    const expected = entryHash(e.prevHash, e);
    if (expected !== e.hash) {
      return { ok: false, entries: n, brokenAt: e.seq, reason: `entry ${e.seq} was altered` } as VerifyResult;
    }
    seq = e.seq;
    hash = e.hash;
  }
  return { ok: true, entries: n, head: hash } as VerifyResult;
}
