/**
 * Monitoring's tables (migration 130): the live window of a version, its labelled predictions,
 * labelling once a horizon has passed, and pruning what no window or performance figure needs.
 * SQL over the Database interface; every process reads the same rows.
 */
import type { Database, Queryable } from '../db/database.js';
import { labelOf, type OutcomeDefinition } from './outcomes.js';
import type { WindowRow } from './report.js';

const iso = (v: unknown) => (v instanceof Date ? v : new Date(String(v))).toISOString();
const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
const arr = (v: unknown): Array<number | null> =>
  (Array.isArray(v) ? v : typeof v === 'string' ? v.replace(/[{}]/g, '').split(',').filter(Boolean) : []).map(
    (x: unknown) => (x === null || x === 'NULL' ? null : Number(x)),
  );

export interface Window {
  from: string | null;
  to: string | null;
  rows: WindowRow[];
}

/** The newest `size` inputs of a version, newest first. */
export async function readWindow(
  db: Queryable,
  model: string,
  version: string,
  size: number,
): Promise<Window> {
  const r = await db.query<Record<string, unknown>>(
    `select source, at, score, vals, missing, imputed, offered, unit_refused, out_of_range, recorded_at
       from monitor_sample where model = $1 and version = $2 order by seq desc limit $3`,
    [model, version, size],
  );
  const rows = r.rows.map((x) => ({
    source: String(x.source),
    at: iso(x.at),
    score: num(x.score),
    vals: arr(x.vals),
    missing: Number(x.missing),
    imputed: Number(x.imputed),
    offered: Number(x.offered),
    unitRefused: Number(x.unit_refused),
    outOfRange: Number(x.out_of_range),
  }));
  const times = r.rows.map((x) => Date.parse(iso(x.recorded_at)));
  return {
    from: times.length ? new Date(Math.min(...times)).toISOString() : null,
    to: times.length ? new Date(Math.max(...times)).toISOString() : null,
    rows,
  };
}

export async function readLabelled(db: Queryable, model: string, version: string, size: number) {
  const r = await db.query<{ score: number; label: number }>(
    `select score, label from monitor_sample where model = $1 and version = $2 and label is not null
      and score is not null order by seq desc limit $3`,
    [model, version, size],
  );
  return r.rows.map((x) => ({ score: Number(x.score), label: Number(x.label) }));
}

export async function pendingLabels(db: Queryable, model: string, version: string): Promise<number> {
  const r = await db.query<{ n: number }>(
    `select count(*)::int as n from monitor_sample where model = $1 and version = $2 and label is null
      and score is not null and horizon_at is not null`,
    [model, version],
  );
  return Number(r.rows[0]?.n ?? 0);
}

/** A version's scores beside production's on the same messages, newest first. */
export async function readPairs(db: Queryable, model: string, version: string, size: number) {
  const r = await db.query<Record<string, unknown>>(
    `select a.score, p.score as production, coalesce(a.label, p.label) as label
       from monitor_sample a
       join monitor_sample p on p.model = a.model and p.message_id = a.message_id and p.alias = 'production'
      where a.model = $1 and a.version = $2 and a.alias <> 'production' and a.score is not null and p.score is not null
      order by a.seq desc limit $3`,
    [model, version, size],
  );
  return r.rows.map((x) => ({
    score: Number(x.score),
    production: Number(x.production),
    label: num(x.label),
  }));
}

/**
 * Labels every prediction whose horizon (plus grace) has passed, from the outcome events that
 * followed it; `label is null` in the update makes it once, whichever process gets there first.
 */
export async function labelDue(
  db: Database,
  defs: readonly OutcomeDefinition[],
  features: (model: string) => readonly string[],
  now: Date,
  graceMs: number,
  batch = 2000,
): Promise<number> {
  const due = await db.query<Record<string, unknown>>(
    `select seq, model, patient_key, at, vals from monitor_sample
      where label is null and score is not null and horizon_at <= $1 order by horizon_at limit $2`,
    [new Date(now.getTime() - graceMs).toISOString(), batch],
  );
  if (due.rows.length === 0) return 0;
  const keys = [...new Set(due.rows.map((x) => String(x.patient_key)))];
  const ev = await db.query<Record<string, unknown>>(
    'select patient_key, model, rule, at, value from monitor_outcome_event where patient_key = any($1::text[])',
    [keys],
  );
  const byPatient = new Map<
    string,
    Array<{ model: string; rule: string; at: number; value: number | null }>
  >();
  for (const e of ev.rows) {
    const k = String(e.patient_key);
    const list = byPatient.get(k) ?? [];
    list.push({
      model: String(e.model),
      rule: String(e.rule),
      at: Date.parse(iso(e.at)),
      value: num(e.value),
    });
    byPatient.set(k, list);
  }
  const seqs: string[] = [];
  const labels: number[] = [];
  for (const row of due.rows) {
    const model = String(row.model);
    const def = defs.find((d) => d.model === model);
    if (!def) continue;
    const events = (byPatient.get(String(row.patient_key)) ?? []).filter((e) => e.model === model);
    seqs.push(String(row.seq));
    labels.push(
      labelOf(def, { at: Date.parse(iso(row.at)), vals: arr(row.vals), features: features(model) }, events),
    );
  }
  if (seqs.length === 0) return 0;
  const r = await db.query(
    `update monitor_sample s set label = v.label, labelled_at = now()
       from unnest($1::bigint[], $2::int[]) as v(seq, label)
      where s.seq = v.seq and s.label is null`,
    [seqs, labels],
  );
  return r.rowCount ?? 0;
}

/**
 * Drops what no window needs: rows older than a version's window that are labelled (beyond the
 * newest `keepLabelled`) or will never be; outcome events older than every horizon.
 */
export async function prune(
  db: Queryable,
  windowSize: number,
  keepLabelled: number,
  maxHorizonMs: number,
  now: Date,
) {
  const versions = await db.query<{ model: string; version: string }>(
    'select distinct model, version from monitor_sample',
  );
  for (const v of versions.rows) {
    const edge = async (labelled: boolean, offset: number) =>
      (
        await db.query<{ seq: string }>(
          `select seq from monitor_sample where model = $1 and version = $2 ${labelled ? 'and label is not null' : ''}
            order by seq desc offset $3 limit 1`,
          [v.model, v.version, offset],
        )
      ).rows[0]?.seq;
    const windowStart = await edge(false, windowSize);
    if (windowStart === undefined) continue;
    const labelledStart = (await edge(true, keepLabelled)) ?? '0';
    await db.query(
      `delete from monitor_sample where model = $1 and version = $2 and seq <= $3
          and (score is null or horizon_at is null or (label is not null and seq <= $4))`,
      [v.model, v.version, windowStart, labelledStart],
    );
  }
  // Events older than every unlabelled prediction and than twice the longest horizon label nothing.
  await db.query(
    `delete from monitor_outcome_event where at < least($1::timestamptz,
       coalesce((select min(at) from monitor_sample where label is null and score is not null and horizon_at is not null), $1::timestamptz))`,
    [new Date(now.getTime() - 2 * maxHorizonMs - 86_400_000).toISOString()],
  );
}
