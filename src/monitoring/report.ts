/**
 * A version's monitoring report from its live window, pure: per feature (and per source) PSI,
 * a KS test, missing / imputed / out-of-range / unit-refused rates and a status; the score's PSI
 * and flagged fractions against the card; performance once outcomes are known; and what a
 * shadow or canary did beside production on the same patients. The JSON shape is the route's
 * (GET /models/{name}/monitoring, documented in the README).
 */
import type { ModelCard } from '../models/registry/card.js';
import { interpret } from '../models/registry/card.js';
import type { MonitoringSpec } from '../models/registry/reference.js';
import { atThreshold, auroc, aurocInterval, brier, calibration, ksTest, mean, psi } from './stats.js';

export type Status = 'ok' | 'warn' | 'alert' | 'insufficient' | 'no reference';

export interface WindowRow {
  source: string;
  at: string;
  score: number | null;
  vals: ReadonlyArray<number | null>;
  missing: number;
  imputed: number;
  offered: number;
  unitRefused: number;
  outOfRange: number;
}

export interface Problem {
  kind: 'drift' | 'missing' | 'unit-refused' | 'out-of-range';
  value: number;
  limit: number;
}

export interface FeatureReport {
  name: string;
  n: number;
  psi: number | null;
  test: { name: 'ks'; statistic: number; pValue: number } | null;
  missingRate: number;
  imputedRate: number;
  outOfRangeRate: number;
  unitRefusedRate: number;
  referenceMean: number | null;
  liveMean: number | null;
  referenceMissingRate: number | null;
  status: Status;
  problems: Problem[];
}

const round = (x: number | null, d = 4) => (x === null ? null : Math.round(x * 10 ** d) / 10 ** d);
const rank: Record<Status, number> = { 'no reference': 0, insufficient: 0, ok: 1, warn: 2, alert: 3 };
export const worst = (xs: readonly Status[], empty: Status = 'ok'): Status =>
  xs.reduce<Status>((a, b) => (rank[b] > rank[a] ? b : a), xs[0] ?? empty);

export interface ReportOptions {
  minSamples: number;
}

export function featureReports(
  spec: MonitoringSpec | undefined,
  features: readonly string[],
  rows: readonly WindowRow[],
  o: ReportOptions,
): FeatureReport[] {
  const n = rows.length;
  const t = spec?.thresholds;
  return features.map((name, i) => {
    const bit = 1 << i;
    const values: number[] = [];
    let missing = 0;
    let imputed = 0;
    let offered = 0;
    let unit = 0;
    let range = 0;
    for (const r of rows) {
      if (r.missing & bit) missing++;
      else if (r.vals[i] != null) values.push(r.vals[i]!);
      if (r.imputed & bit) imputed++;
      if (r.offered & bit) offered++;
      if (r.unitRefused & bit) unit++;
      if (r.outOfRange & bit) range++;
    }
    const ref = spec?.reference.features.find((f) => f.name === name);
    const rates = {
      missingRate: n ? missing / n : 0,
      imputedRate: n ? imputed / n : 0,
      outOfRangeRate: offered ? range / offered : 0,
      unitRefusedRate: offered ? unit / offered : 0,
    };
    const p = ref && values.length > 0 ? psi(ref, values) : null;
    const problems: Problem[] = [];
    let status: Status = !ref || !t ? 'no reference' : n < o.minSamples ? 'insufficient' : 'ok';
    if (status === 'ok' && ref && t) {
      if (p !== null && p >= t.psi.alert) problems.push({ kind: 'drift', value: p, limit: t.psi.alert });
      const extra = rates.missingRate - ref.missingRate;
      if (extra >= t.missingRate)
        problems.push({ kind: 'missing', value: rates.missingRate, limit: ref.missingRate + t.missingRate });
      if (offered >= o.minSamples / 4 && rates.unitRefusedRate >= t.unitRefusedRate)
        problems.push({ kind: 'unit-refused', value: rates.unitRefusedRate, limit: t.unitRefusedRate });
      if (offered >= o.minSamples / 4 && rates.outOfRangeRate >= t.outOfRangeRate)
        problems.push({ kind: 'out-of-range', value: rates.outOfRangeRate, limit: t.outOfRangeRate });
      status = problems.length > 0 ? 'alert' : p !== null && p >= t.psi.warn ? 'warn' : 'ok';
    }
    const test = ref && values.length > 0 ? ksTest(ref, spec!.reference.size, values) : null;
    return {
      name,
      n,
      psi: round(p),
      test: test ? { name: 'ks', statistic: round(test.statistic)!, pValue: round(test.pValue, 6)! } : null,
      missingRate: round(rates.missingRate)!,
      imputedRate: round(rates.imputedRate)!,
      outOfRangeRate: round(rates.outOfRangeRate)!,
      unitRefusedRate: round(rates.unitRefusedRate)!,
      referenceMean: ref ? ref.mean : null,
      liveMean: round(mean(values)),
      referenceMissingRate: ref ? ref.missingRate : null,
      status,
      problems: problems.map((x) => ({ ...x, value: round(x.value)!, limit: round(x.limit)! })),
    };
  });
}

