/**
 * The I/O shell of message scoring around the pure core (core.ts): read the inbox rows of a batch,
 * open and normalize each, read the feature state of the batch, call each model once for the batch,
 * store the feature values, write the predictions, and finish every message in one transaction
 * (finish.ts). The queue hands messages one at a time; those that arrive while a batch runs are
 * gathered into the next one (as intake's group commit gathers messages), so under load a batch
 * costs a few statements where each message cost a dozen.
 *
 * A run cut short leaves the message `received`, and it is processed again; every step before the
 * finish is idempotent (feature upserts by time, conditional creates).
 */
import { type Context, context, type Link, SpanStatusCode, trace } from '@opentelemetry/api';
import { type InboxRow, readForProcessing, traceparentOf } from '../inbox/processing.js';
import type { LineageOutput } from '../lineage/store.js';
import type { ClinicalEvent } from '../normalize/event.js';
import { patientKey } from '../normalize/patient-key.js';
import { errorInfo } from '../observability/logger.js';
import { contextFrom, inSpan, outsideTraces, SpanKind } from '../observability/tracing.js';
import { createBatchSteps, type Item, type Job } from './batch-steps.js';
import { type CoreContext, type MappedMessage, mapMessage, unparsed } from './core.js';
import type { PipelineDeps } from './deps.js';
import { createFinisher, type Ending } from './finish.js';
import { PermanentFailure } from './prediction.js';

export { type FinishedMessage, type FinishHook, finishHooks } from './finish-hooks.js';
export type { InboxRow, PipelineDeps };
export { PermanentFailure };

const tracer = trace.getTracer('ml-gateway', '0.1.0');

