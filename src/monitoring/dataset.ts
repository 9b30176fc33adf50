/**
 * The dataset of a retrain request: a version's recent scored inputs with their labels,
 * de-identified (no patient key, message id or time; ages above 89 reported as 90, as HIPAA's
 * Safe Harbor asks), as CSV and as an Apache Arrow IPC file (apache-arrow).
 */
import {
  type DataType,
  Float64,
  Int8,
  Table,
  tableToIPC,
  Utf8,
  type Vector,
  vectorFromArray,
} from 'apache-arrow';

export interface DatasetRow {
  vals: ReadonlyArray<number | null>;
  score: number;
  label: number | null;
  source: string;
  alias: string;
}

const AGE_FEATURES = new Set(['age']);

function deidentify(features: readonly string[], row: DatasetRow): Array<number | null> {
  return features.map((f, i) => {
    const v = row.vals[i] ?? null;
    return v !== null && AGE_FEATURES.has(f) && v > 89 ? 90 : v;
  });
}

const csvCell = (v: string | number | null) => {
  if (v === null) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export function toCsv(features: readonly string[], rows: readonly DatasetRow[]): Buffer {
  const lines = [[...features, 'score', 'label', 'source', 'alias'].map(csvCell).join(',')];
  for (const r of rows)
    lines.push([...deidentify(features, r), r.score, r.label, r.source, r.alias].map(csvCell).join(','));
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8');
}

export function toArrow(features: readonly string[], rows: readonly DatasetRow[]): Buffer {
  const cleaned = rows.map((r) => deidentify(features, r));
  const columns: Record<string, Vector<DataType>> = {};
  features.forEach((f, i) => {
    columns[f] = vectorFromArray(
      cleaned.map((c) => c[i] ?? null),
      new Float64(),
    );
  });
  columns.score = vectorFromArray(
    rows.map((r) => r.score),
    new Float64(),
  );
  columns.label = vectorFromArray(
    rows.map((r) => r.label),
    new Int8(),
  );
  columns.source = vectorFromArray(
    rows.map((r) => r.source),
    new Utf8(),
  );
  columns.alias = vectorFromArray(
    rows.map((r) => r.alias),
    new Utf8(),
  );
  return Buffer.from(tableToIPC(new Table(columns), 'file'));
}
