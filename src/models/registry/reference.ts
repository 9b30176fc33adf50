/**
 * The training distribution a model card carries (`monitoring:` in card.yaml), written by
 * `npm run models:build` or taken from an MLflow model directory: per feature and for the score,
 * quantile bins with their proportions, mean, sd and missing rate, and the limits live windows
 * are judged by. Pure: schema, building from training columns, and the bin of a value.
 */
import { z } from 'zod';

const probability = z.number().min(0).max(1);

const distribution = z.strictObject({
  /** Cut points between bins, increasing: bin i holds edges[i-1] <= x < edges[i]. */
  edges: z.array(z.number()),
  /** Share of the training rows in each bin (edges.length + 1 of them). */
  proportions: z.array(probability),
  mean: z.number(),
  sd: z.number().min(0),
});

const featureReference = distribution.extend({
  name: z.string().min(1),
  missingRate: probability.default(0),
});

export const monitoringSchema = z.strictObject({
  reference: z.strictObject({
    dataset: z.string().min(1),
    size: z.number().int().positive(),
    features: z.array(featureReference),
    score: distribution.extend({
      /** Share of training rows at or above each card threshold. */
      flagged: z
        .array(z.strictObject({ name: z.string(), atLeast: probability, fraction: probability }))
        .default([]),
    }),
  }),
  thresholds: z
    .strictObject({
      psi: z
        .strictObject({ warn: z.number().positive().default(0.1), alert: z.number().positive().default(0.2) })
        .prefault({}),
      /** Alert when a feature's missing rate exceeds the reference's by this much. */
      missingRate: z.number().min(0).max(1).default(0.2),
      outOfRangeRate: z.number().min(0).max(1).default(0.05),
      unitRefusedRate: z.number().min(0).max(1).default(0.05),
      /** Alert when AUROC falls this far below the card's. */
      aurocDrop: z.number().min(0).max(1).default(0.1),
    })
    .prefault({}),
});

export type MonitoringSpec = z.infer<typeof monitoringSchema>;
export type Distribution = z.infer<typeof distribution>;
export type FeatureReference = z.infer<typeof featureReference>;

/** The bin of x: the number of edges at or below it. */
export function binIndex(edges: readonly number[], x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (edges[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const round = (x: number, d = 6) => Math.round(x * 10 ** d) / 10 ** d;

/** Quantile bins (deciles by default; tied cut points merged), proportions, mean and sd of finite values. */
export function describe(values: ArrayLike<number>, bins = 10): Distribution {
  const xs = Array.from(values)
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  const n = xs.length;
  const edges: number[] = [];
  for (let i = 1; i < bins && n > 0; i++) {
    const q = xs[Math.min(n - 1, Math.floor((i * n) / bins))]!;
    // A cut at the minimum leaves an empty first bin; a repeated cut is one cut.
    if (q > xs[0]! && (edges.length === 0 || q > edges[edges.length - 1]!)) edges.push(round(q));
  }
  const counts = new Array<number>(edges.length + 1).fill(0);
  let sum = 0;
  let sq = 0;
  for (const x of xs) {
    counts[binIndex(edges, x)]! += 1;
    sum += x;
    sq += x * x;
  }
  const mean = n > 0 ? sum / n : 0;
  return {
    edges,
    proportions: counts.map((c) => round(n > 0 ? c / n : 0, 4)),
    mean: round(mean),
    sd: round(n > 1 ? Math.sqrt(Math.max(0, (sq - n * mean * mean) / (n - 1))) : 0),
  };
}

/** The reference of a training set: columns by feature name (NaN = missing) and the model's scores. */
export function buildReference(
  dataset: string,
  columns: ReadonlyArray<{ name: string; values: ArrayLike<number> }>,
  scores: ArrayLike<number>,
  thresholds: ReadonlyArray<{ name: string; atLeast: number }>,
): MonitoringSpec {
  const score = describe(scores, 10);
  const s = Array.from(scores);
  return {
    reference: {
      dataset,
      size: s.length,
      features: columns.map((c) => {
        const all = Array.from(c.values);
        const missing = all.filter((x) => !Number.isFinite(x)).length;
        return { name: c.name, ...describe(all), missingRate: round(all.length ? missing / all.length : 0) };
      }),
      score: {
        ...score,
        flagged: thresholds
          .filter((t) => t.atLeast > 0)
          .map((t) => ({
            name: t.name,
            atLeast: t.atLeast,
            fraction: round(s.filter((x) => x >= t.atLeast).length / s.length),
          })),
      },
    },
    thresholds: monitoringSchema.shape.thresholds.parse(undefined),
  };
}
