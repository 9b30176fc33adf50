import { randomUUID } from 'node:crypto';
import type { Database } from '../db/database.js';
import { GatewayError } from '../errors/codes.js';
import type { LineageStore } from '../lineage/store.js';
import type { WorkQueue } from '../queue/work-queue.js';

/** Which messages to process again. At least one criterion; all given must hold. */
export interface ReplayFilter {
  /** Gateway message ids or MSH-10 control ids. */
  messageIds?: string[];
  /** received_at >= from, < to (ISO 8601). */
  from?: string;
  to?: string;
  /** Messages whose lineage names this model (mapped, inferred, failed). */
  model?: string;
  /** Current status: failed, processed or ignored. Default: any of them. */
  status?: string[];
  /** Most messages one replay takes (default and ceiling 10 000). */
  limit?: number;
  /** Only say what would be replayed. */
  dryRun?: boolean;
}

export interface ReplayStarted {
  replayId: string | null;
  matched: number;
  queued: string[];
  skipped: Array<{ messageId: string; code: string; reason: string }>;
  truncated: boolean;
}

export interface ReplayProgress {
  replayId: string;
  requestedBy: string;
  requestedAt: string;
  total: number;
  done: number;
  pending: number;
  byStatus: Record<string, number>;
}

const REPLAYABLE = ['failed', 'processed', 'ignored'];
const MAX = 10_000;

export interface ReplayDeps {
  db: Database;
  lineage: LineageStore;
  queue: WorkQueue;
  now?: () => Date;
  onQueued?(n: number): void;
}

/**
 * Replays stored messages: each keeps its message id; its status goes back to `received`, a
 * `replayed` lineage entry records who asked and what it was before, and it is queued again.
 * Write-back is idempotent (conditional create on the deterministic identifier), so a replay of a
 * message already written leaves one Observation. A pruned message is skipped with GW_RAW_PRUNED.
 */
export function createReplayer(d: ReplayDeps) {
  const now = d.now ?? (() => new Date());

  async function start(filter: ReplayFilter, requestedBy: string): Promise<ReplayStarted> {
    const { where, params } = filterSql(filter);
    const limit = Math.min(Math.max(filter.limit ?? MAX, 1), MAX);
    params.push(limit + 1);
    const found = await d.db.query<{ message_id: string; status: string; pruned: boolean }>(
      `select i.message_id, i.status, (i.raw is null) as pruned from inbox i
        where ${where.join(' and ')} order by i.received_at, i.message_id limit $${params.length}`,
      params,
    );
    const truncated = found.rows.length > limit;
    const rows = found.rows.slice(0, limit);
    const skipped: ReplayStarted['skipped'] = [];
    const eligible: string[] = [];
    for (const r of rows) {
      if (r.pruned) {
        skipped.push({
          messageId: r.message_id,
          code: 'GW_RAW_PRUNED',
          reason: new GatewayError('GW_RAW_PRUNED').message,
        });
      } else if (r.status === 'received') {
        skipped.push({
          messageId: r.message_id,
          code: 'GW_IN_PROGRESS',
          reason: new GatewayError('GW_IN_PROGRESS').message,
        });
      } else eligible.push(r.message_id);
    }
    if (filter.dryRun || eligible.length === 0) {
      return {
        replayId: null,
        matched: rows.length,
        queued: filter.dryRun ? eligible : [],
        skipped,
        truncated,
      };
    }
    const replayId = randomUUID();
    const at = now().toISOString();
    const queued = await d.db.transaction(async (tx) => {
      const reset = await tx.query<{ message_id: string; previous: string }>(
        `with old as (
           select message_id, status from inbox
            where message_id = any($1::text[]) and status <> 'received' and raw is not null
            for update)
         update inbox i set status = 'received', status_reason = null, replays = i.replays + 1, updated_at = $2
           from old where i.message_id = old.message_id
         returning i.message_id, old.status as previous`,
        [eligible, at],
      );
      const ids = reset.rows.map((r) => r.message_id).sort();
      await tx.query(
        `insert into replay_request (replay_id, requested_by, requested_at, filter, message_ids)
         values ($1, $2, $3, $4::jsonb, $5::text[])`,
        [replayId, requestedBy, at, JSON.stringify({ ...filter, dryRun: undefined }), ids],
      );
      await d.lineage.append(
        tx,
        reset.rows.map((r) => ({
          messageId: r.message_id,
          stage: 'replayed',
          at,
          detail: { replayId, by: requestedBy, previousStatus: r.previous },
        })),
      );
      return ids;
    });
    await d.queue.enqueue(queued, { again: `r${replayId}` });
    d.onQueued?.(queued.length);
    return { replayId, matched: rows.length, queued, skipped, truncated };
  }

  async function progress(replayId: string): Promise<ReplayProgress | undefined> {
    const req = (
      await d.db.query<{ requested_by: string; requested_at: Date | string; message_ids: string[] }>(
        'select requested_by, requested_at, message_ids from replay_request where replay_id = $1',
        [replayId],
      )
    ).rows[0];
    if (!req) return undefined;
    const counts = await d.db.query<{ status: string; n: number }>(
      'select status, count(*)::int as n from inbox where message_id = any($1::text[]) group by status',
      [req.message_ids],
    );
    const byStatus: Record<string, number> = {};
    for (const c of counts.rows) byStatus[c.status] = Number(c.n);
    const pending = byStatus.received ?? 0;
    return {
      replayId,
      requestedBy: req.requested_by,
      requestedAt: new Date(req.requested_at).toISOString(),
      total: req.message_ids.length,
      done: req.message_ids.length - pending,
      pending,
      byStatus,
    };
  }

  return { start, progress };
}

export type Replayer = ReturnType<typeof createReplayer>;

function filterSql(f: ReplayFilter): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (f.messageIds?.length) {
    const ids = p(f.messageIds);
    where.push(`(i.message_id = any(${ids}::text[]) or i.control_id = any(${ids}::text[]))`);
  }
  if (f.from) where.push(`i.received_at >= ${p(f.from)}`);
  if (f.to) where.push(`i.received_at < ${p(f.to)}`);
  if (f.model)
    where.push(
      `exists (select 1 from lineage l where l.message_id = i.message_id and l.detail->>'model' = ${p(f.model)})`,
    );
  const criteria = where.length;
  const statuses = f.status?.length ? f.status : REPLAYABLE;
  for (const s of statuses)
    if (!REPLAYABLE.includes(s) && s !== 'received')
      throw new GatewayError('GW_BAD_REQUEST', `status '${s}' is not one of ${REPLAYABLE.join(', ')}`);
  if (criteria === 0 && !f.status?.length)
    throw new GatewayError('GW_BAD_REQUEST', 'a replay needs messageIds, from/to, model or status');
  where.push(`i.status = any(${p(statuses)}::text[])`);
  return { where, params };
}
