/**
 * The monitoring section of a model's page, drawn from GET /models/{name}/monitoring (shape in the
 * README, "Model monitoring"): the window, per feature PSI against the card's warn and alert
 * limits and input quality, the score, real-world performance and the alerts firing. Statuses are
 * words as well as colours; "insufficient" and "no reference" are said in plain text.
 */
import { ApiError, api } from './api.js';
import { COLORS, chart } from './charts.js';
import { type Child, fill, fmtTime, h, table } from './dom.js';
import type { MonitoringReport, MonitoringStatus as Status } from './types.js';

const n3 = (x: number | null | undefined) => (x === null || x === undefined ? '–' : x.toFixed(3));
const pct = (x: number | null | undefined) =>
  x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)} %`;
/** A mean as a person reads it: four significant digits. */
const num = (x: number | null | undefined) =>
  x === null || x === undefined ? '–' : String(Number(x.toPrecision(4)));
const ci = (c: number[] | null) => (c ? ` (95 % CI ${n3(c[0])} – ${n3(c[1])})` : '');
const STATUS_COLOR: Record<Status, string> = {
  ok: COLORS.processed,
  warn: COLORS.p90,
  alert: COLORS.failed,
  insufficient: COLORS.ignored,
  'no reference': COLORS.ignored,
};
/** A status as a tag with its word (colour is never the only sign). */
const statusTag = (s: Status) => h('span', { class: `tag tag-${s.replace(' ', '-')}` }, s);
const pairs = (rows: Array<[string, Child]>, id?: string) =>
  h(
    'dl',
    { class: 'summary', ...(id ? { id } : {}) },
    ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
  );

/**
 * Fetches and draws the production version's monitoring into the section; it stays hidden when
 * the gateway has none for this model (404: no production version; 403: the token may not read it).
 */
export async function renderMonitoring(section: HTMLElement, name: string): Promise<void> {
  let r: MonitoringReport;
  try {
    r = await api<MonitoringReport>(`/models/${encodeURIComponent(name)}/monitoring`);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 403)) return;
    throw err;
  }
  const w = r.window;
  const psiChart = h('div', { class: 'chart', id: 'chart-drift' });
  const qualityChart = h('div', { class: 'chart', id: 'chart-quality' });
  const calibrationChart = h('div', { class: 'chart', id: 'chart-calibration' });
  const notes: Child[] = [];
  if (r.reference === 'no reference')
    notes.push(
      h(
        'p',
        { class: 'notice' },
        'No reference: this version’s card has no training distribution, so drift cannot be judged.',
      ),
    );
  if (w.n < w.minSamples)
    notes.push(
      h(
        'p',
        { class: 'notice' },
        w.n === 0
          ? `Insufficient: no input has reached this version yet (${w.minSamples} are needed before a drift status or alert).`
          : `Insufficient: ${w.n} of the ${w.minSamples} inputs needed before a drift status or alert. The figures below are shown as they stand.`,
      ),
    );
  const p = r.performance;
  section.hidden = false;
  fill(
    section,
    h('h2', {}, `Monitoring: version ${r.version}${r.alias ? ` (${r.alias})` : ''} `, statusTag(r.status)),
    pairs(
      [
        ['window', `${w.n} inputs (${w.scored} scored; newest ${w.size} kept; ${w.minSamples} needed)`],
        ['from', fmtTime(w.from)],
        ['to', fmtTime(w.to)],
        ['reference', r.reference === 'card' ? 'training distribution in the card' : 'no reference'],
        ['sources', r.sources.map((s) => `${s.source}: ${s.n} (${s.status})`).join(', ') || '–'],
      ],
      'monitoring-window',
    ),
    ...notes,
    table(
      'Features: drift (PSI, Kolmogorov-Smirnov) and input quality over the window',
      [
        'feature',
        'status',
        'PSI',
        'KS p',
        'missing',
        'imputed',
        'out of range',
        'unit refused',
        'mean: reference / live',
      ],
      r.features.map((f) => {
        const rate = (x: number) => (f.n === 0 ? '–' : pct(x));
        return [
          f.name,
          statusTag(f.status),
          n3(f.psi),
          f.test ? f.test.pValue.toPrecision(2) : '–',
          rate(f.missingRate),
          rate(f.imputedRate),
          rate(f.outOfRangeRate),
          rate(f.unitRefusedRate),
          `${num(f.referenceMean)} / ${num(f.liveMean)}`,
        ];
      }),
      { id: 'monitoring-features' },
    ),
    w.n > 0 ? h('div', { class: 'grid' }, psiChart, qualityChart) : null,
    h('h3', {}, 'Score ', statusTag(r.score.status)),
    pairs(
      [
        ['PSI', `${n3(r.score.psi)}${r.score.limit === null ? '' : ` (alert at ${r.score.limit})`}`],
        ['scored', String(r.score.n)],
        ['mean: reference / live', `${num(r.score.referenceMean)} / ${num(r.score.liveMean)}`],
      ],
      'monitoring-score',
    ),
    table(
      'Flagged fraction at each threshold: training against live',
      ['threshold', 'score at least', 'training', 'live'],
      r.score.flagged.map((f) => [f.name, f.atLeast, pct(f.expected), pct(f.live)]),
      { id: 'monitoring-flagged' },
    ),
    h('h3', {}, 'Performance ', statusTag(p.status)),
    performanceBlock(r, calibrationChart),
    r.comparison
      ? pairs(
          [
            ['compared with', `production ${r.comparison.against} on ${r.comparison.patients} patients`],
            ['band agreement', pct(r.comparison.bandAgreement)],
            ['mean absolute difference', n3(r.comparison.meanAbsoluteDifference)],
          ],
          'monitoring-comparison',
        )
      : null,
    table(
      'Active alerts',
      ['alert', 'feature / source', 'since', 'summary'],
      r.alerts.map((a) => [
        a.labels.alertname ?? 'alert',
        [a.labels.feature, a.labels.source].filter(Boolean).join(' from ') || '–',
        h('span', { class: 'nowrap' }, fmtTime(a.startsAt)),
        a.annotations.summary ?? '',
      ]),
      { id: 'alerts' },
    ),
  );
  await Promise.all([
    w.n > 0 ? drawPsi(psiChart, r) : undefined,
    w.n > 0 ? drawQuality(qualityChart, r) : undefined,
    p.calibration.length ? drawCalibration(calibrationChart, p.calibration) : undefined,
  ]);
}

function performanceBlock(r: MonitoringReport, calibrationChart: HTMLElement): Child {
  const p = r.performance;
  if (!p.outcome)
    return h(
      'p',
      { class: 'notice', id: 'monitoring-performance' },
      'No outcome definition for this model: real-world performance is not measured.',
    );
  const summary = pairs(
    [
      ['outcome', `${p.outcome.description} (horizon ${p.outcome.horizonHours} h)`],
      [
        'labelled',
        `${p.labelled} (${p.positives} positive${p.prevalence === null ? '' : `, prevalence ${pct(p.prevalence)}`}); ${p.pending} waiting for their horizon`,
      ],
      ['AUROC', `${n3(p.auroc.value)}${ci(p.auroc.ci)}; card ${p.auroc.card}`],
      ['Brier score', `${n3(p.brier.value)}; card ${p.brier.card}`],
    ],
    'monitoring-performance',
  );
  if (p.labelled === 0)
    return h(
      'div',
      {},
      summary,
      h('p', { class: 'muted' }, 'No prediction is labelled yet: calibration and PPV wait for outcomes.'),
    );
  return h(
    'div',
    {},
    p.status === 'insufficient'
      ? h(
          'p',
          { class: 'notice' },
          'Insufficient: too few labelled predictions for a performance status or alert yet.',
        )
      : null,
    h('div', { class: 'grid' }, summary, calibrationChart),
    table(
      'At each card threshold (labelled predictions)',
      ['threshold', 'score at least', 'TP', 'FP', 'FN', 'TN', 'PPV', 'sensitivity'],
      p.thresholds.map((t) => [
        t.name,
        t.atLeast,
        t.tp,
        t.fp,
        t.fn,
        t.tn,
        `${n3(t.ppv.value)}${ci(t.ppv.ci)}`,
        `${n3(t.sensitivity.value)}${ci(t.sensitivity.ci)}`,
      ]),
      { id: 'monitoring-thresholds' },
    ),
  );
}

/** A limit down the plot, named above it. */
const line = (x: number, color: string, text: string, side: 'left' | 'right') => ({
  shape: {
    type: 'line',
    yref: 'paper',
    y0: 0,
    y1: 1,
    x0: x,
    x1: x,
    line: { dash: 'dash', color, width: 1.5 },
  },
  annotation: {
    yref: 'paper',
    y: 1,
    x: Math.log10(x), // annotations on a log axis take the exponent
    xanchor: side,
    yanchor: 'bottom',
    text,
    showarrow: false,
    font: { color, size: 11 },
  },
});

/** PSI per feature as horizontal bars on a log axis: the limits (0.1, 0.2) and a drift of 8 both stay readable. */
function drawPsi(el: HTMLElement, r: MonitoringReport) {
  const t = r.thresholds?.psi;
  const lines = t
    ? [
        line(t.warn, COLORS.p90, `warn ${t.warn} `, 'right'),
        line(t.alert, COLORS.failed, ` alert ${t.alert}`, 'left'),
      ]
    : [];
  const top = Math.max(t?.alert ?? 0.2, ...r.features.map((f) => f.psi ?? 0));
  return chart(
    el,
    t
      ? `Feature drift: PSI against the card's warn (${t.warn}) and alert (${t.alert}) limits`
      : 'Feature drift: PSI (no reference limits)',
    [
      {
        type: 'bar',
        orientation: 'h',
        name: 'PSI',
        y: r.features.map((f) => f.name),
        x: r.features.map((f) => f.psi),
        text: r.features.map((f) => `${n3(f.psi)} ${f.status}`),
        textposition: 'outside',
        cliponaxis: false,
        marker: { color: r.features.map((f) => STATUS_COLOR[f.status]) },
      },
    ],
    {
      showlegend: false,
      shapes: lines.map((l) => l.shape),
      annotations: lines.map((l) => l.annotation),
      xaxis: { title: { text: 'PSI (log scale)' }, type: 'log', dtick: 1, range: [-3, Math.log10(top * 6)] },
      yaxis: { type: 'category', autorange: 'reversed', automargin: true },
      margin: { l: 56, r: 16, t: 72, b: 44 },
    },
  );
}

