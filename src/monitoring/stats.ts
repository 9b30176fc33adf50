/**
 * The statistics of monitoring, pure: population stability index and a Kolmogorov-Smirnov test
 * against a reference's quantile bins, and the performance of scores against labels (AUROC with
 * its Hanley-McNeil interval, Brier score, calibration by decile, rates with Wilson intervals).
 */
import { binIndex, type Distribution } from '../models/registry/reference.js';

const EPS = 1e-4;

/** Live counts in the reference's bins. */
export function binCounts(edges: readonly number[], values: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const x of values) counts[binIndex(edges, x)]! += 1;
  return counts;
}

/** PSI = sum (live - ref) ln(live / ref) over bins, proportions floored at 1e-4. */
export function psi(ref: Distribution, values: readonly number[]): number {
  const n = values.length;
  if (n === 0) return 0;
  const counts = binCounts(ref.edges, values);
  let total = 0;
  counts.forEach((c, i) => {
    const live = Math.max(c / n, EPS);
    const expected = Math.max(ref.proportions[i] ?? 0, EPS);
    total += (live - expected) * Math.log(live / expected);
  });
  return total;
}

/** Kolmogorov's Q: P(D > observed) for lambda. */
function kolmogorovQ(lambda: number): number {
  if (lambda < 0.2) return 1;
  let sum = 0;
  for (let k = 1; k <= 100; k++) {
    const term = 2 * (k % 2 === 1 ? 1 : -1) * Math.exp(-2 * k * k * lambda * lambda);
    sum += term;
    if (Math.abs(term) < 1e-10) break;
  }
  return Math.min(1, Math.max(0, sum));
}

/**
 * Two-sample KS between the live values and the reference (of `refSize` rows), with both CDFs read
 * at the reference's cut points (conservative: D on bins is at most D on raw values); the p-value
 * is the asymptotic one for the effective sample size n*m/(n+m).
 */
export function ksTest(ref: Distribution, refSize: number, values: readonly number[]) {
  const n = values.length;
  if (n === 0 || ref.edges.length === 0) return { name: 'ks' as const, statistic: 0, pValue: 1 };
  const counts = binCounts(ref.edges, values);
  let live = 0;
  let expected = 0;
  let d = 0;
  for (let i = 0; i < ref.edges.length; i++) {
    live += counts[i]! / n;
    expected += ref.proportions[i] ?? 0;
    d = Math.max(d, Math.abs(live - expected));
  }
  const ne = (n * refSize) / (n + refSize);
  const sq = Math.sqrt(ne);
  return { name: 'ks' as const, statistic: d, pValue: kolmogorovQ((sq + 0.12 + 0.11 / sq) * d) };
}

export function mean(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Wilson score interval (95 %) of k successes in n. */
export function wilson(k: number, n: number): [number, number] | null {
  if (n === 0) return null;
  const z = 1.959964;
  const p = k / n;
  const den = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / den;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / den;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** AUROC by the rank statistic (ties count one half); null without both classes. */
export function auroc(scores: readonly number[], labels: readonly number[]): number | null {
  const idx = scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let rankSum = 0;
  let pos = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++)
      if (labels[idx[k]!]) {
        rankSum += rank;
        pos++;
      }
    i = j + 1;
  }
  const neg = idx.length - pos;
  if (pos === 0 || neg === 0) return null;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** 95 % interval of an AUROC by Hanley and McNeil (1982). */
export function aurocInterval(a: number, positives: number, negatives: number): [number, number] {
  const q1 = a / (2 - a);
  const q2 = (2 * a * a) / (1 + a);
  const v =
    (a * (1 - a) + (positives - 1) * (q1 - a * a) + (negatives - 1) * (q2 - a * a)) / (positives * negatives);
  const half = 1.959964 * Math.sqrt(Math.max(0, v));
  return [Math.max(0, a - half), Math.min(1, a + half)];
}

export function brier(scores: readonly number[], labels: readonly number[]): number | null {
  if (scores.length === 0) return null;
  let s = 0;
  scores.forEach((p, i) => {
    s += (p - labels[i]!) ** 2;
  });
  return s / scores.length;
}

/** Calibration by decile of the predicted probability (equal-count groups, in score order). */
export function calibration(scores: readonly number[], labels: readonly number[]) {
  const idx = scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  const n = idx.length;
  const out: Array<{ decile: number; n: number; meanPredicted: number; observedRate: number }> = [];
  for (let d = 0; d < 10 && n > 0; d++) {
    const part = idx.slice(Math.floor((d * n) / 10), Math.floor(((d + 1) * n) / 10));
    if (part.length === 0) continue;
    out.push({
      decile: d + 1,
      n: part.length,
      meanPredicted: part.reduce((s, i) => s + scores[i]!, 0) / part.length,
      observedRate: part.reduce((s, i) => s + labels[i]!, 0) / part.length,
    });
  }
  return out;
}

/** Confusion counts, PPV and sensitivity (with Wilson intervals) when score >= atLeast is flagged. */
export function atThreshold(scores: readonly number[], labels: readonly number[], atLeast: number) {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  scores.forEach((s, i) => {
    const flagged = s >= atLeast;
    if (labels[i]) flagged ? tp++ : fn++;
    else flagged ? fp++ : tn++;
  });
  return {
    tp,
    fp,
    fn,
    tn,
    ppv: { value: tp + fp > 0 ? tp / (tp + fp) : null, ci: wilson(tp, tp + fp) },
    sensitivity: { value: tp + fn > 0 ? tp / (tp + fn) : null, ci: wilson(tp, tp + fn) },
  };
}