export function createPipeline(d: PipelineDeps) {
  const now = d.now ?? (() => new Date());
  const core: CoreContext = { mappings: d.mappings, models: d.models, now };
  const { finish } = createFinisher({ ...d, now });
  const maxBatch = d.maxBatch ?? 64;
  const maxInFlight = d.maxBatchesInFlight ?? 2;
  const s = createBatchSteps(d, core, timed);

  async function timed<T>(
    stage: string,
    attrs: Record<string, string | number>,
    fn: () => Promise<T> | T,
    opts: { spanName?: string; parent?: Context; links?: Link[] } = {},
  ): Promise<T> {
    const t0 = performance.now();
    try {
      return await inSpan(opts.spanName ?? stage, attrs, async () => fn(), {
        ...(opts.parent ? { parent: opts.parent } : {}),
        ...(opts.links ? { links: opts.links } : {}),
      });
    } finally {
      d.metrics.stageSeconds.observe({ stage }, (performance.now() - t0) / 1000);
    }
  }

  // Jobs waiting for a batch; up to maxInFlight batches run at once.
  const waiting: Job[] = [];
  const inFlight = new Set<string>();
  let batches = 0;
  // Per patient, the end of the last batch that holds one of their messages: a later batch with the
  // same patient waits for it before reading their state (per-patient order across batches).
  const patientTurns = new Map<string, Promise<void>>();
  // Batches take their patients' turns in the order they were formed.
  let turnsTaken: Promise<void> = Promise.resolve();

  function pump(): void {
    while (batches < maxInFlight && waiting.length > 0) {
      // A message already in a batch (queued twice: a sweep while its job waited) waits for a later one.
      const batch: Job[] = [];
      for (let i = 0; i < waiting.length && batch.length < maxBatch; ) {
        const j = waiting[i]!;
        if (inFlight.has(j.messageId)) i++;
        else {
          inFlight.add(j.messageId);
          batch.push(j);
          waiting.splice(i, 1);
        }
      }
      if (batch.length === 0) return;
      batches++;
      const after = turnsTaken;
      let taken!: () => void;
      turnsTaken = new Promise<void>((r) => {
        taken = r;
      });
      const turn = { after, taken };
      // The batch's own statements (the read) belong to no one message's trace.
      void outsideTraces(() => runBatch(batch, turn))
        .catch((err) => {
          for (const j of batch) j.reject(err);
        })
        .finally(() => {
          taken();
          for (const j of batch) inFlight.delete(j.messageId);
          batches--;
          pump();
        });
    }
  }

  /** The order of a batch among others: it takes its patients' turns `after` the batch before it. */
  interface Turn {
    after: Promise<void>;
    taken(): void;
  }

  /**
   * Waits until no earlier batch holding one of these patients runs, and holds them until `done`
   * settles. Turns are taken in batch order, so a batch only ever waits for earlier ones.
   */
  async function patientTurn(turn: Turn, keys: readonly string[], done: Promise<void>): Promise<void> {
    await turn.after;
    const before = [...new Set(keys)].flatMap((k) => {
      const prev = patientTurns.get(k);
      const mine = done.then(() => {
        if (patientTurns.get(k) === mine) patientTurns.delete(k);
      });
      patientTurns.set(k, mine);
      return prev ? [prev] : [];
    });
    turn.taken();
    await Promise.all(before);
  }

  /**
   * Processes one stored message, in a span continuing the trace it was received in (the job's
   * trace context, else the one stored with it), whichever process received it. Resolves once the
   * message is finished (or was already), rejects to have the queue try it again.
   */
  function process(messageId: string, attempt = 1, traceparent?: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      waiting.push({ messageId, attempt, traceparent, resolve, reject });
      pump();
    });
  }

  async function runBatch(jobs: Job[], turn: Turn): Promise<void> {
    const rows = await readForProcessing(
      d.db,
      jobs.map((j) => j.messageId),
    );
    const jobOf = new Map(jobs.map((j) => [j.messageId, j]));
    // Rows in the order they were received: per-patient order within the batch.
    const items: Item[] = [];
    for (const row of rows) {
      const job = jobOf.get(row.message_id)!;
      if (row.status !== 'received') continue;
      jobOf.delete(row.message_id);
      const parent = contextFrom(job.traceparent ?? row.traceparent);
      const span = tracer.startSpan(
        'gateway.process',
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            'gateway.message.id': row.message_id,
            'gateway.channel': row.channel,
            'gateway.attempt': job.attempt,
          },
        },
        parent,
      );
      items.push({ job, row, span, ctx: trace.setSpan(parent, span), mapped: undefined as never });
    }
    // Gone, or finished by another worker: nothing to do.
    for (const job of jobOf.values()) job.resolve();
    if (items.length === 0) return turn.taken();
    try {
      await context.with(items[0]!.ctx, () => steps(items, turn));
    } catch (err) {
      for (const it of items) settle(it, err);
    }
  }

  /** Ends a message's span and answers its job (an error: the queue tries it again). */
  function settle(it: Item, err?: unknown): void {
    if (err === undefined) {
      it.span.end();
      it.job.resolve();
      return;
    }
    it.span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'error' });
    it.span.end();
    it.job.reject(err);
  }

  async function steps(items: Item[], turn: Turn): Promise<void> {
    const events = await Promise.all(items.map((it) => s.normalize(it)));
    let release!: () => void;
    const done = new Promise<void>((r) => {
      release = r;
    });
    try {
      await patientTurn(
        turn,
        events.flatMap((e) => ('error' in e ? [] : [patientKey(e.patient) ?? ''])).filter((k) => k !== ''),
        done,
      );
      await stepsInTurn(items, events);
    } finally {
      release();
    }
  }

  async function stepsInTurn(
    items: Item[],
    events: Array<ClinicalEvent | { error: unknown }>,
  ): Promise<void> {
    const state = await s.readState(events);
    for (const [i, it] of items.entries()) {
      const event = events[i]!;
      if ('error' in event) {
        it.mapped = unparsed(core, it.row.message_id, event.error, it.job.attempt);
        continue;
      }
      it.mapped = await timed(
        'map',
        { 'gateway.message.id': it.row.message_id },
        () =>
          mapMessage(
            core,
            { messageId: it.row.message_id, sender: it.row.sender, controlId: it.row.control_id, event },
            state,
            it.job.attempt,
          ),
        { parent: it.ctx },
      );
    }
    await s.storeFeatures(items);
    await s.score(items);
    await s.writeAll(items);
    await end(items);
  }

  /** Opens and normalizes a row (parse span in the message's trace); the error when it cannot. */
  async function end(items: Item[]): Promise<void> {
    const endings: Array<{ it: Item; ending: Ending }> = [];
    for (const it of items) {
      const m = it.mapped;
      const o = m.outcome!;
      if (o.status === 'retry') {
        // Anything else (the FHIR server or the database away, a time-out, a bug) is retried with
        // back-off by the queue, and recorded as failed after the last attempt.
        d.metrics.messagesProcessed.inc({ outcome: 'retried' });
        d.logger.warn({ messageId: m.messageId, err: errorInfo(o.error) }, 'message will be retried');
        settle(it, o.error);
        continue;
      }
      if (o.status === 'failed')
        d.logger.warn({ messageId: m.messageId, err: { message: o.reason } }, 'message failed');
      it.span.setAttribute('gateway.outcome', o.status);
      endings.push({
        it,
        ending: {
          messageId: m.messageId,
          status: o.status,
          reason: o.reason,
          stages: m.stages,
          failure: o.status === 'failed' ? o.failure : undefined,
          errorCode: o.status === 'failed' ? o.errorCode : undefined,
          event: m.event,
          outputs: o.status === 'processed' ? outputsOf(m) : [],
          bytes: it.bytes,
          monitored: o.status === 'processed' ? m.monitored : undefined,
          ctx: it.ctx,
        },
      });
    }
    const results = await finish(endings.map((e) => e.ending));
    for (const [i, r] of results.entries()) {
      const { it } = endings[i]!;
      if (typeof r !== 'object') {
        settle(it);
        continue;
      }
      d.metrics.messagesProcessed.inc({ outcome: 'retried' });
      d.logger.warn({ messageId: it.row.message_id, err: errorInfo(r.error) }, 'message will be retried');
      settle(it, r.error);
    }
  }

  /** After the last attempt of a transient failure. */
  async function giveUp(messageId: string, err: unknown): Promise<void> {
    const reason = `gave up after retries: ${err instanceof Error ? err.message : String(err)}`;
    // The end of the message's trace (tracing on): a span of its own under the intake span.
    const tp = await traceparentOf(d.db, messageId).catch(() => null);
    await inSpan(
      'process.gave_up',
      { 'gateway.message.id': messageId },
      async () => {
        d.logger.error({ messageId, err: errorInfo(err) }, 'message failed after retries');
        const [r] = await finish([
          {
            messageId,
            status: 'failed',
            reason,
            stages: [{ messageId, stage: 'failed', at: now().toISOString(), detail: { reason } }],
            failure: { stage: 'retries' },
            outputs: [],
          },
        ]);
        if (typeof r === 'object') throw r.error;
      },
      { parent: contextFrom(tp) },
    );
  }

  return { process, giveUp };
}

/** The outputs a processed message's `written` entry lists. */
function outputsOf(m: MappedMessage): LineageOutput[] {
  const w = m.stages.find((s) => s.stage === 'written');
  return (w?.detail.outputs as LineageOutput[] | undefined) ?? [];
}
