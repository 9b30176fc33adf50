import type { Database, Queryable } from '../db/database.js';
import { sql } from '../db/sql.js';
import type { FeatureValue } from './extract.js';
import type { Mapping } from './mapping.js';

/**
 * Per-patient feature state (table feature_state, migration 003) and the pure assembly of a
 * model input vector from it. The store keeps, per (patient, model, feature), the newest value by
 * observation time: a value observed earlier that arrives later never replaces a newer one.
 */

export interface FeatureStore {
  apply(patientKey: string, model: string, values: readonly FeatureValue[]): Promise<void>;
  /**
   * The values of many patients and models in one statement (a pipeline batch), rows locked in
   * key order so that two batches touching the same rows never wait on each other in a circle.
   */
  applyMany?(
    rows: ReadonlyArray<{ patientKey: string; model: string; values: readonly FeatureValue[] }>,
  ): Promise<void>;
  snapshot(patientKey: string, model: string): Promise<FeatureValue[]>;
  /** The snapshots of many patients in one query (a re-scoring group); patients without state are absent. */
  snapshots(patientKeys: readonly string[], model: string): Promise<Map<string, FeatureValue[]>>;
}

interface Row {
  feature: string;
  value: number;
  unit: string;
  observed_at: Date | string;
  source_ref: string;
  source_unit: string | null;
  source_value: number | null;
  source_reference: string | null;
}

const q = sql(import.meta.url, 'state', [
  'upsert',
  'upsertMany',
  'snapshot',
  'snapshots',
  'activePatients',
] as const);

/** The patients of `model` whose feature state changed since `since` (re-scoring plans a round). */
export async function activePatients(db: Queryable, model: string, since: string): Promise<string[]> {
  return (await db.query<{ patient_key: string }>(q.activePatients, [model, since])).rows.map(
    (x) => x.patient_key,
  );
}

/** The newest value per feature in a batch (an upsert cannot touch one row twice). */
export function newestPerFeature(values: readonly FeatureValue[]): FeatureValue[] {
  const best = new Map<string, FeatureValue>();
  for (const v of values) {
    const cur = best.get(v.feature);
    if (!cur || Date.parse(v.observedAt) >= Date.parse(cur.observedAt)) best.set(v.feature, v);
  }
  return [...best.values()];
}

export function createFeatureStore(db: Database): FeatureStore {
  return {
    async apply(patientKey, model, values) {
      const batch = newestPerFeature(values);
      if (batch.length === 0) return;
      await db.query(q.upsert, [
        patientKey,
        model,
        batch.map((v) => v.feature),
        batch.map((v) => v.value),
        batch.map((v) => v.unit),
        batch.map((v) => new Date(v.observedAt).toISOString()),
        batch.map((v) => v.sourceRef),
        batch.map((v) => v.sourceUnit ?? null),
        batch.map((v) => v.sourceValue ?? null),
        batch.map((v) => v.sourceReference ?? null),
      ]);
    },
    async applyMany(rows) {
      // One row per (patient, model, feature), the newest; in key order.
      const byKey = new Map<string, FeatureValue[]>();
      for (const r of rows) {
        const k = `${r.patientKey}\u0000${r.model}`;
        byKey.set(k, [...(byKey.get(k) ?? []), ...r.values]);
      }
      const flat = [...byKey]
        .flatMap(([k, values]) => {
          const [patientKey, model] = k.split('\u0000') as [string, string];
          return newestPerFeature(values).map((v) => ({ patientKey, model, v }));
        })
        .sort((a, b) => {
          const x = `${a.patientKey}\u0000${a.model}\u0000${a.v.feature}`;
          const y = `${b.patientKey}\u0000${b.model}\u0000${b.v.feature}`;
          return x < y ? -1 : x > y ? 1 : 0;
        });
      if (flat.length === 0) return;
      await db.query(q.upsertMany, [
        flat.map((r) => r.patientKey),
        flat.map((r) => r.model),
        flat.map((r) => r.v.feature),
        flat.map((r) => r.v.value),
        flat.map((r) => r.v.unit),
        flat.map((r) => new Date(r.v.observedAt).toISOString()),
        flat.map((r) => r.v.sourceRef),
        flat.map((r) => r.v.sourceUnit ?? null),
        flat.map((r) => r.v.sourceValue ?? null),
        flat.map((r) => r.v.sourceReference ?? null),
      ]);
    },
    async snapshot(patientKey, model) {
      const r = await db.query<Row>(q.snapshot, [patientKey, model]);
      return r.rows.map(toValue);
    },
    async snapshots(patientKeys, model) {
      const out = new Map<string, FeatureValue[]>();
      if (patientKeys.length === 0) return out;
      const r = await db.query<Row & { patient_key: string }>(q.snapshots, [patientKeys, model]);
      for (const row of r.rows) {
        const list = out.get(row.patient_key);
        if (list) list.push(toValue(row));
        else out.set(row.patient_key, [toValue(row)]);
      }
      return out;
    },
  };
}

function toValue(r: Row): FeatureValue {
  return {
    feature: r.feature,
    value: Number(r.value),
    unit: r.unit,
    observedAt: new Date(r.observed_at).toISOString(),
    sourceRef: r.source_ref,
    ...(r.source_unit !== null ? { sourceUnit: r.source_unit } : {}),
    ...(r.source_value !== null ? { sourceValue: Number(r.source_value) } : {}),
    ...(r.source_reference !== null ? { sourceReference: r.source_reference } : {}),
  };
}

export interface AssembledVector {
  /** True when every required feature has a value within its lookback. */
  complete: boolean;
  /** In mapping feature order; NaN where a required feature is missing. */
  vector: number[];
  /** Required features without a usable value. */
  missing: string[];
  /** State values used, in feature order. */
  used: FeatureValue[];
  /** Features filled with their impute value. */
  imputed: string[];
  /** Newest observedAt among `used` (the output's effectiveDateTime). */
  newestObservedAt?: string;
}

/**
 * Builds the model input at time `at` (ISO): a value counts when observed no earlier than
 * `at - lookback`. (Values newer than `at` count: the store keeps only the newest value.)
 */
export function assembleVector(
  mapping: Mapping,
  state: readonly FeatureValue[],
  at: string,
): AssembledVector {
  const atMs = Date.parse(at);
  if (Number.isNaN(atMs)) throw new RangeError('assembleVector: `at` is not an ISO date-time');
  const byName = new Map(state.map((v) => [v.feature, v]));
  const out: AssembledVector = { complete: true, vector: [], missing: [], used: [], imputed: [] };
  let newest: number | undefined;
  for (const spec of mapping.features) {
    const v = byName.get(spec.name);
    const fresh =
      v !== undefined &&
      v.unit === spec.unit &&
      (spec.lookbackMs === undefined || Date.parse(v.observedAt) >= atMs - spec.lookbackMs);
    if (fresh) {
      out.vector.push(v.value);
      out.used.push(v);
      const t = Date.parse(v.observedAt);
      if (newest === undefined || t > newest) newest = t;
    } else if (spec.missing.policy === 'impute') {
      out.vector.push(spec.missing.value);
      out.imputed.push(spec.name);
    } else {
      out.vector.push(Number.NaN);
      out.missing.push(spec.name);
      out.complete = false;
    }
  }
  if (newest !== undefined) out.newestObservedAt = new Date(newest).toISOString();
  return out;
}
