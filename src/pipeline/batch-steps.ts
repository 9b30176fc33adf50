/**
 * The steps of a batch between reading its rows and finishing it (process.ts runs them in turn):
 * open and normalize each message, read the batch's feature state, store the values the core
 * mapped, call each model once for the batch, and write each message's predictions.
 */
import { type Context, context, type Link, type Span } from '@opentelemetry/api';
import { GatewayError } from '../errors/codes.js';
import { usesMessageType } from '../features/extract.js';
import { decodeHl7Bytes } from '../hl7/charset.js';
import { parseHl7 } from '../hl7/parser.js';
import type { InboxRow } from '../inbox/processing.js';
import type { LineageOutput } from '../lineage/store.js';
import type { ClinicalEvent } from '../normalize/event.js';
import { normalizeHl7 } from '../normalize/hl7v2.js';
import { patientKey } from '../normalize/patient-key.js';
import { RawCipherError } from '../security/raw-cipher.js';
import { type CoreContext, type FeatureState, fail, type MappedMessage, stateKey, written } from './core.js';
import type { PipelineDeps } from './deps.js';
import { createPredictionWriter, PermanentFailure } from './prediction.js';
import { requestsOf, type ScoreResult, withScores } from './score.js';
import { inSpans } from './spans.js';

/** A message handed to the pipeline by the queue, waiting for its batch. */
export interface Job {
  messageId: string;
  attempt: number;
  traceparent: string | undefined;
  resolve(): void;
  reject(err: unknown): void;
}

/** A message of the running batch: its job, row, `process` span, and what its run found so far. */
export interface Item {
  job: Job;
  row: InboxRow;
  span: Span;
  /** The context of its span: its stages are recorded there. */
  ctx: Context;
  bytes?: Buffer;
  mapped: MappedMessage;
}

/** Runs fn in a span (under `parent` when given) and observes the stage's seconds. */
export type Timed = <T>(
  stage: string,
  attrs: Record<string, string | number>,
  fn: () => Promise<T> | T,
  opts?: { spanName?: string; parent?: Context; links?: Link[] },
) => Promise<T>;

