import { trace } from '@opentelemetry/api';
import type { Database } from '../db/database.js';
import { GatewayError } from '../errors/codes.js';
import { retryClass } from '../errors/retry.js';
import { extractFeatures, triggersScoring, usesMessageType } from '../features/extract.js';
import type { Mapping } from '../features/mapping.js';
import { assembleVector, type FeatureStore } from '../features/state.js';
import { decodeHl7Bytes } from '../hl7/charset.js';
import { Hl7ParseError, parseHl7 } from '../hl7/parser.js';
import { isDataError } from '../inbox/storable.js';
import type { LineageEntryInput } from '../lineage/chain.js';
import type { LineageOutput, LineageStore } from '../lineage/store.js';
import type { ModelRegistry } from '../models/runtime/loader.js';
import { interpret } from '../models/runtime/loader.js';
import type { ClinicalEvent } from '../normalize/event.js';
import { SPLIT_MESSAGE_TYPE } from '../normalize/fhir/split.js';
import { normalizeHl7 } from '../normalize/hl7v2.js';
import { patientKey, primaryIdentifier } from '../normalize/patient-key.js';
import type { Logger } from '../observability/logger.js';
import { errorInfo } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { contextFrom, inSpan, SpanKind } from '../observability/tracing.js';
import { recordDeadLetter, resolveDeadLetter } from '../recovery/dead-letters.js';
import { type RawCipher, RawCipherError } from '../security/raw-cipher.js';
import type { FhirWriter } from '../writeback/fhir/writer.js';
import type { FinishedMessage, FinishHook } from './finish-hooks.js';
import type { MonitoredInput, MonitoredScore } from './monitored-input.js';
import { createPredictionWriter, PermanentFailure, type PredictionWriterDeps } from './prediction.js';
import { hl7SourceRef, parseHl7SourceRef } from './source-ref.js';

export interface PipelineDeps {
  db: Database;
  lineage: LineageStore;
  mappings: readonly Mapping[];
  models: ModelRegistry;
  features: FeatureStore;
  writer: FhirWriter;
  logger: Logger;
  metrics: Metrics;
  defaultTimezone: string;
  identifierSystem(assigner: string | undefined): string;
  /**
   * Validate every resource before writing. Off for the embedded store, which validates what it
   * is given itself (and answers 400 with the issues).
   */
  validateBeforeWrite: boolean;
  /** Opens raw bodies sealed at rest. */
  cipher: RawCipher;
  /** The model card DocumentReference, written with a version's first result (PredictionWriterDeps). */
  modelCard?: PredictionWriterDeps['modelCard'];
  now?: () => Date;
  /** Rows written with a message's outcome, in its transaction (the egress outbox: ORU, application ACKs). */
  onFinish?: FinishHook;
  /** FHIR inputs (channels `fhir`, `subscription`): JSON bytes -> event (src/normalize/fhir/rows.ts). */
  normalizeFhir?(row: InboxRow, bytes: Buffer): Promise<ClinicalEvent>;
  /** Keyed digests of the patient's identifiers, kept with the message for search by patient. */
  patientDigests?(patient: ClinicalEvent['patient']): string[];
}

export { type FinishedMessage, type FinishHook, finishHooks } from './finish-hooks.js';
export { PermanentFailure };

export interface InboxRow {
  message_id: string;
  channel: string;
  sender: string;
  control_id: string;
  raw: Uint8Array | null;
  status: string;
  attempts?: number;
  /** W3C trace context of the span that received it (migration 040); null when tracing was off. */
  traceparent?: string | null;
}

/** Where a failure happened, for the dead-letter store. */
interface FailurePoint {
  stage: string;
  model?: string;
  attempts?: number;
}

/**
 * The pipeline after durable intake: parse -> normalize -> map -> infer -> write back, each stage
 * recorded in the lineage. The lineage of one processing run is appended with the status change in
 * one transaction at the end: a run cut short leaves the message `received`, and it is processed
 * again; every step before is idempotent (feature upserts by time, conditional creates).
 */
