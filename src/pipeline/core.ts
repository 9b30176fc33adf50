/**
 * The pure core of message scoring: events in, with the mappings, the models and the patients'
 * feature state; out, per message, the feature values to store, the rows to score, the predictions
 * to write, the lineage entries and the outcome. No database, no network, no clock but the one
 * passed in. A batch is an array of messages in the order they were received: each message sees
 * the feature values of the messages before it in the batch (per-patient order), and every model
 * scores the rows of the whole batch in one call (requestsOf / withScores).
 *
 * The I/O shell (process.ts) reads the inbox rows, normalizes, reads the state, calls the models,
 * writes the predictions and finishes the messages in one transaction (finish.ts).
 */

import { extractFeatures, type FeatureValue, triggersScoring, usesMessageType } from '../features/extract.js';
import type { Mapping } from '../features/mapping.js';
import { type AssembledVector, assembleVector, newestPerFeature } from '../features/state.js';
import { Hl7ParseError } from '../hl7/parser.js';
import { isDataError } from '../inbox/storable.js';
import type { LineageEntryInput } from '../lineage/chain.js';
import type { LineageOutput } from '../lineage/store.js';
import type { LoadedModel } from '../models/runtime/loader.js';
import type { ClinicalEvent } from '../normalize/event.js';
import { SPLIT_MESSAGE_TYPE } from '../normalize/fhir/split.js';
import { patientKey } from '../normalize/patient-key.js';
import { classify } from './failure.js';
import type { MonitoredInput } from './monitored-input.js';
import { PermanentFailure, type Prediction } from './prediction.js';
import { hl7SourceRef } from './source-ref.js';

/** A message as the core sees it: its inbox identity and its normalized event. */
export interface CoreMessage {
  messageId: string;
  sender: string;
  controlId: string;
  event: ClinicalEvent;
}

export interface CoreContext {
  mappings: readonly Mapping[];
  /** The version that writes (production) and those that only score and record (shadow, canary). */
  models: {
    get(name: string): LoadedModel | undefined;
    companions?(name: string, patientKey: string): Array<{ alias: string; model: LoadedModel }>;
  };
  now(): Date;
}

/** Where a failure happened, for the dead-letter store. */
export interface FailurePoint {
  stage: string;
  model?: string;
  attempts?: number;
}

/** How a message's run ends; `retry`: a transient failure, the queue tries it again. */
export type Outcome =
  | { status: 'processed' | 'ignored'; reason: string | null }
  | { status: 'failed'; reason: string; failure: FailurePoint; errorCode?: string }
  | { status: 'retry'; error: unknown };

/** Feature state per patient and model (`stateKey`), as stored before the batch. */
export type FeatureState = Map<string, readonly FeatureValue[]>;
export const stateKey = (patient: string, model: string) => `${patient}\u0000${model}`;

/** The state the store holds after an upsert of `values` (feature_state keeps the newest by time). */
export function mergeState(stored: readonly FeatureValue[], values: readonly FeatureValue[]): FeatureValue[] {
  const byName = new Map(stored.map((v) => [v.feature, v]));
  for (const v of newestPerFeature(values)) {
    const cur = byName.get(v.feature);
    if (!cur || Date.parse(cur.observedAt) <= Date.parse(v.observedAt)) byName.set(v.feature, v);
  }
  return [...byName.values()].sort((a, b) => (a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0));
}

/** One mapping of a message that asks for a score. */
export interface Scoring {
  mapping: Mapping;
  model: LoadedModel;
  vector: AssembledVector;
  values: readonly FeatureValue[];
  at: string;
  input: MonitoredInput;
  companions: Array<{ alias: string; model: LoadedModel }>;
  /** Filled by withScores. */
  score?: number;
  companionScores?: Array<number | undefined>;
}