export function createBatchSteps(d: PipelineDeps, core: CoreContext, timed: Timed) {
  const writePrediction = createPredictionWriter(d);

  async function normalize(it: Item): Promise<ClinicalEvent | { error: unknown }> {
    const { row } = it;
    try {
      const raw = row.raw;
      if (!raw) throw new PermanentFailure(new GatewayError('GW_RAW_PRUNED').message);
      let bytes: Buffer;
      try {
        bytes = d.cipher.open(raw);
      } catch (err) {
        if (err instanceof RawCipherError) throw new PermanentFailure(err.message);
        throw err;
      }
      it.bytes = bytes;
      const fhir = d.normalizeFhir && (row.channel === 'fhir' || row.channel === 'subscription');
      return await timed(
        'parse',
        { 'gateway.message.id': row.message_id },
        () => {
          if (fhir) return d.normalizeFhir!(row, bytes);
          const msg = parseHl7(decodeHl7Bytes(bytes).text); // by MSH-18
          return normalizeHl7(
            msg,
            { channel: row.channel, messageId: row.message_id },
            { defaultTimezone: d.defaultTimezone },
          );
        },
        { parent: it.ctx },
      );
    } catch (error) {
      return { error };
    }
  }

  /** The stored feature state of every patient of the batch, one query per model. */
  async function readState(events: Array<ClinicalEvent | { error: unknown }>): Promise<FeatureState> {
    const wanted = new Map<string, Set<string>>();
    for (const e of events) {
      if ('error' in e) continue;
      const key = patientKey(e.patient);
      if (!key) continue;
      for (const m of d.mappings) {
        if (!usesMessageType(m, e.source.messageType)) continue;
        const set = wanted.get(m.model) ?? new Set<string>();
        wanted.set(m.model, set.add(key));
      }
    }
    const state: FeatureState = new Map();
    for (const [model, keys] of wanted) {
      const snaps = await d.features.snapshots([...keys], model);
      for (const [key, values] of snaps) state.set(stateKey(key, model), values);
    }
    return state;
  }

  /** The values the core mapped, one statement for the batch; on failure message by message. */
  async function storeFeatures(items: Item[]): Promise<void> {
    const live = items.filter((it) => !it.mapped.outcome && it.mapped.writes.length > 0);
    if (live.length > 1 && d.features.applyMany) {
      try {
        await d.features.applyMany(live.flatMap((it) => it.mapped.writes));
        return;
      } catch {
        // One message's data refused (or a deadlock): each on its own below.
      }
    }
    for (const it of live) {
      try {
        for (const w of it.mapped.writes) await d.features.apply(w.patientKey, w.model, w.values);
      } catch (err) {
        fail(core, it.mapped, err);
      }
    }
  }

  /** One call per model version for the batch; a call that fails is made again row by row. */
  async function score(items: Item[]): Promise<void> {
    const batch = items.map((it) => it.mapped);
    const requests = requestsOf(batch);
    const results: ScoreResult[] = [];
    for (const req of requests) {
      const alias = req.refs[0]!.companion >= 0 ? aliasOf(batch, req) : undefined;
      // Each message it scores sees the call in its trace: its rows, and the call's.
      const rowsOf = new Map<number, number>();
      for (const r of req.refs) rowsOf.set(r.message, (rowsOf.get(r.message) ?? 0) + 1);
      const parts = [...rowsOf].map(([i, rows]) => ({
        ctx: items[i]!.ctx,
        attributes: {
          ...inferAttrs(req.model.name, req.model.version, rows, alias),
          'gateway.model.call_rows': req.rows.length,
        },
      }));
      const t0 = performance.now();
      try {
        results.push({ scores: await inSpans('infer', parts, () => req.model.predict(req.rows)) });
      } catch (error) {
        if (req.rows.length === 1) {
          results.push({ error });
          continue;
        }
        // One bad row must not fail its neighbours: each row on its own.
        const scores: number[] = [];
        const errors: unknown[] = [];
        for (const [i, row] of req.rows.entries()) {
          try {
            scores.push((await req.model.predict([row]))[0]!);
          } catch (e) {
            scores.push(Number.NaN);
            errors[i] = e;
          }
        }
        results.push({ scores, errors });
      } finally {
        d.metrics.stageSeconds.observe({ stage: 'infer' }, (performance.now() - t0) / 1000);
      }
    }
    withScores(core, batch, requests, results);
  }

  function aliasOf(batch: MappedMessage[], req: ReturnType<typeof requestsOf>[number]) {
    const ref = req.refs[0]!;
    return batch[ref.message]!.scorings[ref.scoring]!.companions[ref.companion]!.alias;
  }

  /** The predictions of the batch in one FHIR transaction (prediction.ts falls back one by one). */
  async function writeAll(items: Item[]): Promise<void> {
    const live = items.filter((it) => !it.mapped.outcome);
    const owners: number[] = [];
    const predictions = live.flatMap((it, k) =>
      it.mapped.predictions.map((p) => {
        owners.push(k);
        return p;
      }),
    );
    const outputs = live.map((): LineageOutput[] => []);
    const errors = new Map<number, unknown>();
    if (predictions.length > 0) {
      const parts = live
        .filter((it) => it.mapped.predictions.length > 0)
        .map((it) => ({
          ctx: it.ctx,
          attributes: {
            'gateway.model': it.mapped.predictions.map((p) => p.model.name).join(','),
            'gateway.batch.messages': live.length,
          },
        }));
      const t0 = performance.now();
      try {
        const results = await inSpans('fhir.write', parts, () =>
          writePrediction.writePredictions(predictions, (i, fn) => context.with(live[owners[i]!]!.ctx, fn)),
        );
        results.forEach((r, i) => {
          const k = owners[i]!;
          if ('error' in r) {
            if (!errors.has(k)) errors.set(k, r.error);
          } else {
            d.metrics.predictions.inc({ model: r.model, version: r.modelVersion });
            outputs[k]!.push(r);
          }
        });
      } finally {
        d.metrics.stageSeconds.observe({ stage: 'write' }, (performance.now() - t0) / 1000);
      }
    }
    live.forEach((it, k) => {
      if (errors.has(k)) fail(core, it.mapped, errors.get(k));
      else written(core, it.mapped, outputs[k]!);
    });
  }

  return { normalize, readState, storeFeatures, score, writeAll };
}

/**
 * Attributes of a message's infer span: model, version, and its rows in the call (its batch size: one
 * vector per message; `gateway.model.call_rows` the rows of the batch's call, and the micro-batch
 * it joined is in gateway_model_batch_size).
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
