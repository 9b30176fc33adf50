/**
 * The end of a run: each message's status, lineage, dead letter and finish-hook rows in one
 * transaction, a batch of messages at once (one status statement, one lineage append). When the
 * batch's transaction fails, each message is finished on its own, so one message whose data the
 * database refuses never fails its neighbours (as intake's group commit falls back).
 */
import type { Context } from '@opentelemetry/api';
import type { Database } from '../db/database.js';
import { markFinished } from '../inbox/processing.js';
import { isDataError } from '../inbox/storable.js';
import type { LineageEntryInput } from '../lineage/chain.js';
import type { LineageOutput, LineageStore } from '../lineage/store.js';
import type { ClinicalEvent } from '../normalize/event.js';
import type { Metrics } from '../observability/metrics.js';
import { recordDeadLetter, resolveDeadLetter } from '../recovery/dead-letters.js';
import type { FailurePoint } from './core.js';
import type { FinishedMessage, FinishHook } from './finish-hooks.js';
import type { MonitoredInput } from './monitored-input.js';
import { inSpans } from './spans.js';

/** A message ready to be finished. */
export interface Ending {
  messageId: string;
  status: FinishedMessage['status'];
  reason: string | null;
  stages: LineageEntryInput[];
  failure?: FailurePoint | undefined;
  event?: ClinicalEvent | undefined;
  outputs: readonly LineageOutput[];
  bytes?: Buffer | undefined;
  errorCode?: string | undefined;
  monitored?: readonly MonitoredInput[] | undefined;
  /** The message's trace context: its `lineage` span goes there. */
  ctx?: Context | undefined;
}

export interface FinishDeps {
  db: Database;
  lineage: LineageStore;
  metrics: Metrics;
  now(): Date;
  onFinish?: FinishHook | undefined;
  /** Keyed digests of the patient's identifiers, kept with the message for search by patient. */
  patientDigests?(patient: ClinicalEvent['patient']): string[];
}

/** Per message: finished (true), finished before by another worker (false), or the error to retry on. */
export type FinishResult = true | false | { error: unknown };

export function createFinisher(d: FinishDeps) {
  /** The messages of one transaction; answers the ids this transaction finished, with their senders. */
  async function commit(endings: readonly Ending[]): Promise<Map<string, { sender: string }>> {
    const parts = endings.map((e) => ({
      ctx: e.ctx,
      attributes: { 'gateway.lineage.entries': e.stages.length, 'gateway.batch.messages': endings.length },
    }));
    const done = await inSpans('lineage', parts, () =>
      d.db.transaction(async (tx) => {
        // The models its lineage names and its patient digests (search: GET /messages) go with the status.
        const finished = await markFinished(
          tx,
          endings.map((e) => ({
            messageId: e.messageId,
            status: e.status,
            reason: e.reason,
            models: [
              ...new Set(
                e.stages.flatMap((s) => (typeof s.detail.model === 'string' ? [s.detail.model] : [])),
              ),
            ].sort(),
            patientDigests: e.event && d.patientDigests ? d.patientDigests(e.event.patient) : null,
          })),
        );
        // Another worker finished a message first (a retried job): keep its record only.
        const mine = endings.filter((e) => finished.has(e.messageId));
        await d.lineage.append(
          tx,
          mine.flatMap((e) => e.stages),
        );
        for (const e of mine) {
          if (e.status === 'failed' && e.failure)
            await recordDeadLetter(tx, {
              messageId: e.messageId,
              reason: e.reason ?? 'failed',
              at: d.now(),
              ...e.failure,
            });
          else await resolveDeadLetter(tx, e.messageId, d.now());
          await d.onFinish?.write(tx, {
            messageId: e.messageId,
            status: e.status,
            reason: e.reason,
            ...(e.failure ? { failedAt: e.failure.stage } : {}),
            ...(e.errorCode ? { errorCode: e.errorCode } : {}),
            stages: e.stages,
            outputs: e.outputs,
            ...(e.event ? { event: e.event } : {}),
            ...(e.bytes ? { bytes: e.bytes } : {}),
            ...(e.monitored ? { monitored: e.monitored } : {}),
          });
        }
        return finished;
      }),
    );
    for (const e of endings) {
      d.metrics.messagesProcessed.inc({ outcome: e.status });
      const row = done.get(e.messageId);
      if (!row) continue;
      d.onFinish?.committed();
      const label = d.metrics.sender(row.sender);
      d.metrics.senderProcessed.inc({ sender: label, outcome: e.status });
      if (e.status === 'failed')
        d.metrics.senderFailed.inc({ sender: label, stage: e.failure?.stage ?? 'unknown' });
    }
    return done;
  }

  /** One message on its own; refused data ends it as failed with only that failure recorded. */
  async function one(e: Ending): Promise<FinishResult> {
    try {
      return (await commit([e])).has(e.messageId);
    } catch (err) {
      if (!isDataError(err) || e.stages.every((s) => s.stage === 'failed')) return { error: err };
      const reason = `the database refused this message's data (SQLSTATE ${(err as { code: string }).code})`;
      const failure = { ...(e.failure ?? {}), stage: e.failure?.stage ?? 'write' };
      return one({
        messageId: e.messageId,
        status: 'failed',
        reason,
        failure,
        stages: [
          {
            messageId: e.messageId,
            stage: 'failed',
            at: d.now().toISOString(),
            detail: { reason, during: failure.stage, ...(failure.model ? { model: failure.model } : {}) },
          },
        ],
        outputs: [],
        ...(e.event ? { event: e.event } : {}),
        ...(e.bytes ? { bytes: e.bytes } : {}),
        ...(e.ctx ? { ctx: e.ctx } : {}),
      });
    }
  }

  /** A batch in one transaction; on failure each message on its own. Results in the order given. */
  async function finish(endings: readonly Ending[]): Promise<FinishResult[]> {
    if (endings.length === 0) return [];
    if (endings.length === 1) return [await one(endings[0]!)];
    try {
      const done = await commit(endings);
      return endings.map((e) => done.has(e.messageId));
    } catch {
      const out: FinishResult[] = [];
      for (const e of endings) out.push(await one(e));
      return out;
    }
  }

  return { finish };
}
