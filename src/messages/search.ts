import type { Queryable } from '../db/database.js';
import { GatewayError } from '../errors/codes.js';

export const MESSAGE_STATUSES = ['received', 'processed', 'ignored', 'failed'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/** What `GET /messages` filters on; every criterion given must hold. */
export interface MessageFilter {
  /** MSH-10 (or FHIR Bundle/resource id). */
  controlId?: string;
  /** `APP|FACILITY` (MSH-3|MSH-4) exactly, or `APP` for every facility of that application. */
  sender?: string;
  /** `ORU^R01` exactly, or `ORU` for every trigger. */
  type?: string;
  status?: MessageStatus[];
  /** Digests of the patient identifier searched for (see patient-digest.ts), never the identifier. */
  patientDigests?: string[];
  model?: string;
  /** received_at >= from, < to (ISO 8601). */
  from?: string;
  to?: string;
  limit?: number;
  cursor?: string;
}

/** A message's lineage in a few fields: what a search row shows without opening it. */
export interface LineageSummary {
  /** Stage names in order (views of the raw text not included). */
  stages: string[];
  last: { stage: string; at: string } | null;
  /** FHIR resources written (`Type/id`), each once. */
  outputs: string[];
  /** Why it failed, for a failed message. */
  reason: string | null;
  deadLetter: { stage: string; failedAt: string; resolvedAt: string | null } | null;
  views: number;
}

export interface MessageRow {
  messageId: string;
  controlId: string;
  sender: string;
  channel: string;
  messageType: string | null;
  status: string;
  statusReason: string | null;
  receivedAt: string;
  finishedAt: string | null;
  replays: number;
  models: string[];
  /** False once the raw body was pruned (nor can it be replayed). */
  rawAvailable: boolean;
  lineage: LineageSummary;
}

export interface MessagePage {
  items: MessageRow[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export const MAX_LIMIT = 500;

interface Row {
  message_id: string;
  control_id: string;
  sender: string;
  channel: string;
  message_type: string | null;
  status: string;
  status_reason: string | null;
  received_at: Date | string;
  received_us: string;
  updated_at: Date | string | null;
  replays: number;
  models: string[] | null;
  raw_available: boolean;
  dl_stage: string | null;
  dl_failed_at: Date | string | null;
  dl_resolved_at: Date | string | null;
}

const iso = (v: Date | string) => (v instanceof Date ? v : new Date(v)).toISOString();

/** The cursor is opaque to callers: the (received_at in microseconds, message_id) of the last row. */
export function encodeCursor(receivedUs: string, messageId: string): string {
  return Buffer.from(JSON.stringify([receivedUs, messageId])).toString('base64url');
}

export function decodeCursor(cursor: string): { us: string; id: string } {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && typeof v[0] === 'string' && /^\d{1,20}$/.test(v[0]) && typeof v[1] === 'string')
      return { us: v[0], id: v[1] };
  } catch {
    // falls through to the error below
  }
  throw new GatewayError('GW_BAD_REQUEST', 'cursor: not a cursor this gateway gave (pass nextCursor as is)');
}

/** The WHERE clause of a filter, with its parameters. */
function whereOf(f: MessageFilter): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (f.controlId) where.push(`i.control_id = ${p(f.controlId)}`);
  if (f.sender)
    where.push(
      f.sender.includes('|') ? `i.sender = ${p(f.sender)}` : `starts_with(i.sender, ${p(`${f.sender}|`)})`,
    );
  if (f.type)
    where.push(
      f.type.includes('^')
        ? `i.message_type = ${p(f.type)}`
        : `starts_with(i.message_type, ${p(`${f.type}^`)})`,
    );
  if (f.status?.length) where.push(`i.status = any(${p(f.status)}::text[])`);
  if (f.patientDigests) where.push(`i.patient_digests && ${p(f.patientDigests)}::text[]`);
  if (f.model) where.push(`i.models @> array[${p(f.model)}::text]`);
  if (f.from) where.push(`i.received_at >= ${p(f.from)}::timestamptz`);
  if (f.to) where.push(`i.received_at < ${p(f.to)}::timestamptz`);
  if (f.cursor) {
    const c = decodeCursor(f.cursor);
    where.push(
      `(i.received_at, i.message_id) < (timestamptz 'epoch' + ${p(c.us)}::bigint * interval '1 microsecond', ${p(c.id)})`,
    );
  }
  return { where, params };
}

/**
 * Messages matching a filter, newest first (received_at, then message id), one page at a time,
 * each with its lineage summary. Two queries a page: the inbox rows, then their lineage entries.
 */
