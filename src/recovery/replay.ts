import { randomUUID } from 'node:crypto';
import type { Database } from '../db/database.js';
import { GatewayError } from '../errors/codes.js';
import { type ReplayCriteria, replayCandidates, resetForReplay, statusCounts } from '../inbox/store.js';
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
    const limit = Math.min(Math.max(filter.limit ?? MAX, 1), MAX);
    const found = await replayCandidates(d.db, { ...criteriaOf(filter), limit: limit + 1 });
    const truncated = found.length > limit;
    const rows = found.slice(0, limit);
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
      const reset = await resetForReplay(tx, eligible, at);
      const ids = reset.map((r) => r.message_id).sort();
      await tx.query(
        `insert into replay_request (replay_id, requested_by, requested_at, filter, message_ids)
         values ($1, $2, $3, $4::jsonb, $5::text[])`,
        [replayId, requestedBy, at, JSON.stringify({ ...filter, dryRun: undefined }), ids],
      );
      await d.lineage.append(
        tx,
        reset.map((r) => ({
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
    const byStatus = await statusCounts(d.db, req.message_ids);
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

/** The inbox criteria of a filter; throws GW_BAD_REQUEST for a filter that selects nothing in particular. */
function criteriaOf(f: ReplayFilter): Omit<ReplayCriteria, 'limit'> {
  const criteria = [f.messageIds?.length, f.from, f.to, f.model].filter(Boolean).length;
  const statuses = f.status?.length ? f.status : REPLAYABLE;
  for (const s of statuses)
    if (!REPLAYABLE.includes(s) && s !== 'received')
      throw new GatewayError('GW_BAD_REQUEST', `status '${s}' is not one of ${REPLAYABLE.join(', ')}`);
  if (criteria === 0 && !f.status?.length)
    throw new GatewayError('GW_BAD_REQUEST', 'a replay needs messageIds, from/to, model or status');
  return {
    ...(f.messageIds?.length ? { ids: f.messageIds } : {}),
    ...(f.from ? { from: f.from } : {}),
    ...(f.to ? { to: f.to } : {}),
    ...(f.model ? { model: f.model } : {}),
    statuses,
  };
}
