import type { Database, Queryable } from '../db/database.js';
import { pruneRaw } from '../inbox/store.js';
import type { LineageStore } from '../lineage/store.js';
import type { Logger } from '../observability/logger.js';

/** Runs `step` (one transaction pruning at most `batch` rows) until a run prunes fewer; answers the total. */
async function inBatches(
  db: Database,
  batch: number,
  step: (tx: Queryable) => Promise<number>,
): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await db.transaction(step);
    total += n;
    if (n < batch) return total;
  }
}

/**
 * Prunes raw bodies received more than `days` days ago: `raw` becomes null and `raw_pruned_at` is
 * set; the SHA-256, the inbox row and the lineage stay, and a `pruned` lineage entry records it.
 * Messages still waiting to be processed are kept. Works in batches; answers how many it pruned.
 */
export async function pruneRawMessages(
  db: Database,
  lineage: LineageStore,
  days: number,
  now = new Date(),
  batch = 500,
): Promise<number> {
  if (days <= 0) return 0;
  const cutoff = new Date(now.getTime() - days * 86_400_000).toISOString();
  return inBatches(db, batch, async (tx) => {
    const ids = await pruneRaw(tx, cutoff, batch, now.toISOString());
    await lineage.append(
      tx,
      [...ids].sort().map((messageId) => ({
        messageId,
        stage: 'pruned',
        at: now.toISOString(),
        detail: { retentionDays: days, reason: 'raw message pruned after the retention period' },
      })),
    );
    return ids.length;
  });
}

/**
 * Prunes the HL7 text of outbound messages (ORU results, application ACKs) that were given up or
 * refused more than `days` days ago: `body` becomes null (a delivered row's is dropped at once),
 * the row and its attempts in the lineage stay, and an `egress-pruned` entry records it.
 */
export async function pruneEgressBodies(
  db: Database,
  lineage: LineageStore,
  days: number,
  now = new Date(),
  batch = 500,
): Promise<number> {
  if (days <= 0) return 0;
  const cutoff = new Date(now.getTime() - days * 86_400_000).toISOString();
  return inBatches(db, batch, async (tx) => {
    // egress_outbox is the outbox store's (writeback/hl7/outbox-store.ts, pruneBodies), a sibling
    // of this layer that the import rules keep out of reach: same statement, until the pruner is
    // handed the outbox's step by whoever starts it.
    const { rows } = await tx.query<{ message_id: string; kind: string; destination: string }>(
      `with p as (
         select id from egress_outbox
          where body is not null and status in ('gave-up', 'refused') and updated_at < $1
          order by id limit $2 for update skip locked)
       update egress_outbox o set body = null from p
        where o.id = p.id returning o.message_id, o.kind, o.destination`,
      [cutoff, batch],
    );
    await lineage.append(
      tx,
      [...rows]
        .sort((a, b) => a.message_id.localeCompare(b.message_id))
        .map((x) => ({
          messageId: x.message_id,
          stage: 'egress-pruned',
          at: now.toISOString(),
          detail: {
            kind: x.kind,
            destination: x.destination,
            retentionDays: days,
            reason: 'undelivered outbound message text pruned after the retention period',
          },
        })),
    );
    return rows.length;
  });
}

/**
 * Runs pruneRawMessages and pruneEgressBodies every `intervalMs` (and once at start). With
 * `claim`, a run happens only when it answers true: one run per period for the whole cluster.
 */
export function startPruner(o: {
  db: Database;
  claim?: () => Promise<boolean>;
  lineage: LineageStore;
  logger: Logger;
  days: number;
  intervalMs: number;
  onPruned?(n: number): void;
  /** Called when this process runs the job (the claim won). */
  onRun?(): void;
}) {
  if (o.days <= 0) return { close: async () => {} };
  const run = async () => {
    try {
      if (o.claim && !(await o.claim())) return;
      o.onRun?.();
      const n = await pruneRawMessages(o.db, o.lineage, o.days);
      if (n > 0) o.onPruned?.(n);
      if (n > 0) o.logger.info({ messages: n, retentionDays: o.days }, 'raw messages pruned');
      const e = await pruneEgressBodies(o.db, o.lineage, o.days);
      if (e > 0)
        o.logger.info({ messages: e, retentionDays: o.days }, 'undelivered outbound messages pruned');
    } catch (err) {
      o.logger.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'pruning failed; next run retries',
      );
    }
  };
  const first = setTimeout(() => void run(), 1000);
  first.unref();
  const timer = setInterval(() => void run(), o.intervalMs);
  timer.unref();
  return {
    close: async () => {
      clearTimeout(first);
      clearInterval(timer);
    },
  };
}
