/**
 * Mini-batch mode: scheduled re-scoring of every active patient's feature state, per model (as
 * Epic's Deterioration Index re-scores every 15 minutes). A tick lists the patients whose state
 * changed within `activeWithinMs` and queues them in groups; each group is one job and one
 * session.run. Production writes one Observation per patient and tick (idempotent on model,
 * tick and patient, so a job run twice writes once); shadow/canary score and are recorded only.
 */
import { createHash } from 'node:crypto';
import type { Database } from '../db/database.js';
import type { Mapping } from '../features/mapping.js';
import { activePatients, assembleVector, type FeatureStore } from '../features/state.js';
import type { LineageEntryInput } from '../lineage/chain.js';
import type { LineageStore } from '../lineage/store.js';
import { interpret } from '../models/registry/card.js';
import type { GovernedRegistry } from '../models/runtime/governed.js';
import { parsePatientKey } from '../normalize/patient-key.js';
import type { Logger } from '../observability/logger.js';
import type { ScoreJob, ScoreQueue } from '../queue/score-queue.js';
import { createPredictionWriter, type PredictionWriterDeps } from './prediction.js';

export interface RescoreDeps extends PredictionWriterDeps {
  db: Database;
  models: GovernedRegistry;
  mappings: readonly Mapping[];
  features: FeatureStore;
  lineage: LineageStore;
  logger: Logger;
  queue: ScoreQueue;
  groupSize: number;
  activeWithinMs: number;
  /** Patients of one group written at once (processing.concurrency). */
  writeConcurrency: number;
  onScored?(model: string, version: string, n: number): void;
}

/** The lineage id of one re-scoring output: no patient identifier in it. */
const rescoreId = (model: string, tick: string, patientKey: string) =>
  `rescore:${createHash('sha256').update(`${model}\u001f${tick}\u001f${patientKey}`).digest('hex').slice(0, 32)}`;

export function createRescorer(d: RescoreDeps) {
  const writePrediction = createPredictionWriter(d);
  /** Plans one round: every active patient of every model with a production version, in groups. */
  async function tick(at: string, only?: string): Promise<number> {
    let queued = 0;
    for (const mapping of d.mappings) {
      if (only && mapping.model !== only) continue;
      if (!d.models.get(mapping.model)) continue;
      const since = new Date(Date.parse(at) - d.activeWithinMs).toISOString();
      const keys = await activePatients(d.db, mapping.model, since);
      const jobs: ScoreJob[] = [];
      for (let i = 0; i < keys.length; i += d.groupSize)
        jobs.push({ model: mapping.model, tick: at, patients: keys.slice(i, i + d.groupSize) });
      if (jobs.length > 0) await d.queue.enqueue(jobs);
      queued += keys.length;
    }
    d.logger.info({ tick: at, patients: queued }, 're-scoring planned');
    return queued;
  }

  /** Scores one group in one session.run per version, writes production, records everything. */
  async function score(job: ScoreJob): Promise<void> {
    const mapping = d.mappings.find((m) => m.model === job.model);
    const model = d.models.get(job.model);
    if (!mapping || !model) return;
    const ready: Array<{ key: string; vector: ReturnType<typeof assembleVector> }> = [];
    const states = await d.features.snapshots(job.patients, job.model);
    for (const key of job.patients) {
      const vector = assembleVector(mapping, states.get(key) ?? [], job.tick);
      if (vector.complete) ready.push({ key, vector });
    }
    if (ready.length === 0) return;
    const width = model.featureNames.length;
    const matrix = new Float32Array(ready.length * width);
    for (const [i, r] of ready.entries()) matrix.set(r.vector.vector, i * width);
    const scores = await model.predict(matrix, ready.length);
    const shadow = new Map<string, { alias: string; version: string; sha256: string; score: number }[]>();
    for (const c of new Map(
      ready.flatMap((r) => d.models.companions(job.model, r.key)).map((c) => [c.model.version, c]),
    ).values()) {
      const members = ready.filter((r) =>
        d.models.companions(job.model, r.key).some((x) => x.model === c.model),
      );
      const m = new Float32Array(members.length * width);
      for (const [i, r] of members.entries()) m.set(r.vector.vector, i * width);
      const s = await c.model.predict(m, members.length);
      members.forEach((r, i) => {
        const list = shadow.get(r.key) ?? [];
        list.push({ alias: c.alias, version: c.model.version, sha256: c.model.sha256, score: s[i]! });
        shadow.set(r.key, list);
      });
    }
    // Each patient's write is a transaction of its own: several at once, the lineage in group order.
    const perPatient = new Array<LineageEntryInput[]>(ready.length);
    const writes = forEachLimited(ready.length, d.writeConcurrency, async (i) => {
      const { key, vector } = ready[i]!;
      const messageId = rescoreId(job.model, job.tick, key);
      const score = scores[i]!;
      const band = interpret(model.card, score);
      const now = new Date().toISOString();
      const output = await writePrediction({
        eventKey: messageId,
        patient: parsePatientKey(key),
        model,
        mappingVersion: mapping.version,
        score,
        effectiveAt: vector.newestObservedAt ?? job.tick,
        issuedAt: now,
      });
      const base = { model: model.name, mappingVersion: mapping.version };
      const inferred = (detail: Record<string, unknown>): LineageEntryInput => ({
        messageId,
        stage: 'inferred',
        at: now,
        detail: { ...base, mode: 'rescore', tick: job.tick, ...detail },
      });
      perPatient[i] = [
        inferred({
          modelVersion: model.version,
          modelSha256: model.sha256,
          score,
          ...(band ? { interpretation: band.interpretation.code, band: band.name } : {}),
        }),
        ...(shadow.get(key) ?? []).map((s) =>
          inferred({
            modelVersion: s.version,
            modelSha256: s.sha256,
            alias: s.alias,
            written: false,
            score: s.score,
          }),
        ),
        { messageId, stage: 'written', at: now, detail: { outputs: [output] } },
      ];
    });
    const failed = await writes.then(
      () => undefined,
      (err: unknown) => ({ err }),
    );
    // What was written is recorded even when another patient's write failed: the job is retried,
    // but it may never succeed, and an Observation in the chart must have its trail. (A retry finds
    // the written ones again by their identifiers and records them again.)
    await d.lineage.appendNow(perPatient.flat());
    if (failed) throw failed.err;
    d.onScored?.(model.name, model.version, ready.length);
  }

  return { tick, score };
}

/**
 * Runs fn(0) .. fn(n - 1), at most `limit` at once. After a failure no further call starts; the
 * first error is thrown once the calls already started have settled.
 */
async function forEachLimited(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const lane = async () => {
    while (!failure && next < n) {
      const i = next++;
      try {
        await fn(i);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), n) }, lane));
  if (failure) throw failure.err;
}
