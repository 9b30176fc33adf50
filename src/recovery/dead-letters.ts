import type { Queryable } from '../db/database.js';

export interface DeadLetterInput {
  messageId: string;
  reason: string;
  /** Pipeline step that failed: parse, map, infer, write, or retries (gave up after back-off). */
  stage: string;
  model?: string;
  attempts?: number;
  at: Date;
}

export interface DeadLetter {
  messageId: string;
  controlId: string;
  sender: string;
  channel: string;
  messageType: string | null;
  receivedAt: string;
  failedAt: string;
  stage: string;
  reason: string;
  attempts: number;
  model: string | null;
  resolvedAt: string | null;
  /** False once the raw body was pruned: it can no longer be replayed. */
  replayable: boolean;
}

export interface DeadLetterFilter {
  /** Also list dead letters that a replay has since resolved. */
  includeResolved?: boolean;
  since?: string;
  until?: string;
  model?: string;
  limit?: number;
}

/** Records (or records again) a failed message in the dead-letter store, inside the caller's transaction. */
export async function recordDeadLetter(tx: Queryable, d: DeadLetterInput): Promise<void> {
  await tx.query(
    `insert into dead_letter (message_id, failed_at, stage, reason, attempts, model)
     values ($1, $2, $3, $4, $5, $6)
     on conflict (message_id) do update
       set failed_at = excluded.failed_at, stage = excluded.stage, reason = excluded.reason,
           attempts = dead_letter.attempts + excluded.attempts, model = excluded.model, resolved_at = null`,
    [d.messageId, d.at.toISOString(), d.stage, d.reason, d.attempts ?? 1, d.model ?? null],
  );
}

/** A message that ended well after being dead-lettered (a replay): mark its dead letter resolved. */
export async function resolveDeadLetter(tx: Queryable, messageId: string, at: Date): Promise<void> {
  await tx.query('update dead_letter set resolved_at = $2 where message_id = $1 and resolved_at is null', [
    messageId,
    at.toISOString(),
  ]);
}

interface Row {
  message_id: string;
  control_id: string;
  sender: string;
  channel: string;
  message_type: string | null;
  received_at: Date | string;
  failed_at: Date | string;
  stage: string;
  reason: string;
  attempts: number;
  model: string | null;
  resolved_at: Date | string | null;
  replayable: boolean;
}

const iso = (v: Date | string) => (v instanceof Date ? v : new Date(v)).toISOString();

/** Dead letters, newest failure first. */
export async function listDeadLetters(db: Queryable, f: DeadLetterFilter = {}): Promise<DeadLetter[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, v: unknown) => {
    params.push(v);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (!f.includeResolved) where.push('d.resolved_at is null');
  if (f.since) add('d.failed_at >= ?', f.since);
  if (f.until) add('d.failed_at < ?', f.until);
  if (f.model) add('d.model = ?', f.model);
  params.push(Math.min(Math.max(f.limit ?? 100, 1), 1000));
  const r = await db.query<Row>(
    `select d.message_id, i.control_id, i.sender, i.channel, i.message_type, i.received_at, d.failed_at,
            d.stage, d.reason, d.attempts, d.model, d.resolved_at, (i.raw is not null) as replayable
       from dead_letter d join inbox i using (message_id)
      ${where.length ? `where ${where.join(' and ')}` : ''}
      order by d.failed_at desc, d.message_id
      limit $${params.length}`,
    params,
  );
  return r.rows.map((x) => ({
    messageId: x.message_id,
    controlId: x.control_id,
    sender: x.sender,
    channel: x.channel,
    messageType: x.message_type,
    receivedAt: iso(x.received_at),
    failedAt: iso(x.failed_at),
    stage: x.stage,
    reason: x.reason,
    attempts: Number(x.attempts),
    model: x.model,
    resolvedAt: x.resolved_at ? iso(x.resolved_at) : null,
    replayable: x.replayable,
  }));
}

/** Dead letters no replay has resolved yet (the gateway_dead_letters gauge). */
export async function openDeadLetterCount(db: Queryable): Promise<number> {
  const r = await db.query<{ n: number }>(
    'select count(*)::int as n from dead_letter where resolved_at is null',
  );
  return Number(r.rows[0]?.n ?? 0);
}