function drawQuality(el: HTMLElement, r: MonitoringReport) {
  const kinds = [
    ['missingRate', 'missing', COLORS.p90],
    ['imputedRate', 'imputed', COLORS.ignored],
    ['outOfRangeRate', 'out of range', COLORS.failed],
  ] as const;
  const none = r.features.every((f) => !f.missingRate && !f.imputedRate && !f.outOfRangeRate);
  return chart(
    el,
    'Input quality: share of the window missing, imputed, out of range',
    kinds.map(([k, label, color]) => ({
      type: 'bar',
      name: label,
      x: r.features.map((f) => f.name),
      y: r.features.map((f) => f[k]),
      marker: { color },
    })),
    {
      barmode: 'group',
      yaxis: { range: [0, 1], tickformat: '.0%' },
      xaxis: { type: 'category' },
      annotations: none
        ? [
            {
              xref: 'paper',
              yref: 'paper',
              x: 0.5,
              y: 0.5,
              text: 'every input present, none imputed or out of range',
              showarrow: false,
              font: { color: COLORS.ignored, size: 12 },
            },
          ]
        : [],
    },
  );
}

function drawCalibration(el: HTMLElement, cal: MonitoringReport['performance']['calibration']) {
  return chart(
    el,
    'Calibration by decile of score: observed rate against mean predicted',
    [
      {
        type: 'scatter',
        mode: 'lines',
        name: 'perfect',
        x: [0, 1],
        y: [0, 1],
        line: { dash: 'dot', color: COLORS.ignored },
      },
      {
        type: 'scatter',
        mode: 'markers+lines',
        name: 'live',
        x: cal.map((c) => c.meanPredicted),
        y: cal.map((c) => c.observedRate),
        text: cal.map((c) => `decile ${c.decile}, n ${c.n}`),
        marker: { color: COLORS.received, size: 8 },
      },
    ],
    {
      xaxis: { range: [0, 1], title: { text: 'mean predicted' } },
      yaxis: { range: [0, 1], title: { text: 'observed rate' } },
    },
  );
}