/** A message after mapping: what to store, what to score; `outcome` once its run has ended. */
export interface MappedMessage {
  messageId: string;
  event?: ClinicalEvent;
  /** Lineage entries so far, per part: `parsed`, then each mapping's, then `written` or `failed`. */
  stages: LineageEntryInput[];
  point: FailurePoint;
  /** Feature values to store, per patient and model. */
  writes: Array<{ patientKey: string; model: string; values: FeatureValue[] }>;
  monitored: MonitoredInput[];
  scorings: Scoring[];
  /** Set when the run ended without scoring (split, ignored) or failed. */
  outcome?: Outcome;
  /** The prediction of each scoring (filled by withScores), in mapping order. */
  predictions: Prediction[];
}

/** The lineage entry of a stage of a message, at the core's clock. */
export function entry(ctx: CoreContext, messageId: string, stage: string, detail: Record<string, unknown>) {
  return { messageId, stage, at: ctx.now().toISOString(), detail };
}

/** A message whose event could not be made (parse or normalize failed): failed or retried. */
export function unparsed(
  ctx: CoreContext,
  messageId: string,
  err: unknown,
  attempts?: number,
): MappedMessage {
  const m = blank(messageId, { stage: 'parse', ...(attempts ? { attempts } : {}) });
  return fail(ctx, m, err);
}

function blank(messageId: string, point: FailurePoint): MappedMessage {
  return { messageId, stages: [], point, writes: [], monitored: [], scorings: [], predictions: [] };
}

/**
 * Maps one message against the working state, which it updates in place with the values the
 * message brings (so the next message of the batch sees them). A message that fails leaves the
 * state as it found it.
 */
export function mapMessage(
  ctx: CoreContext,
  msg: CoreMessage,
  state: FeatureState,
  attempts?: number,
): MappedMessage {
  const { event, messageId } = msg;
  const m = blank(messageId, { stage: 'map', ...(attempts ? { attempts } : {}) });
  m.event = event;
  m.stages.push(
    entry(ctx, messageId, 'parsed', {
      messageType: event.source.messageType,
      version: event.source.version ?? null,
      observations: event.observations.length,
    }),
  );
  if (event.source.messageType === SPLIT_MESSAGE_TYPE) {
    // A notification naming several patients: its parts (lineage `split`) are scored as messages
    // of their own; this one is done.
    m.outcome = { status: 'processed', reason: 'split per patient' };
    return m;
  }
  const used = ctx.mappings.filter((x) => usesMessageType(x, event.source.messageType));
  if (used.length === 0) {
    m.stages.push(
      entry(ctx, messageId, 'ignored', {
        reason: `no mapping uses message type ${event.source.messageType}`,
      }),
    );
    m.outcome = { status: 'ignored', reason: 'no mapping uses this message type' };
    return m;
  }
  const changed = new Map<string, readonly FeatureValue[] | undefined>();
  try {
    const key = patientKey(event.patient);
    if (!key) throw new PermanentFailure('no patient identifier (PID-3) in the message');
    for (const mapping of used) mapOne(ctx, msg, m, mapping, key, state, changed);
  } catch (err) {
    for (const [k, v] of changed) v === undefined ? state.delete(k) : state.set(k, v);
    return fail(ctx, m, err);
  }
  return m;
}

