import { ApiError, api } from './api.js';
import { COLORS, chart } from './charts.js';
import { type Child, fill, fmtSeconds, fmtTime, h, table } from './dom.js';
import type { Overview } from './types.js';

interface ModelVersion {
  version: string;
  status: string;
  sha256: string;
  kind: string;
  createdAt: string;
  createdBy: string;
  approvedAt?: string | null;
  approvedBy?: string | null;
  features: string[];
}
interface ModelSummary {
  name: string;
  aliases: Record<string, { version: string; share: number }>;
  versions: ModelVersion[];
  card?: Record<string, unknown>;
}
interface AliasMove {
  alias: string;
  version: string | null;
  fromVersion?: string | null;
  at: string;
  by: string;
  reason?: string | null;
}
/** GET /models/{name}/monitoring (model monitoring, when the gateway has it). */
interface Monitoring {
  window?: unknown;
  features?: Array<{
    name: string;
    psi?: number | null;
    missingRate?: number | null;
    imputedRate?: number | null;
    outOfRangeRate?: number | null;
    status?: string;
  }>;
  score?: Record<string, unknown>;
  performance?: Record<string, unknown>;
  alerts?: Array<Record<string, unknown>>;
}

const aliasText = (m: ModelSummary) =>
  Object.entries(m.aliases)
    .map(([a, v]) => `${a} → ${v.version}${a === 'canary' ? ` (${Math.round(v.share * 100)} %)` : ''}`)
    .join(', ') || 'none';

/** Models: every governed model with its aliases and versions. */
export async function renderModels(main: HTMLElement): Promise<void> {
  const models = await api<ModelSummary[]>('/models');
  main.replaceChildren(
    h('h1', { tabindex: -1 }, 'Models'),
    table(
      'Governed models',
      ['model', 'aliases', 'versions', 'newest status'],
      models.map((m) => [
        h('a', { href: `#/models/${encodeURIComponent(m.name)}` }, m.name),
        aliasText(m),
        m.versions.map((v) => v.version).join(', '),
        m.versions.at(-1)?.status ?? '–',
      ]),
      { id: 'models' },
    ),
  );
}

/** One model: versions, aliases and their history, the card, micro-batcher figures, and monitoring when there is any. */
export async function renderModel(main: HTMLElement, name: string): Promise<void> {
  const enc = encodeURIComponent(name);
  const [m, history, card, stats] = await Promise.all([
    api<ModelSummary>(`/models/${enc}`),
    api<{ moves?: AliasMove[] }>(`/models/${enc}/history`).catch(() => ({ moves: [] })),
    api<string>(`/models/${enc}/card`, { text: true }).catch(() => ''),
    api<Overview>('/stats/overview?minutes=15'),
  ]);
  const moves = ((history as { moves?: AliasMove[] }).moves ?? []).slice().reverse();
  const batcher = stats.models.filter((x) => x.model === name);
  const batchChart = h('div', { class: 'chart', id: 'chart-batches' });
  const delayChart = h('div', { class: 'chart', id: 'chart-queue-delay' });
  const monitoring = h('section', { id: 'monitoring', hidden: true, 'aria-label': 'Monitoring' });
  main.replaceChildren(
    h('p', {}, h('a', { href: '#/models' }, '← Models')),
    h('h1', { tabindex: -1 }, name),
    h('p', {}, `Aliases: ${aliasText(m)}`),
    table(
      'Versions',
      ['version', 'status', 'kind', 'sha256', 'registered', 'approved'],
      m.versions.map((v) => [
        v.version,
        v.status,
        v.kind,
        h('code', {}, v.sha256.slice(0, 16)),
        `${fmtTime(v.createdAt)} by ${v.createdBy}`,
        v.approvedAt ? `${fmtTime(v.approvedAt)} by ${v.approvedBy ?? '?'}` : '–',
      ]),
      { id: 'versions' },
    ),
    table(
      'Alias history, newest first',
      ['when', 'alias', 'version', 'was', 'by', 'reason'],
      moves.map((x) => [
        fmtTime(x.at),
        x.alias,
        x.version ?? 'none',
        x.fromVersion ?? '–',
        x.by ?? '–',
        x.reason ?? '',
      ]),
      { id: 'alias-history' },
    ),
    h('h2', {}, 'Micro-batcher (this process, since start)'),
    h(
      'p',
      { id: 'infer-stage' },
      `Inference stage of the pipeline (every model): p50 ${fmtSeconds(stats.inferSeconds.p50)}, p99 ${fmtSeconds(stats.inferSeconds.p99)} over ${stats.inferSeconds.count} calls.`,
    ),
    table(
      'Batch sizes and queue delay by version',
      ['version', 'batches', 'rows', 'rows a batch: mean / p99', 'queue delay p50 / p99'],
      batcher.map((b) => [
        b.version,
        b.batches,
        b.rows,
        `${b.batches ? (b.rows / b.batches).toFixed(1) : '–'} / ${b.batchSize.p99?.toFixed(1) ?? '–'}`,
        `${fmtSeconds(b.queueDelaySeconds.p50)} / ${fmtSeconds(b.queueDelaySeconds.p99)}`,
      ]),
      { id: 'batcher' },
    ),
    batcher.length
      ? h('div', { class: 'grid' }, batchChart, delayChart)
      : h(
          'p',
          { class: 'muted' },
          'No micro-batch has run in this process yet (single-row requests to /v2 go through it).',
        ),
    monitoring,
    h('h2', {}, 'Model card'),
    h('pre', { class: 'card', id: 'card', tabindex: 0 }, card),
  );
  if (batcher.length) {
    const x = batcher.map((b) => b.version);
    void chart(
      batchChart,
      'Rows per micro-batch',
      [
        {
          type: 'bar',
          name: 'mean',
          x,
          y: batcher.map((b) => (b.batches ? b.rows / b.batches : null)),
          marker: { color: COLORS.p50 },
        },
        {
          type: 'bar',
          name: 'p99 (bucket estimate)',
          x,
          y: batcher.map((b) => b.batchSize.p99),
          marker: { color: COLORS.p99 },
        },
      ],
      {
        barmode: 'group',
        yaxis: { rangemode: 'tozero', title: { text: 'rows' } },
        xaxis: { type: 'category', title: { text: 'version' } },
      },
    );
    void chart(
      delayChart,
      "Queue delay of a batch's first request (ms)",
      (['p50', 'p90', 'p99'] as const).map((p) => ({
        type: 'bar',
        name: p,
        x,
        y: batcher.map((b) => (b.queueDelaySeconds[p] === null ? null : b.queueDelaySeconds[p]! * 1000)),
        marker: { color: COLORS[p] },
      })),
      {
        barmode: 'group',
        yaxis: { rangemode: 'tozero', title: { text: 'ms' } },
        xaxis: { type: 'category', title: { text: 'version' } },
      },
    );
  }
  await renderMonitoring(monitoring, name);
}

