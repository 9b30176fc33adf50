import { api } from './api.js';
import { COLORS, chart, plotly } from './charts.js';
import { fmtSeconds, fmtTime, h, kpi, table } from './dom.js';
import type { Overview } from './types.js';

/** The overview: throughput per minute, ACK codes, latency percentiles, backlog, senders, FHIR circuit, egress. */
export async function renderOverview(main: HTMLElement, signal: AbortSignal): Promise<void> {
  const minutesSel = h(
    'select',
    { id: 'window', name: 'minutes' },
    ...[15, 60, 360, 1440].map((m) =>
      h(
        'option',
        { value: m, ...(m === 60 ? { selected: true } : {}) },
        m < 60 ? `${m} minutes` : `${m / 60} h`,
      ),
    ),
  );
  const body = h('div', { id: 'overview-body', 'aria-busy': 'true' });
  main.replaceChildren(
    h('h1', { tabindex: -1 }, 'Overview'),
    h(
      'form',
      { class: 'toolbar', onsubmit: (e: Event) => e.preventDefault() },
      h('label', { for: 'window' }, 'Window '),
      minutesSel,
    ),
    body,
  );
  // Plotly (4.8 MB) starts loading while the figures are fetched.
  void plotly().catch(() => {});
  const load = async () => {
    const o = await api<Overview>(`/stats/overview?minutes=${minutesSel.value}`);
    if (signal.aborted) return;
    draw(body, o);
  };
  minutesSel.addEventListener('change', () => void load());
  await load();
  const timer = setInterval(() => void load().catch(() => {}), 15_000);
  signal.addEventListener('abort', () => clearInterval(timer));
}

function draw(body: HTMLElement, o: Overview): void {
  const sum = (k: 'received' | 'processed' | 'ignored' | 'failed') =>
    o.perMinute.reduce((a, m) => a + m[k], 0);
  const acks = Object.entries(o.acks.codes).sort();
  const ackTotal = acks.reduce((a, [, n]) => a + n, 0);
  const pendingEgress = o.egress.filter((e) => e.status === 'pending').reduce((a, e) => a + e.rows, 0);
  const throughput = h('div', { class: 'chart', id: 'chart-throughput' });
  const ackChart = h('div', { class: 'chart', id: 'chart-acks' });
  const latency = h('div', { class: 'chart', id: 'chart-latency' });
  body.replaceChildren(
    h(
      'section',
      { class: 'kpis', 'aria-label': 'In this window' },
      kpi('received', sum('received'), { id: 'kpi-received' }),
      kpi('processed', sum('processed'), { tone: 'ok', id: 'kpi-processed' }),
      kpi('ignored', sum('ignored')),
      kpi('failed', sum('failed'), { tone: sum('failed') > 0 ? 'bad' : 'ok', id: 'kpi-failed' }),
      kpi('backlog', o.backlog.unprocessed, {
        tone: o.backlog.unprocessed > 0 ? 'warn' : 'ok',
        id: 'kpi-backlog',
      }),
      kpi('oldest unprocessed', fmtSeconds(o.backlog.oldestAgeSeconds)),
      kpi('open dead letters', o.deadLetters, { tone: o.deadLetters > 0 ? 'bad' : 'ok', id: 'kpi-dead' }),
      kpi('FHIR circuit', o.fhirCircuit.state, {
        tone: o.fhirCircuit.state === 'closed' ? 'ok' : 'bad',
        id: 'kpi-circuit',
      }),
      kpi('egress pending', pendingEgress, { tone: pendingEgress > 0 ? 'warn' : 'ok' }),
    ),
    h('section', { class: 'grid', 'aria-label': 'Charts' }, throughput, ackChart, latency),
    table(
      'Per sender (MSH-3|MSH-4) in this window',
      ['sender', 'received', 'processed', 'ignored', 'failed', 'pending', 'last received'],
      o.senders.map((s) => [
        s.sender,
        s.received,
        s.processed,
        s.ignored,
        s.failed,
        s.pending,
        fmtTime(s.lastReceivedAt),
      ]),
      { id: 'senders' },
    ),
    table(
      'Egress outbox (ORU results and application ACKs)',
      ['kind', 'destination', 'status', 'rows', 'oldest pending'],
      o.egress.map((e) => [e.kind, e.destination, e.status, e.rows, fmtTime(e.oldestPendingAt)]),
      { id: 'egress' },
    ),
    h(
      'p',
      { class: 'muted' },
      `Counts per minute and end-to-end latency come from the database (every gateway process); ACK codes and ACK latency from this process's metrics since it started (${ackTotal} ACKs). FHIR circuit transitions: ${
        Object.entries(o.fhirCircuit.transitions)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || 'none'
      }.`,
    ),
  );
  body.setAttribute('aria-busy', 'false');
  const x = o.perMinute.map((m) => m.minute);
  const line = (k: 'received' | 'processed' | 'failed' | 'ignored') => ({
    type: 'scatter',
    mode: 'lines+markers',
    name: k,
    x,
    y: o.perMinute.map((m) => m[k]),
    line: { color: COLORS[k], width: 2 },
    marker: { size: 4 },
  });
  const ms = (v: number | null) => (v === null ? null : v * 1000);
  void chart(
    throughput,
    'Messages per minute',
    [line('received'), line('processed'), line('ignored'), line('failed')],
    {
      yaxis: { rangemode: 'tozero', title: { text: 'messages' } },
    },
  );
  void chart(
    ackChart,
    'ACK codes (MSA-1)',
    [
      {
        type: 'bar',
        x: acks.map(([c]) => c),
        y: acks.map(([, n]) => n),
        marker: {
          color: acks.map(([c]) =>
            c === 'AA' || c === 'CA'
              ? COLORS.processed
              : c === 'AE' || c === 'CE'
                ? COLORS.p90
                : COLORS.failed,
          ),
        },
      },
    ],
    { yaxis: { rangemode: 'tozero' }, showlegend: false },
  );
  const lat = [o.acks.latencySeconds, o.endToEndSeconds];
  void chart(
    latency,
    'Latency percentiles (ms)',
    (['p50', 'p90', 'p99'] as const).map((p) => ({
      type: 'bar',
      name: p,
      x: ['ACK', 'end to end'],
      y: lat.map((l) => ms(l[p])),
      marker: { color: COLORS[p] },
    })),
    { barmode: 'group', yaxis: { type: 'log', title: { text: 'ms (log scale)' } } },
  );
}