export function createPipeline(d: PipelineDeps) {
  const now = d.now ?? (() => new Date());
  const writePrediction = createPredictionWriter(d);

  async function finish(
    messageId: string,
    status: string,
    reason: string | null,
    stages: LineageEntryInput[],
    failure?: FailurePoint,
    more: Pick<FinishedMessage, 'event' | 'outputs' | 'bytes' | 'errorCode' | 'monitored'> = { outputs: [] },
  ) {
    trace.getActiveSpan()?.setAttribute('gateway.outcome', status);
    let sender: string | undefined;
    const done = await inSpan('lineage', { 'gateway.lineage.entries': stages.length }, () =>
      d.db.transaction(async (tx) => {
        // The models its lineage names and its patient digests (search: GET /messages) go with the status.
        const models = [
          ...new Set(stages.flatMap((s) => (typeof s.detail.model === 'string' ? [s.detail.model] : []))),
        ].sort();
        const patients = more.event && d.patientDigests ? d.patientDigests(more.event.patient) : null;
        const r = await tx.query<{ sender: string }>(
          `update inbox set status = $2, status_reason = $3, updated_at = now(),
                  models = case when cardinality($4::text[]) > 0 then $4::text[] else models end,
                  patient_digests = coalesce($5::text[], patient_digests)
            where message_id = $1 and status = 'received' returning sender`,
          [messageId, status, reason, models, patients],
        );
        // Another worker finished it first (a retried job): keep its record only.
        if (r.rowCount !== 1) return false;
        sender = r.rows[0]?.sender;
        await d.lineage.append(tx, stages);
        if (status === 'failed' && failure)
          await recordDeadLetter(tx, { messageId, reason: reason ?? 'failed', at: now(), ...failure });
        else await resolveDeadLetter(tx, messageId, now());
        await d.onFinish?.write(tx, {
          messageId,
          status: status as FinishedMessage['status'],
          reason,
          ...(failure ? { failedAt: failure.stage } : {}),
          stages,
          ...more,
        });
        return true;
      }),
    );
    if (done) d.onFinish?.committed();
    d.metrics.messagesProcessed.inc({ outcome: status });
    if (done) {
      const label = d.metrics.sender(sender);
      d.metrics.senderProcessed.inc({ sender: label, outcome: status });
      if (status === 'failed')
        d.metrics.senderFailed.inc({ sender: label, stage: failure?.stage ?? 'unknown' });
    }
  }

  async function timed<T>(
    stage: string,
    attrs: Record<string, string | number>,
    fn: () => Promise<T> | T,
    spanName = stage,
  ): Promise<T> {
    const t0 = performance.now();
    try {
      return await inSpan(spanName, attrs, async () => fn());
    } finally {
      d.metrics.stageSeconds.observe({ stage }, (performance.now() - t0) / 1000);
    }
  }

  /**
   * Processes one stored message, in a span continuing the trace it was received in (the job's
   * trace context, else the one stored with it), whichever process received it.
   */
  async function process(messageId: string, attempt = 1, traceparent?: string): Promise<void> {
    const row = (
      await d.db.query<InboxRow>(
        'select message_id, channel, sender, control_id, raw, status, traceparent from inbox where message_id = $1',
        [messageId],
      )
    ).rows[0];
    if (!row || row.status !== 'received') return;
    await inSpan(
      'process',
      { 'gateway.message.id': messageId, 'gateway.channel': row.channel, 'gateway.attempt': attempt },
      () => run(row, attempt),
      { kind: SpanKind.CONSUMER, parent: contextFrom(traceparent ?? row.traceparent) },
    );
  }

  async function run(row: InboxRow, attempt: number): Promise<void> {
    const messageId = row.message_id;
    const stages: LineageEntryInput[] = [];
    const stage = (name: string, detail: Record<string, unknown>) =>
      stages.push({ messageId, stage: name, at: now().toISOString(), detail });
    const point: FailurePoint = { stage: 'parse', attempts: attempt };
    let bytes: Buffer | undefined;
    let parsedEvent: ClinicalEvent | undefined;

    try {
      const raw = row.raw;
      if (!raw) throw new PermanentFailure(new GatewayError('GW_RAW_PRUNED').message);
      try {
        bytes = d.cipher.open(raw);
      } catch (err) {
        if (err instanceof RawCipherError) throw new PermanentFailure(err.message);
        throw err;
      }
      const fhir = d.normalizeFhir && (row.channel === 'fhir' || row.channel === 'subscription');
      const event: ClinicalEvent = await timed('parse', { 'gateway.message.id': messageId }, () => {
        if (fhir) return d.normalizeFhir!(row, bytes!);
        const msg = parseHl7(decodeHl7Bytes(bytes!).text); // by MSH-18
        return normalizeHl7(msg, { channel: row.channel, messageId }, { defaultTimezone: d.defaultTimezone });
      });
      parsedEvent = event;
      stage('parsed', {
        messageType: event.source.messageType,
        version: event.source.version ?? null,
        observations: event.observations.length,
      });

      point.stage = 'map';
      if (event.source.messageType === SPLIT_MESSAGE_TYPE) {
        // A notification naming several patients: its parts (lineage `split`) are scored as messages
        // of their own; this one is done.
        await finish(messageId, 'processed', 'split per patient', stages, undefined, {
          event,
          outputs: [],
          bytes: bytes!,
        });
        return;
      }
      const used = d.mappings.filter((m) => usesMessageType(m, event.source.messageType));
      if (used.length === 0) {
        stage('ignored', { reason: `no mapping uses message type ${event.source.messageType}` });
        await finish(messageId, 'ignored', 'no mapping uses this message type', stages, undefined, {
          event,
          outputs: [],
          bytes: bytes!,
        });
        return;
      }
      const key = patientKey(event.patient);
      if (!key) throw new PermanentFailure('no patient identifier (PID-3) in the message');
      const pid = primaryIdentifier(event.patient)!;
      const outputs: LineageOutput[] = [];
      const monitored: MonitoredInput[] = [];

      for (const mapping of used) {
        const model = d.models.get(mapping.model);
        point.stage = 'map';
        point.model = mapping.model;
        if (!model)
          throw new PermanentFailure(
            `mapping ${mapping.file} names model ${mapping.model}, which is not loaded`,
          );
        const extracted = await timed('map', { 'gateway.model': mapping.model }, () =>
          extractFeatures(event, mapping),
        );
        const values = extracted.values.map((v) => ({
          ...v,
          sourceRef: v.sourceReference ?? hl7SourceRef(row.sender, row.control_id, v.sourceRef),
        }));
        await d.features.apply(key, mapping.model, values);
        const at = newest([...values.map((v) => v.observedAt), event.occurredAt]) ?? now().toISOString();
        const snapshot = await d.features.snapshot(key, mapping.model);
        const vector = assembleVector(mapping, snapshot, at);
        stage('mapped', {
          model: mapping.model,
          mappingVersion: mapping.version,
          features: values.map((v) => v.feature),
          rejected: extracted.rejected.map((r) => ({ feature: r.feature, ref: r.ref, reason: r.reason })),
          complete: vector.complete,
          ...(vector.complete ? {} : { waitingFor: vector.missing }),
          ...(vector.imputed.length > 0 ? { imputed: vector.imputed } : {}),
        });
        // Monitored when the message brought this model an observation (age alone does not count).
        const observed = (f: { feature: string }) =>
          mapping.features.some((s) => s.name === f.feature && s.source === 'observation');
        const offered = extracted.values.some(observed) || extracted.rejected.some(observed);
        const input: MonitoredInput = {
          model: mapping.model,
          features: mapping.features.map((f) => f.name),
          patientKey: key,
          source: row.sender,
          at: vector.newestObservedAt ?? at,
          vector: vector.vector,
          missing: vector.missing,
          imputed: vector.imputed,
          values: extracted.values,
          rejected: extracted.rejected,
          scores: [],
          productionVersion: model.version,
        };
        if (offered) monitored.push(input);
        if (!vector.complete || !triggersScoring(event, mapping, values)) continue;

        point.stage = 'infer';
        const rows = [vector.vector];
        const [score] = await timed('infer', inferAttrs(model.name, model.version, rows.length), () =>
          model.predict(rows),
        );
        if (score === undefined || !Number.isFinite(score))
          throw new PermanentFailure(`model ${model.name} returned no score`);
        const band = interpret(model.card, score);
        const scores: MonitoredScore[] = [{ version: model.version, alias: 'production', score }];
        stage('inferred', {
          model: model.name,
          modelVersion: model.version,
          modelSha256: model.sha256,
          mappingVersion: mapping.version,
          score,
          ...(band ? { interpretation: band.interpretation.code, band: band.name } : {}),
          inputs: vector.used.map((u) => u.feature),
        });
        // Shadow and canary versions score the same vector and are recorded, never written.
        for (const c of d.models.companions?.(mapping.model, key) ?? []) {
          const [s] = await timed(
            'infer',
            inferAttrs(c.model.name, c.model.version, rows.length, c.alias),
            () => c.model.predict(rows),
          );
          if (s !== undefined && Number.isFinite(s))
            scores.push({ version: c.model.version, alias: c.alias as MonitoredScore['alias'], score: s });
          stage('inferred', {
            model: c.model.name,
            modelVersion: c.model.version,
            modelSha256: c.model.sha256,
            mappingVersion: mapping.version,
            alias: c.alias,
            written: false,
            score: s ?? null,
          });
        }

        const hl7Sources = vector.used
          .map((u) => parseHl7SourceRef(u.sourceRef))
          .filter((s): s is NonNullable<typeof s> => !!s);
        point.stage = 'write';
        const output = await timed(
          'write',
          { 'gateway.model': model.name },
          () =>
            writePrediction({
              eventKey: messageId,
              patient: { ...pid, reference: event.patient.reference },
              encounter: event.encounter,
              model,
              mappingVersion: mapping.version,
              score,
              effectiveAt: vector.newestObservedAt ?? at,
              issuedAt: now().toISOString(),
              // Every FHIR input: this event's values and those of earlier inputs the vector used.
              derivedFrom: [
                ...values.flatMap((v) => (v.sourceReference ? [v.sourceReference] : [])),
                ...vector.used.flatMap((u) =>
                  u.sourceRef && !parseHl7SourceRef(u.sourceRef) ? [u.sourceRef] : [],
                ),
              ],
              hl7Sources: [
                ...new Map(hl7Sources.map((s) => [`${s.sender}\u0000${s.controlId}`, s])).values(),
              ],
            }),
          'fhir.write',
        );
        d.metrics.predictions.inc({ model: model.name, version: model.version });
        outputs.push(output);
        input.scores = scores;
      }
      if (outputs.length > 0) stage('written', { outputs });
      await finish(messageId, 'processed', null, stages, undefined, {
        event,
        outputs,
        bytes: bytes!,
        monitored,
      });
    } catch (err) {
      // Retrying will not mend it (errors/retry.ts): the message goes to `failed` at once.
      if (retryClass(err) === 'never') {
        d.logger.warn({ messageId, err: errorInfo(err) }, 'message failed');
        // The database refused this message's data: the stages recorded so far may hold what it
        // refused, so only the failure is recorded (retrying could never succeed).
        if (isDataError(err)) stages.length = 0;
        // A database's text about refused data may quote the data: only its SQLSTATE is kept.
        const reason = isDataError(err)
          ? `the database refused this message's data (SQLSTATE ${(err as { code: string }).code})`
          : err instanceof Error
            ? err.message
            : String(err);
        stage('failed', {
          reason,
          during: point.stage,
          ...(point.model ? { model: point.model } : {}),
        });
        await finish(messageId, 'failed', reason, stages, point, {
          outputs: [],
          ...(parsedEvent ? { event: parsedEvent } : {}),
          ...(bytes ? { bytes } : {}),
          ...(err instanceof Hl7ParseError ? { errorCode: err.code } : {}),
        });
        return;
      }
      // Anything else (the FHIR server or the database away, a time-out, a bug) is retried with
      // back-off by the queue, and recorded as failed after the last attempt.
      d.metrics.messagesProcessed.inc({ outcome: 'retried' });
      d.logger.warn({ messageId, err: errorInfo(err) }, 'message will be retried');
      throw err;
    }
  }

  /** After the last attempt of a transient failure. */
  async function giveUp(messageId: string, err: unknown): Promise<void> {
    const reason = `gave up after retries: ${err instanceof Error ? err.message : String(err)}`;
    // The end of the message's trace (tracing on): a span of its own under the intake span.
    const row = await d.db
      .query<{ traceparent: string | null }>('select traceparent from inbox where message_id = $1', [
        messageId,
      ])
      .catch(() => undefined);
    await inSpan(
      'process.gave_up',
      { 'gateway.message.id': messageId },
      async () => {
        d.logger.error({ messageId, err: errorInfo(err) }, 'message failed after retries');
        await finish(
          messageId,
          'failed',
          reason,
          [{ messageId, stage: 'failed', at: now().toISOString(), detail: { reason } }],
          { stage: 'retries' },
        );
      },
      { parent: contextFrom(row?.rows[0]?.traceparent) },
    );
  }

  return { process, giveUp };
}

/**
 * Attributes of an infer span: model, version, and the rows of this call (its batch size: one vector
 * per message here; the micro-batch it joined is in gateway_model_batch_size).
 */
function inferAttrs(
  model: string,
  version: string,
  rows: number,
  alias?: string,
): Record<string, string | number> {
  return {
    'gateway.model': model,
    'gateway.model.version': version,
    'gateway.model.batch_size': rows,
    ...(alias ? { 'gateway.model.alias': alias } : {}),
  };
}

/** The latest of some ISO 8601 times, compared as instants (offsets may differ). */
function newest(times: Array<string | undefined>): string | undefined {
  let best: string | undefined;
  for (const t of times) if (t && (!best || Date.parse(t) > Date.parse(best))) best = t;
  return best;
}