/**
 * Drift and performance, drawn from GET /models/{name}/monitoring when it answers 200; the section
 * stays hidden when the gateway has no monitoring for this model (404).
 */
async function renderMonitoring(section: HTMLElement, name: string): Promise<void> {
  let mon: Monitoring;
  try {
    mon = await api<Monitoring>(`/models/${encodeURIComponent(name)}/monitoring`);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 403)) return;
    throw err;
  }
  const features = mon.features ?? [];
  const drift = h('div', { class: 'chart', id: 'chart-drift' });
  const quality = h('div', { class: 'chart', id: 'chart-quality' });
  const kv = (o: Record<string, unknown> | undefined): Child =>
    o
      ? h(
          'dl',
          { class: 'detail' },
          ...Object.entries(o).flatMap(([k, v]) => [
            h('dt', {}, k),
            h('dd', {}, typeof v === 'number' ? v.toFixed(3) : JSON.stringify(v)),
          ]),
        )
      : h('p', { class: 'muted' }, 'none yet');
  section.hidden = false;
  fill(
    section,
    h('h2', {}, 'Monitoring'),
    h('div', { class: 'grid' }, drift, quality),
    h('h3', {}, 'Score'),
    kv(mon.score),
    h('h3', {}, 'Performance'),
    kv(mon.performance),
    table(
      'Active alerts',
      ['alert', 'detail'],
      (mon.alerts ?? []).map((a) => [String(a.name ?? a.alertname ?? a.kind ?? 'alert'), JSON.stringify(a)]),
      { id: 'alerts' },
    ),
  );
  const x = features.map((f) => f.name);
  void chart(
    drift,
    'Feature drift (PSI)',
    [
      {
        type: 'bar',
        x,
        y: features.map((f) => f.psi ?? null),
        marker: { color: features.map((f) => (f.status === 'ok' || !f.status ? COLORS.p50 : COLORS.failed)) },
      },
    ],
    {
      showlegend: false,
      shapes: [
        {
          type: 'line',
          xref: 'paper',
          x0: 0,
          x1: 1,
          y0: 0.2,
          y1: 0.2,
          line: { dash: 'dot', color: COLORS.failed },
        },
      ],
    },
  );
  void chart(
    quality,
    'Input quality (share of rows)',
    (['missingRate', 'imputedRate', 'outOfRangeRate'] as const).map((k, i) => ({
      type: 'bar',
      name: k.replace('Rate', ''),
      x,
      y: features.map((f) => f[k] ?? null),
      marker: { color: [COLORS.p90, COLORS.ignored, COLORS.failed][i] },
    })),
    { barmode: 'group', yaxis: { range: [0, 1] } },
  );
}