export async function searchMessages(db: Queryable, f: MessageFilter): Promise<MessagePage> {
  const limit = Math.min(Math.max(f.limit ?? 50, 1), MAX_LIMIT);
  const { where, params } = whereOf(f);
  params.push(limit + 1);
  const r = await db.query<Row>(
    `select i.message_id, i.control_id, i.sender, i.channel, i.message_type, i.status, i.status_reason,
            i.received_at, (extract(epoch from i.received_at) * 1000000)::bigint::text as received_us,
            i.updated_at, i.replays, i.models, (i.raw is not null) as raw_available,
            d.stage as dl_stage, d.failed_at as dl_failed_at, d.resolved_at as dl_resolved_at
       from inbox i left join dead_letter d on d.message_id = i.message_id
      ${where.length ? `where ${where.join(' and ')}` : ''}
      order by i.received_at desc, i.message_id desc
      limit $${params.length}`,
    params,
  );
  const rows = r.rows.slice(0, limit);
  const summaries = await lineageSummaries(
    db,
    rows.map((x) => x.message_id),
  );
  const last = rows.at(-1);
  return {
    items: rows.map((x) => toMessageRow(x, summaries.get(x.message_id))),
    nextCursor: r.rows.length > limit && last ? encodeCursor(last.received_us, last.message_id) : null,
  };
}

/** One message as a search row; undefined when it is not stored. */
export async function getMessage(db: Queryable, messageId: string): Promise<MessageRow | undefined> {
  const r = await db.query<Row>(
    `select i.message_id, i.control_id, i.sender, i.channel, i.message_type, i.status, i.status_reason,
            i.received_at, '0' as received_us, i.updated_at, i.replays, i.models,
            (i.raw is not null) as raw_available,
            d.stage as dl_stage, d.failed_at as dl_failed_at, d.resolved_at as dl_resolved_at
       from inbox i left join dead_letter d on d.message_id = i.message_id
      where i.message_id = $1`,
    [messageId],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  return toMessageRow(row, (await lineageSummaries(db, [messageId])).get(messageId));
}

function toMessageRow(x: Row, s: Omit<LineageSummary, 'deadLetter'> | undefined): MessageRow {
  return {
    messageId: x.message_id,
    controlId: x.control_id,
    sender: x.sender,
    channel: x.channel,
    messageType: x.message_type,
    status: x.status,
    statusReason: x.status_reason,
    receivedAt: iso(x.received_at),
    finishedAt: x.updated_at && x.status !== 'received' ? iso(x.updated_at) : null,
    replays: Number(x.replays),
    models: x.models ?? [],
    rawAvailable: x.raw_available,
    lineage: {
      ...(s ?? { stages: [], last: null, outputs: [], reason: null, views: 0 }),
      deadLetter:
        x.dl_stage && x.dl_failed_at
          ? {
              stage: x.dl_stage,
              failedAt: iso(x.dl_failed_at),
              resolvedAt: x.dl_resolved_at ? iso(x.dl_resolved_at) : null,
            }
          : null,
    },
  };
}

/** The lineage summaries of some messages, from one query on lineage (message_id, seq). */
async function lineageSummaries(
  db: Queryable,
  ids: string[],
): Promise<Map<string, Omit<LineageSummary, 'deadLetter'>>> {
  const out = new Map<string, Omit<LineageSummary, 'deadLetter'>>();
  if (ids.length === 0) return out;
  const r = await db.query<{
    message_id: string;
    stage: string;
    at: Date | string;
    outputs: Array<{ resource?: unknown }> | null;
    reason: string | null;
  }>(
    `select message_id, stage, at, detail->'outputs' as outputs, detail->>'reason' as reason
       from lineage where message_id = any($1::text[]) order by message_id, id`,
    [ids],
  );
  for (const e of r.rows) {
    let s = out.get(e.message_id);
    if (!s) {
      s = { stages: [], last: null, outputs: [], reason: null, views: 0 };
      out.set(e.message_id, s);
    }
    if (e.stage === 'viewed') {
      s.views++;
      continue;
    }
    s.stages.push(e.stage);
    s.last = { stage: e.stage, at: iso(e.at) };
    if (e.stage === 'failed') s.reason = e.reason;
    if (e.stage === 'replayed') s.reason = null;
    if (e.stage === 'written' && Array.isArray(e.outputs))
      for (const o of e.outputs)
        if (typeof o.resource === 'string' && !s.outputs.includes(o.resource)) s.outputs.push(o.resource);
  }
  return out;
}
