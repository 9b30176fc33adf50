import { randomInt } from 'node:crypto';
import type { Database, Queryable } from '../db/database.js';
import { sql } from '../db/sql.js';
import { type Checkpoint, chain, type LineageEntry, type LineageEntryInput, shardGenesis } from './chain.js';
import { createCheckpointer } from './checkpoint.js';
import { type EntryRow, toEntry } from './rows.js';
import { type LineageVerifyResult, verifyLineage } from './verify.js';

const SQL = sql(import.meta.url, 'store', [
  'byControlId',
  'ensureShards',
  'entriesFor',
  'insert',
  'recordSource',
  'takeFreeShard',
  'takeShard',
] as const);

export interface LineageOutput {
  model: string;
  modelVersion: string;
  modelSha256: string;
  mappingVersion: string;
  resource: string;
  [k: string]: unknown;
}

export interface LineageRecord {
  messageId: string;
  status: string;
  source: {
    channel: string;
    controlId: string;
    sender: string;
    messageType: string | null;
    sha256: string;
    receivedAt: string;
  };
  stages: Array<{ stage: string; at: string; seq: number; hash: string; [k: string]: unknown }>;
  outputs: LineageOutput[];
}

export interface LineageOptions {
  /** Chains writers append to at once (`lineage.shards`). */
  shards?: number;
  /** A checkpoint over all shard heads after this many entries appended by this process... */
  checkpointEvery?: number;
  /** ...or on the first append this many seconds after the last one. */
  checkpointSeconds?: number;
}

export interface LineageStore {
  /** How many shards appends spread over. */
  readonly shards: number;
  /**
   * Appends a batch of entries inside the caller's transaction, in one multi-row insert into one
   * shard, which the transaction holds until it commits (later appends in it use the same shard).
   */
  append(tx: Queryable, inputs: LineageEntryInput[]): Promise<LineageEntry[]>;
  /** Appends in a transaction of its own. */
  appendNow(inputs: LineageEntryInput[]): Promise<LineageEntry[]>;
  /** Records a checkpoint over all shard heads now (when anything was appended since the last). */
  checkpoint(): Promise<Checkpoint | undefined>;
  entriesFor(messageId: string): Promise<LineageEntry[]>;
  record(messageId: string): Promise<LineageRecord | undefined>;
  byControlId(controlId: string): Promise<LineageRecord[]>;
  verify(): Promise<LineageVerifyResult>;
}

interface HeadRow {
  shard: number | string;
  seq: number | string;
  hash: string;
}

export function createLineageStore(db: Database, opts: LineageOptions = {}): LineageStore {
  const shards = Math.max(1, Math.floor(opts.shards ?? 16));
  const checkpointer = createCheckpointer(
    opts.checkpointEvery ?? 1000,
    (opts.checkpointSeconds ?? 10) * 1000,
  );
  /** The shard each open transaction holds (a transaction's Queryable lives as long as it does). */
  const held = new WeakMap<Queryable, number>();
  let ensured: Promise<void> | undefined;

  /** The head rows of shards 0..shards-1 exist (on PGlite, one connection: inside the caller's tx). */
  function ensureShards(q: Queryable): Promise<void> {
    const ids = Array.from({ length: shards }, (_, i) => i);
    ensured ??= q.query(SQL.ensureShards, [ids, ids.map(shardGenesis)]).then(
      () => undefined,
      (err) => {
        ensured = undefined;
        throw err;
      },
    );
    return ensured;
  }

  async function takeShard(tx: Queryable): Promise<HeadRow> {
    const mine = held.get(tx);
    if (mine !== undefined) return (await tx.query<HeadRow>(SQL.takeShard, [mine])).rows[0]!;
    await ensureShards(db.kind === 'postgres' ? db : tx);
    // The lowest shard nobody holds; when every one is held, wait for one at random.
    const head =
      (await tx.query<HeadRow>(SQL.takeFreeShard, [shards])).rows[0] ??
      (await tx.query<HeadRow>(SQL.takeShard, [randomInt(shards)])).rows[0] ??
      (await tx.query<HeadRow>(SQL.takeShard, [0])).rows[0];
    if (!head) throw new Error('lineage: no shard head rows (migration 140 not applied?)');
    held.set(tx, Number(head.shard));
    return head;
  }

  async function append(tx: Queryable, inputs: LineageEntryInput[]): Promise<LineageEntry[]> {
    if (inputs.length === 0) return [];
    const head = await takeShard(tx);
    const shard = Number(head.shard);
    const entries = chain({ seq: Number(head.seq), hash: head.hash }, inputs).map(
      (e): LineageEntry => ({ ...e, shard }),
    );
    const r = await tx.query<{ id: string | number; seq: string | number }>(SQL.insert, [
      shard,
      entries.map((e) => e.seq),
      entries.map((e) => e.messageId),
      entries.map((e) => e.stage),
      entries.map((e) => e.at),
      entries.map((e) => JSON.stringify(e.detail)),
      entries.map((e) => e.prevHash),
      entries.map((e) => e.hash),
    ]);
    const ids = new Map(r.rows.map((x) => [Number(x.seq), Number(x.id)]));
    for (const e of entries) e.id = ids.get(e.seq);
    if (checkpointer.appended(entries.length)) await checkpointer.write(tx);
    return entries;
  }

  async function entriesFor(messageId: string): Promise<LineageEntry[]> {
    const r = await db.query<EntryRow>(SQL.entriesFor, [messageId]);
    return r.rows.map(toEntry);
  }

  async function record(messageId: string): Promise<LineageRecord | undefined> {
    const m = await db.query<{
      message_id: string;
      channel: string;
      control_id: string;
      sender: string;
      message_type: string | null;
      sha256: string;
      received_at: Date | string;
      status: string;
    }>(SQL.recordSource, [messageId]);
    const row = m.rows[0];
    if (!row) return undefined;
    const entries = await entriesFor(messageId);
    const outputs: LineageOutput[] = [];
    for (const e of entries) {
      const outs = e.detail.outputs;
      if (e.stage === 'written' && Array.isArray(outs)) outputs.push(...(outs as LineageOutput[]));
    }
    return {
      messageId: row.message_id,
      status: row.status,
      source: {
        channel: row.channel,
        controlId: row.control_id,
        sender: row.sender,
        messageType: row.message_type,
        sha256: row.sha256,
        receivedAt: (row.received_at instanceof Date
          ? row.received_at
          : new Date(row.received_at)
        ).toISOString(),
      },
      stages: entries.map((e) => ({
        ...e.detail,
        stage: e.stage,
        at: e.at,
        seq: e.seq,
        hash: e.hash,
        ...(e.shard ? { shard: e.shard } : {}),
      })),
      outputs,
    };
  }

  return {
    shards,
    append,
    appendNow: (inputs) => db.transaction((tx) => append(tx, inputs)),
    checkpoint: () =>
      db.transaction(async (tx) => {
        await ensureShards(db.kind === 'postgres' ? db : tx);
        return checkpointer.write(tx);
      }),
    entriesFor,
    record,
    async byControlId(controlId) {
      const ids = await db.query<{ message_id: string }>(SQL.byControlId, [controlId]);
      const out: LineageRecord[] = [];
      for (const { message_id } of ids.rows) {
        const r = await record(message_id);
        if (r) out.push(r);
      }
      return out;
    },
    verify: () => verifyLineage(db),
  };
}