function mapOne(
  ctx: CoreContext,
  msg: CoreMessage,
  m: MappedMessage,
  mapping: Mapping,
  key: string,
  state: FeatureState,
  changed: Map<string, readonly FeatureValue[] | undefined>,
): void {
  const { event } = msg;
  const model = ctx.models.get(mapping.model);
  m.point.stage = 'map';
  m.point.model = mapping.model;
  if (!model)
    throw new PermanentFailure(`mapping ${mapping.file} names model ${mapping.model}, which is not loaded`);
  const extracted = extractFeatures(event, mapping);
  const values = extracted.values.map((v) => ({
    ...v,
    sourceRef: v.sourceReference ?? hl7SourceRef(msg.sender, msg.controlId, v.sourceRef),
  }));
  const sk = stateKey(key, mapping.model);
  if (!changed.has(sk)) changed.set(sk, state.get(sk));
  const snapshot = mergeState(state.get(sk) ?? [], values);
  state.set(sk, snapshot);
  if (values.length > 0) m.writes.push({ patientKey: key, model: mapping.model, values });
  const at = newest([...values.map((v) => v.observedAt), event.occurredAt]) ?? ctx.now().toISOString();
  const vector = assembleVector(mapping, snapshot, at);
  m.stages.push(
    entry(ctx, msg.messageId, 'mapped', {
      model: mapping.model,
      mappingVersion: mapping.version,
      features: values.map((v) => v.feature),
      rejected: extracted.rejected.map((r) => ({ feature: r.feature, ref: r.ref, reason: r.reason })),
      complete: vector.complete,
      ...(vector.complete ? {} : { waitingFor: vector.missing }),
      ...(vector.imputed.length > 0 ? { imputed: vector.imputed } : {}),
    }),
  );
  // Monitored when the message brought this model an observation (age alone does not count).
  const observed = (f: { feature: string }) =>
    mapping.features.some((s) => s.name === f.feature && s.source === 'observation');
  const offered = extracted.values.some(observed) || extracted.rejected.some(observed);
  const input: MonitoredInput = {
    model: mapping.model,
    features: mapping.features.map((f) => f.name),
    patientKey: key,
    source: msg.sender,
    at: vector.newestObservedAt ?? at,
    vector: vector.vector,
    missing: vector.missing,
    imputed: vector.imputed,
    values: extracted.values,
    rejected: extracted.rejected,
    scores: [],
    productionVersion: model.version,
  };
  if (offered) m.monitored.push(input);
  if (!vector.complete || !triggersScoring(event, mapping, values)) return;
  m.scorings.push({
    mapping,
    model,
    vector,
    values,
    at,
    input,
    companions: ctx.models.companions?.(mapping.model, key) ?? [],
  });
}

/** Maps a batch in order from the stored state (which it does not change). */
export function mapBatch(
  ctx: CoreContext,
  messages: readonly CoreMessage[],
  stored: FeatureState,
): MappedMessage[] {
  const state: FeatureState = new Map(stored);
  return messages.map((msg) => mapMessage(ctx, msg, state));
}

/** The end of a message whose predictions were written: `written` (when any) and processed. */
export function written(ctx: CoreContext, m: MappedMessage, outputs: readonly LineageOutput[]): void {
  if (outputs.length > 0) m.stages.push(entry(ctx, m.messageId, 'written', { outputs }));
  m.outcome = { status: 'processed', reason: null };
}

/**
 * Ends a message's run on an error: failed with a `failed` entry when retrying cannot help,
 * else `retry` (the FHIR server or the database away, a time-out, a bug: the queue backs off).
 */
export function fail(ctx: CoreContext, m: MappedMessage, err: unknown): MappedMessage {
  const c = classify(err);
  if (!c.permanent) {
    m.outcome = { status: 'retry', error: err };
    return m;
  }
  // The database refused this message's data: the stages recorded so far may hold what it
  // refused, so only the failure is recorded (retrying could never succeed).
  if (isDataError(err)) m.stages.length = 0;
  m.stages.push(
    entry(ctx, m.messageId, 'failed', {
      reason: c.reason,
      during: m.point.stage,
      ...(m.point.model ? { model: m.point.model } : {}),
    }),
  );
  m.outcome = {
    status: 'failed',
    reason: c.reason,
    failure: { ...m.point },
    ...(err instanceof Hl7ParseError ? { errorCode: err.code } : {}),
  };
  return m;
}

/** The latest of some ISO 8601 times, compared as instants (offsets may differ). */
function newest(times: Array<string | undefined>): string | undefined {
  let best: string | undefined;
  for (const t of times) if (t && (!best || Date.parse(t) > Date.parse(best))) best = t;
  return best;
}
