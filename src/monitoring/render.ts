/**
 * A monitoring report for people: the table `gateway models monitor NAME` prints, and the
 * "Live performance" section of the model card's Markdown. Pure.
 */
import type { MonitoringReport } from './monitor.js';

const pct = (x: number | null | undefined) =>
  x === null || x === undefined ? '-' : `${(x * 100).toFixed(1)} %`;
const n3 = (x: number | null | undefined) => (x === null || x === undefined ? '-' : x.toFixed(3));
const ci = (c: readonly number[] | null | undefined) =>
  c ? ` [${c[0]!.toFixed(3)}, ${c[1]!.toFixed(3)}]` : '';

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

function performanceLine(r: MonitoringReport): string {
  const p = r.performance;
  if (!p.outcome) return 'performance: no outcome definition for this model';
  return `performance (${p.outcome.description}): ${p.labelled} labelled, ${p.positives} positive, ${p.pending} pending; AUROC ${n3(p.auroc.value)}${ci(p.auroc.ci)} (card ${p.auroc.card}), Brier ${n3(p.brier.value)} (card ${p.brier.card}) - ${p.status}`;
}

/** The CLI table. */
export function monitorTable(r: MonitoringReport): string[] {
  const lines = [
    `${r.model} ${r.version}${r.alias ? ` (${r.alias})` : ''}: ${r.status}; reference: ${r.reference}; window ${r.window.n} inputs (${r.window.scored} scored, size ${r.window.size}, min ${r.window.minSamples})${r.window.from ? ` ${r.window.from} .. ${r.window.to}` : ''}`,
    '',
    ...table([
      [
        'feature',
        'status',
        'psi',
        'ks p',
        'missing',
        'imputed',
        'out-of-range',
        'unit-refused',
        'ref mean',
        'live mean',
      ],
      ...r.features.map((f) => [
        f.name,
        f.status,
        n3(f.psi),
        f.test ? f.test.pValue.toPrecision(2) : '-',
        pct(f.missingRate),
        pct(f.imputedRate),
        pct(f.outOfRangeRate),
        pct(f.unitRefusedRate),
        f.referenceMean === null ? '-' : String(f.referenceMean),
        f.liveMean === null ? '-' : String(f.liveMean),
      ]),
      [
        'score',
        r.score.status,
        n3(r.score.psi),
        r.score.test ? r.score.test.pValue.toPrecision(2) : '-',
        '',
        '',
        '',
        '',
        r.score.referenceMean === null ? '-' : String(r.score.referenceMean),
        r.score.liveMean === null ? '-' : String(r.score.liveMean),
      ],
    ]),
    '',
    ...r.score.flagged.map(
      (f) => `flagged >= ${f.atLeast} (${f.name}): ${pct(f.live)} live, ${pct(f.expected)} expected`,
    ),
    ...r.sources.map(
      (s) =>
        `source ${s.source}: ${s.n} inputs, ${s.status}${s.features.some((f) => f.problems.length) ? ` (${s.features.flatMap((f) => f.problems.map((p) => `${f.name} ${p.kind} ${p.value}`)).join(', ')})` : ''}`,
    ),
    performanceLine(r),
    ...(r.comparison
      ? [
          `beside production ${r.comparison.against} on ${r.comparison.patients} patients: band agreement ${pct(r.comparison.bandAgreement)}, mean |difference| ${n3(r.comparison.meanAbsoluteDifference)}; AUROC ${n3(r.comparison.performance.candidate.auroc.value)} vs ${n3(r.comparison.performance.production.auroc.value)}`,
        ]
      : []),
    r.alerts.length === 0 ? 'alerts: none firing' : `alerts firing (${r.alerts.length}):`,
    ...r.alerts.map((a) => `  ${a.labels.alertname} since ${a.startsAt}: ${a.annotations.summary}`),
  ];
  return lines;
}

/** The card's "Live performance" section (Markdown). */
export function liveSection(r: MonitoringReport): string[] {
  const p = r.performance;
  const lines = [
    '## Live performance',
    '',
    `From the gateway's own window (${r.window.n} inputs${r.window.from ? `, ${r.window.from} to ${r.window.to}` : ''}): ${r.status}. ${performanceLine(r)}.`,
    '',
    '| feature | status | PSI | missing | out of range | unit refused |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
    ...r.features.map(
      (f) =>
        `| ${f.name} | ${f.status} | ${n3(f.psi)} | ${pct(f.missingRate)} | ${pct(f.outOfRangeRate)} | ${pct(f.unitRefusedRate)} |`,
    ),
    `| (score) | ${r.score.status} | ${n3(r.score.psi)} | | | |`,
    '',
  ];
  if (p.outcome && p.labelled > 0)
    lines.push(
      '| threshold | PPV (95 % CI) | sensitivity (95 % CI) | TP / FP / FN / TN |',
      '| --- | ---: | ---: | ---: |',
      ...p.thresholds.map(
        (t) =>
          `| ${t.name} (>= ${t.atLeast}) | ${n3(t.ppv.value)}${ci(t.ppv.ci)} | ${n3(t.sensitivity.value)}${ci(t.sensitivity.ci)} | ${t.tp} / ${t.fp} / ${t.fn} / ${t.tn} |`,
      ),
      '',
    );
  return lines;
}
