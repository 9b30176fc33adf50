import type { Database, Queryable } from '../db/database.js';
import {
  type ChainProblem,
  chain,
  GENESIS_HASH,
  type LineageEntry,
  type LineageEntryInput,
  type VerifyResult,
  verifyChain,
} from './chain.js';

/** Every writer of the chain takes this lock inside its transaction, whichever process it runs in. */
const CHAIN_LOCK = 727_001;

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

interface EntryRow {
  seq: string | number;
  message_id: string;
  stage: string;
  at: Date | string;
  detail: Record<string, unknown> | string;
  prev_hash: string;
  hash: string;
}

function toEntry(r: EntryRow): LineageEntry {
  return {
    seq: Number(r.seq),
    messageId: r.message_id,
    stage: r.stage,
    at: (r.at instanceof Date ? r.at : new Date(r.at)).toISOString(),
    detail: typeof r.detail === 'string' ? JSON.parse(r.detail) : r.detail,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

export interface LineageStore {
  /** Appends entries inside the caller's transaction (holds the chain lock until it commits). */
  append(tx: Queryable, inputs: LineageEntryInput[]): Promise<LineageEntry[]>;
  /** Appends in a transaction of its own. */
  appendNow(inputs: LineageEntryInput[]): Promise<LineageEntry[]>;
  entriesFor(messageId: string): Promise<LineageEntry[]>;
  record(messageId: string): Promise<LineageRecord | undefined>;
  byControlId(controlId: string): Promise<LineageRecord[]>;
  verify(): Promise<VerifyResult>;
}

export function createLineageStore(db: Database): LineageStore {
  async function append(tx: Queryable, inputs: LineageEntryInput[]): Promise<LineageEntry[]> {
    if (inputs.length === 0) return [];
    await tx.query('select pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
    const tail = await tx.query<{ seq: string; hash: string }>(
      'select seq, hash from lineage order by seq desc limit 1',
    );
    const last = tail.rows[0];
    const entries = chain(
      last ? { seq: Number(last.seq), hash: last.hash } : { seq: 0, hash: GENESIS_HASH },
      inputs,
    );
    const params: unknown[] = [];
    const values = entries.map((e, i) => {
      params.push(e.seq, e.messageId, e.stage, e.at, JSON.stringify(e.detail), e.prevHash, e.hash);
      const b = i * 7;
      return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}::jsonb, $${b + 6}, $${b + 7})`;
    });
    await tx.query(
      `insert into lineage (seq, message_id, stage, at, detail, prev_hash, hash) values ${values.join(', ')}`,
      params,
    );
    return entries;
  }

  async function entriesFor(messageId: string): Promise<LineageEntry[]> {
    const r = await db.query<EntryRow>('select * from lineage where message_id = $1 order by seq', [
      messageId,
    ]);
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
    }>(
      `select message_id, channel, control_id, sender, message_type, sha256, received_at, status
         from inbox where message_id = $1`,
      [messageId],
    );
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
      stages: entries.map((e) => ({ ...e.detail, stage: e.stage, at: e.at, seq: e.seq, hash: e.hash })),
      outputs,
    };
  }

  return {
    append,
    appendNow: (inputs) => db.transaction((tx) => append(tx, inputs)),
    entriesFor,
    record,
    async byControlId(controlId) {
      const ids = await db.query<{ message_id: string }>(
        'select message_id from inbox where control_id = $1 order by received_at',
        [controlId],
      );
      const out: LineageRecord[] = [];
      for (const { message_id } of ids.rows) {
        const r = await record(message_id);
        if (r) out.push(r);
      }
      return out;
    },
    async verify() {
      // Walk the chain in pages so a long trail never sits in memory at once.
      const page = 5000;
      const problems: ChainProblem[] = [];
      let cursor = { seq: 0, hash: GENESIS_HASH };
      let total = 0;
      for (;;) {
        const r = await db.query<EntryRow>('select * from lineage where seq > $1 order by seq limit $2', [
          cursor.seq,
          page,
        ]);
        const entries = r.rows.map(toEntry);
        const res = verifyChain(entries, cursor, problems);
        total += res.entries;
        cursor = { seq: res.headSeq, hash: res.head };
        if (entries.length < page) break;
      }
      problems.push(...(await anchorProblems(db, cursor, total, problems.length > 0)));
      if (problems.length === 0) return { ok: true, entries: total, head: cursor.hash, headSeq: cursor.seq };
      const first = problems[0]!;
      return {
        ok: false,
        entries: total,
        brokenAt: first.seq,
        reason: first.reason,
        problems,
        head: cursor.hash,
        headSeq: cursor.seq,
      };
    },
  };
}

/**
 * Checks the chain's end against what the database recorded beside it: the head anchor (kept by a
 * trigger on every insert), so removing the newest entries shows; and the inbox, so a message
 * whose entries were all removed shows.
 */
async function anchorProblems(
  db: Database,
  last: { seq: number; hash: string },
  total: number,
  broken: boolean,
) {
  const problems: ChainProblem[] = [];
  const head = (
    await db.query<{ seq: string | number; hash: string; entries: string | number }>(
      'select seq, hash, entries from lineage_head where id = 1',
    )
  ).rows[0];
  if (!head) {
    problems.push({ seq: last.seq, kind: 'removed', reason: 'the lineage head anchor was removed' });
  } else {
    const seq = Number(head.seq);
    if (seq > last.seq) {
      problems.push({
        seq: last.seq + 1,
        kind: 'removed',
        reason: `the chain ends at entry ${last.seq} but the head anchor records entry ${seq}: ${
          seq === last.seq + 1 ? `entry ${seq}` : `entries ${last.seq + 1}-${seq}`
        } removed from the end`,
      });
    } else if (seq === last.seq && head.hash !== last.hash) {
      problems.push({
        seq,
        kind: 'altered',
        reason: `entry ${seq} (the newest) does not match the head anchor's hash`,
      });
    } else if (!broken && Number(head.entries) !== total) {
      // Only when nothing else showed: a removal in the middle is already named by its gap.
      problems.push({
        seq: last.seq,
        kind: 'removed',
        reason: `${Number(head.entries)} entries were appended but ${total} remain`,
      });
    }
  }
  const orphans = await db.query<{ message_id: string }>(
    `select message_id from inbox i
      where not exists (select 1 from lineage l where l.message_id = i.message_id)
      order by received_at limit 10`,
  );
  for (const o of orphans.rows) {
    problems.push({
      seq: 0,
      kind: 'removed',
      reason: `message ${o.message_id} is stored but has no lineage entry`,
    });
  }
  return problems;
}