export function scoreReport(card: ModelCard, rows: readonly WindowRow[], o: ReportOptions) {
  const spec = card.monitoring;
  const scores = rows.flatMap((r) => (r.score === null ? [] : [r.score]));
  const ref = spec?.reference.score;
  const p = ref && scores.length > 0 ? psi(ref, scores) : null;
  const test = ref && scores.length > 0 ? ksTest(ref, spec!.reference.size, scores) : null;
  const status: Status = !ref
    ? 'no reference'
    : scores.length < o.minSamples
      ? 'insufficient'
      : p! >= spec!.thresholds.psi.alert
        ? 'alert'
        : p! >= spec!.thresholds.psi.warn
          ? 'warn'
          : 'ok';
  return {
    n: scores.length,
    psi: round(p),
    test: test
      ? { name: 'ks' as const, statistic: round(test.statistic)!, pValue: round(test.pValue, 6)! }
      : null,
    referenceMean: ref ? ref.mean : null,
    liveMean: round(mean(scores)),
    flagged: card.thresholds
      .filter((t) => t.atLeast > 0)
      .map((t) => ({
        name: t.name,
        atLeast: t.atLeast,
        expected:
          ref?.flagged.find((x) => x.name === t.name)?.fraction ??
          card.performance.thresholds.find((x) => x.name === t.name)?.flaggedFraction ??
          null,
        live: scores.length ? round(scores.filter((s) => s >= t.atLeast).length / scores.length) : null,
      })),
    status,
    limit: spec ? spec.thresholds.psi.alert : null,
  };
}

/** AUROC (95 % CI), Brier, calibration by decile, PPV and sensitivity at each card threshold. */
export function performance(card: ModelCard, labelled: ReadonlyArray<{ score: number; label: number }>) {
  const s = labelled.map((x) => x.score);
  const y = labelled.map((x) => x.label);
  const positives = y.filter((v) => v === 1).length;
  const a = auroc(s, y);
  return {
    labelled: labelled.length,
    positives,
    prevalence: labelled.length ? round(positives / labelled.length) : null,
    auroc: {
      value: round(a),
      ci: a === null ? null : aurocInterval(a, positives, labelled.length - positives).map((v) => round(v)!),
      card: card.performance.auroc,
    },
    brier: { value: round(brier(s, y)), card: card.performance.brier },
    calibration: calibration(s, y).map((c) => ({
      ...c,
      meanPredicted: round(c.meanPredicted)!,
      observedRate: round(c.observedRate)!,
    })),
    thresholds: card.thresholds
      .filter((t) => t.atLeast > 0)
      .map((t) => {
        const m = atThreshold(s, y, t.atLeast);
        const r = (v: { value: number | null; ci: [number, number] | null }) => ({
          value: round(v.value),
          ci: v.ci ? v.ci.map((x) => round(x)!) : null,
        });
        return {
          name: t.name,
          atLeast: t.atLeast,
          tp: m.tp,
          fp: m.fp,
          fn: m.fn,
          tn: m.tn,
          ppv: r(m.ppv),
          sensitivity: r(m.sensitivity),
        };
      }),
  };
}

/** A shadow or canary beside production on the same messages: agreement, difference, both performances. */
export function comparison(
  card: ModelCard,
  productionCard: ModelCard,
  pairs: ReadonlyArray<{ score: number; production: number; label: number | null }>,
) {
  const agree = pairs.filter(
    (p) => interpret(card, p.score)?.name === interpret(productionCard, p.production)?.name,
  ).length;
  const labelled = pairs.filter((p) => p.label !== null);
  return {
    patients: pairs.length,
    bandAgreement: pairs.length ? round(agree / pairs.length) : null,
    meanAbsoluteDifference: round(mean(pairs.map((p) => Math.abs(p.score - p.production)))),
    performance: {
      candidate: performance(
        card,
        labelled.map((p) => ({ score: p.score, label: p.label! })),
      ),
      production: performance(
        productionCard,
        labelled.map((p) => ({ score: p.production, label: p.label! })),
      ),
    },
  };
}
