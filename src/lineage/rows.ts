import type { LineageEntry } from './chain.js';

/** A `lineage` row as either driver answers it. */
export interface EntryRow {
  shard?: number | string;
  id?: number | string;
  seq: string | number;
  message_id: string;
  stage: string;
  at: Date | string;
  detail: Record<string, unknown> | string;
  prev_hash: string;
  hash: string;
}

export function toEntry(r: EntryRow): LineageEntry {
  return {
    shard: Number(r.shard ?? 0),
    id: Number(r.id ?? r.seq),
    seq: Number(r.seq),
    messageId: r.message_id,
    stage: r.stage,
    at: (r.at instanceof Date ? r.at : new Date(r.at)).toISOString(),
    detail: typeof r.detail === 'string' ? JSON.parse(r.detail) : r.detail,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}
