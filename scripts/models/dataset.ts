/** A synthetic, labelled data set held as float32 rows (what the ONNX model will see). */

export interface FeatureSpec {
  name: string;
  /** UCUM unit the model expects. */
  unit: string;
  description: string;
  /** LOINC codes whose results feed this feature. */
  loinc: string[];
}

export interface Dataset {
  /** Row-major, n * f values, already rounded to float32. */
  x: Float32Array;
  y: Uint8Array;
  n: number;
  f: number;
}

/** Draws n labelled rows from a generator of synthetic patients. */
export function drawDataset<R>(
  rng: R,
  n: number,
  patient: (rng: R) => { row: number[]; label: number },
): Dataset {
  const rows: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const { row, label } = patient(rng);
    rows.push(row);
    labels.push(label);
  }
  return datasetFromRows(rows, labels);
}

export function datasetFromRows(rows: number[][], labels: number[]): Dataset {
  const n = rows.length;
  const f = rows[0]?.length ?? 0;
  const x = new Float32Array(n * f);
  rows.forEach((row, i) => {
    x.set(row, i * f);
  });
  return { x, y: Uint8Array.from(labels), n, f };
}

/** First `trainFraction` of rows for training, the rest held out (rows are already i.i.d.). */
export function split(data: Dataset, trainFraction: number): { train: Dataset; holdout: Dataset } {
  const cut = Math.round(data.n * trainFraction);
  const part = (from: number, to: number): Dataset => ({
    x: data.x.slice(from * data.f, to * data.f),
    y: data.y.slice(from, to),
    n: to - from,
    f: data.f,
  });
  return { train: part(0, cut), holdout: part(cut, data.n) };
}

export function prevalence(data: Dataset): number {
  let positives = 0;
  for (const label of data.y) positives += label;
  return positives / data.n;
}

export function row(data: Dataset, i: number): number[] {
  return Array.from(data.x.subarray(i * data.f, (i + 1) * data.f));
}
