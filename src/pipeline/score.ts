/**
 * The scoring part of the pure core: the model calls a batch needs (one per model version, every
 * row of the batch in it), and what the scores make of each message: its `inferred` entries and
 * the prediction to write.
 */

import type { LineageEntryInput } from '../lineage/chain.js';
import { interpret, type LoadedModel } from '../models/runtime/loader.js';
import { primaryIdentifier } from '../normalize/patient-key.js';
import { type CoreContext, entry, fail, type MappedMessage, type Scoring } from './core.js';
import type { MonitoredScore } from './monitored-input.js';
import { PermanentFailure, type Prediction } from './prediction.js';
import { parseHl7SourceRef } from './source-ref.js';

/** One model call of a batch: the rows of every message it scores, and whose they are. */
export interface ScoreRequest {
  model: LoadedModel;
  rows: number[][];
  /** Per row: the message (index in the batch), its scoring, and the companion (-1: production). */
  refs: Array<{ message: number; scoring: number; companion: number }>;
}

/** The model calls a batch needs: one per model version, rows in batch order. */
export function requestsOf(batch: readonly MappedMessage[]): ScoreRequest[] {
  const byModel = new Map<LoadedModel, ScoreRequest>();
  const add = (model: LoadedModel, row: number[], ref: ScoreRequest['refs'][number]) => {
    let r = byModel.get(model);
    if (!r) {
      r = { model, rows: [], refs: [] };
      byModel.set(model, r);
    }
    r.rows.push(row);
    r.refs.push(ref);
  };
  batch.forEach((m, message) => {
    if (m.outcome) return;
    m.scorings.forEach((s, scoring) => {
      add(s.model, s.vector.vector, { message, scoring, companion: -1 });
      s.companions.forEach((c, companion) => {
        add(c.model, s.vector.vector, { message, scoring, companion });
      });
    });
  });
  return [...byModel.values()];
}

/**
 * What a model call answered: its scores in row order, or the error it threw; made again row by
 * row, the error of each row that failed (`errors[row]`).
 */
export type ScoreResult = { scores: readonly number[]; errors?: readonly unknown[] } | { error: unknown };

/**
 * Records each request's scores in the batch (`results[i]` answers `requests[i]`), then the
 * `inferred` entries and the prediction to write of every scoring. A production call that failed
 * fails (or retries) the messages it scored; a companion that failed records no score.
 */
export function withScores(
  ctx: CoreContext,
  batch: MappedMessage[],
  requests: readonly ScoreRequest[],
  results: readonly ScoreResult[],
): void {
  const errors = new Map<number, { err: unknown; scoring: number }>();
  requests.forEach((req, i) => {
    const res = results[i]!;
    req.refs.forEach((ref, row) => {
      const s = batch[ref.message]!.scorings[ref.scoring]!;
      const err = 'error' in res ? res.error : res.errors?.[row];
      if (err !== undefined || 'error' in res) {
        if (ref.companion < 0 && !errors.has(ref.message))
          errors.set(ref.message, { err, scoring: ref.scoring });
        return;
      }
      if (ref.companion < 0) s.score = res.scores[row];
      else {
        s.companionScores ??= [];
        s.companionScores[ref.companion] = res.scores[row];
      }
    });
  });
  batch.forEach((m, i) => {
    if (m.outcome || m.scorings.length === 0) return;
    const failed = errors.get(i);
    try {
      m.scorings.forEach((s, n) => {
        m.point.stage = 'infer';
        m.point.model = s.mapping.model;
        if (failed?.scoring === n) throw failed.err;
        inferred(ctx, m, s);
      });
      m.point.stage = 'write';
    } catch (err) {
      fail(ctx, m, err);
    }
  });
}

function inferred(ctx: CoreContext, m: MappedMessage, s: Scoring): void {
  const { model, mapping, vector } = s;
  const score = s.score;
  if (score === undefined || !Number.isFinite(score))
    throw new PermanentFailure(`model ${model.name} returned no score`);
  const band = interpret(model.card, score);
  const scores: MonitoredScore[] = [{ version: model.version, alias: 'production', score }];
  // The entries go right after its mapping's `mapped` entry, as when each mapping ran in turn.
  let insert = m.stages.findIndex((e) => e.stage === 'mapped' && e.detail.model === mapping.model) + 1;
  while (insert > 0 && insert < m.stages.length && m.stages[insert]!.stage === 'inferred') insert++;
  const entries: LineageEntryInput[] = [
    entry(ctx, m.messageId, 'inferred', {
      model: model.name,
      modelVersion: model.version,
      modelSha256: model.sha256,
      mappingVersion: mapping.version,
      score,
      ...(band ? { interpretation: band.interpretation.code, band: band.name } : {}),
      inputs: vector.used.map((u) => u.feature),
    }),
  ];
  // Shadow and canary versions score the same vector and are recorded, never written.
  s.companions.forEach((c, i) => {
    const cs = s.companionScores?.[i];
    if (cs !== undefined && Number.isFinite(cs))
      scores.push({ version: c.model.version, alias: c.alias as MonitoredScore['alias'], score: cs });
    entries.push(
      entry(ctx, m.messageId, 'inferred', {
        model: c.model.name,
        modelVersion: c.model.version,
        modelSha256: c.model.sha256,
        mappingVersion: mapping.version,
        alias: c.alias,
        written: false,
        score: cs ?? null,
      }),
    );
  });
  if (insert > 0) m.stages.splice(insert, 0, ...entries);
  else m.stages.push(...entries);
  s.input.scores = scores;
  m.predictions.push(predictionOf(ctx, m, s, score));
}

function predictionOf(ctx: CoreContext, m: MappedMessage, s: Scoring, score: number): Prediction {
  const event = m.event!;
  const pid = primaryIdentifier(event.patient)!;
  const hl7Sources = s.vector.used
    .map((u) => parseHl7SourceRef(u.sourceRef))
    .filter((x): x is NonNullable<typeof x> => !!x);
  return {
    eventKey: m.messageId,
    patient: { ...pid, reference: event.patient.reference },
    encounter: event.encounter,
    model: s.model,
    mappingVersion: s.mapping.version,
    score,
    effectiveAt: s.vector.newestObservedAt ?? s.at,
    issuedAt: ctx.now().toISOString(),
    // Every FHIR input: this event's values and those of earlier inputs the vector used.
    derivedFrom: [
      ...s.values.flatMap((v) => (v.sourceReference ? [v.sourceReference] : [])),
      ...s.vector.used.flatMap((u) => (u.sourceRef && !parseHl7SourceRef(u.sourceRef) ? [u.sourceRef] : [])),
    ],
    hl7Sources: [...new Map(hl7Sources.map((x) => [`${x.sender}\u0000${x.controlId}`, x])).values()],
  };
}
