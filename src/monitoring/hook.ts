/**
 * Monitoring's part of finishing a message: in the transaction that records it as processed, one
 * row per model input and version (monitor_sample) and the outcome events it carries
 * (monitor_outcome_event). One statement each, only when there is something to write; a retried
 * message writes nothing twice (unique keys).
 */
import type { Queryable } from '../db/database.js';
import { patientKey } from '../normalize/patient-key.js';
import { type MonitoredInput, refusalKind } from '../pipeline/monitored-input.js';
import type { FinishHook } from '../pipeline/process.js';
import { type OutcomeDefinition, outcomeEvents } from './outcomes.js';

const SAMPLE_COLUMNS = `model, version, alias, message_id, patient_key, source, at, score, vals,
  missing, imputed, offered, unit_refused, out_of_range, horizon_at`;

/** One multi-row VALUES insert (a message has one row per version that scored it). */
function insertSamples(tx: Queryable, messageId: string, rows: readonly SampleRow[]) {
  const params: unknown[] = [];
  const tuples = rows.map((r) => {
    const at = params.length;
    params.push(r.model, r.version, r.alias, messageId, r.patient_key, r.source, r.at, r.score, r.vals);
    params.push(r.missing, r.imputed, r.offered, r.unit_refused, r.out_of_range, r.horizon_at);
    const p = (k: number) => `$${at + k}`;
    return `(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)}::timestamptz, ${p(8)}::float8, ${p(9)}::float8[], ${p(10)}::int, ${p(11)}::int, ${p(12)}::int, ${p(13)}::int, ${p(14)}::int, ${p(15)}::timestamptz)`;
  });
  return tx.query(
    `insert into monitor_sample (${SAMPLE_COLUMNS}) values ${tuples.join(', ')}
     on conflict (model, version, message_id) do nothing`,
    params,
  );
}

const INSERT_EVENTS = `
insert into monitor_outcome_event (patient_key, model, rule, at, value, message_id)
select e.patient_key, e.model, e.rule, e.at, e.value, $1
  from jsonb_to_recordset($2::jsonb) as e(patient_key text, model text, rule text, at timestamptz, value float8)
on conflict do nothing`;

const mask = (features: readonly string[], names: Iterable<string>) => {
  let m = 0;
  for (const n of names) {
    const i = features.indexOf(n);
    if (i >= 0 && i < 31) m |= 1 << i;
  }
  return m;
};

export interface SampleRow {
  model: string;
  version: string;
  alias: string;
  patient_key: string;
  source: string;
  at: string;
  score: number | null;
  vals: Array<number | null>;
  missing: number;
  imputed: number;
  offered: number;
  unit_refused: number;
  out_of_range: number;
  horizon_at: string | null;
}

/** The rows of one model input: one per version that scored it, or one unscored for production. */
export function sampleRows(input: MonitoredInput, outcome: OutcomeDefinition | undefined): SampleRow[] {
  const f = input.features;
  const refused = (kind: string) =>
    input.rejected.filter((r) => refusalKind(r.reason) === kind).map((r) => r.feature);
  const common = {
    model: input.model,
    patient_key: input.patientKey,
    source: input.source,
    at: input.at,
    vals: input.vector.map((v) => (Number.isFinite(v) ? v : null)),
    missing: mask(f, [...input.missing, ...input.imputed]),
    imputed: mask(f, input.imputed),
    offered: mask(f, [...input.values.map((v) => v.feature), ...input.rejected.map((r) => r.feature)]),
    unit_refused: mask(f, refused('unit')),
    out_of_range: mask(f, refused('range')),
  };
  const horizon = outcome ? new Date(Date.parse(input.at) + outcome.horizonMs).toISOString() : null;
  if (input.scores.length === 0)
    return [
      { ...common, version: input.productionVersion, alias: 'production', score: null, horizon_at: null },
    ];
  return input.scores.map((s) => ({
    ...common,
    version: s.version,
    alias: s.alias,
    score: s.score,
    horizon_at: horizon,
  }));
}

export function monitoringHook(outcomes: readonly OutcomeDefinition[]): FinishHook {
  return {
    async write(tx: Queryable, m) {
      if (m.status !== 'processed' && m.status !== 'ignored') return;
      const monitored = m.monitored ?? [];
      const rows = monitored.flatMap((i) =>
        sampleRows(
          i,
          outcomes.find((o) => o.model === i.model),
        ),
      );
      if (rows.length > 0) await insertSamples(tx, m.messageId, rows);
      const key = m.event ? patientKey(m.event.patient) : undefined;
      if (!m.event || !key || outcomes.length === 0) return;
      const events = outcomeEvents(outcomes, m.event, key, monitored);
      if (events.length > 0)
        await tx.query(INSERT_EVENTS, [
          m.messageId,
          JSON.stringify(
            events.map((e) => ({
              patient_key: e.patientKey,
              model: e.model,
              rule: e.rule,
              at: e.at,
              value: e.value,
            })),
          ),
        ]);
    },
    committed() {},
  };
}
