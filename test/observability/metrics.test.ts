import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parser } from '@prometheus-io/lezer-promql';
import { parse as parseYaml } from 'yaml';
import { type Gateway, startGateway } from '../../src/app.js';
import { configSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/observability/logger.js';
import { sendMllp } from '../helpers/gateway.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';

const ROOT = join(import.meta.dirname, '..', '..');
const MONITORING = join(ROOT, 'deploy', 'monitoring');
/** Series Prometheus makes itself for every target. */
const SYNTHESIZED = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

/** The metric families of a Prometheus text exposition, from its TYPE lines. */
function families(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

/** A series name an expression may use for a family: histograms add _bucket, _sum and _count. */
function exported(fams: Map<string, string>, name: string): boolean {
  if (fams.has(name) || SYNTHESIZED.has(name)) return true;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return base !== name && (fams.get(base) === 'histogram' || fams.get(base) === 'summary');
}

/** Metric names of a PromQL expression, parsed with Prometheus's own grammar (lezer-promql). */
function metricNames(expr: string): string[] {
  // Grafana's variables: the range ones outside strings must be a duration to parse.
  const promql = expr.replace(/\$__(rate_)?interval|\$__range/g, '5m');
  const tree = parser.parse(promql);
  const names: string[] = [];
  const errors: number[] = [];
  tree.iterate({
    enter: (n) => {
      if (n.type.isError) errors.push(n.from);
      if (n.name === 'Identifier' && n.node.parent?.name === 'VectorSelector')
        names.push(promql.slice(n.from, n.to));
    },
  });
  assert.deepEqual(errors, [], `PromQL does not parse: ${expr}`);
  assert.ok(names.length > 0, `no metric found in ${expr}`);
  return names;
}

function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (ok) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('metrics as people scrape them', () => {
  let gw: Gateway;
  const scrape = async () => (await fetch(`${gw.httpUrl}/metrics`)).text();

  before(async () => {
    const config = configSchema.parse({
      dataDir: mkdtempSync(join(tmpdir(), 'gw-metrics-')),
      mllp: { port: 0 },
      http: { port: 0 },
      log: { level: 'silent' },
      metrics: { maxSenders: 2 },
    });
    gw = await startGateway(config, { logger: createLogger('silent'), startWorkers: false });
  });
  after(async () => gw?.close());

  it('counts per sender like a Mirth channel, bounded, with queue depth and the oldest message age', async () => {
    const from = (app: string, fac: string, id: string, mrn = 'MRN5001') =>
      vitalsOru({ controlId: id, mrn }).replace('|VITALS|WARD5|', `|${app}|${fac}|`);
    assert.equal(msaCode(await sendMllp(gw.mllpPort, from('LAB', 'NORTH', 'M1'))), 'AA');
    // No PID-3: accepted, then fails for good at processing (a dead letter).
    const noPid = from('LAB', 'NORTH', 'M2').replace(/PID\|1\|\|[^|]*\|/, 'PID|1|||');
    assert.equal(msaCode(await sendMllp(gw.mllpPort, noPid)), 'AA');
    assert.equal(msaCode(await sendMllp(gw.mllpPort, from('ICU', 'SOUTH', 'M3', 'MRN5002'))), 'AA');
    // A third sender is past metrics.maxSenders = 2: it counts as "other".
    assert.equal(msaCode(await sendMllp(gw.mllpPort, from('RAD', 'EAST', 'M4', 'MRN5003'))), 'AA');
    // No MSH-10: refused.
    assert.equal(msaCode(await sendMllp(gw.mllpPort, from('LAB', 'NORTH', ''))), 'AR');

    await new Promise((r) => setTimeout(r, 1200));
    let text = await scrape();
    assert.ok(
      sample(text, 'gateway_oldest_unprocessed_message_age_seconds')! >= 1,
      'oldest waits since the first',
    );
    assert.equal(sample(text, 'gateway_backlog_messages'), 4);

    gw.startWorkers();
    await gw.idle();
    await new Promise((r) => setTimeout(r, 1100)); // the backlog gauge is refreshed every second
    text = await scrape();
    assert.equal(sample(text, 'gateway_sender_messages_received_total', { sender: 'LAB|NORTH' }), 3);
    assert.equal(sample(text, 'gateway_sender_acks_total', { sender: 'LAB|NORTH', code: 'AA' }), 2);
    assert.equal(sample(text, 'gateway_sender_acks_total', { sender: 'LAB|NORTH', code: 'AR' }), 1);
    assert.equal(sample(text, 'gateway_sender_messages_received_total', { sender: 'ICU|SOUTH' }), 1);
    assert.equal(sample(text, 'gateway_sender_messages_received_total', { sender: 'other' }), 1);
    assert.equal(text.includes('RAD|EAST'), false);
    assert.equal(
      sample(text, 'gateway_sender_messages_processed_total', { sender: 'LAB|NORTH', outcome: 'processed' }),
      1,
    );
    assert.equal(
      sample(text, 'gateway_sender_messages_processed_total', { sender: 'LAB|NORTH', outcome: 'failed' }),
      1,
    );
    assert.equal(
      sample(text, 'gateway_sender_messages_failed_total', { sender: 'LAB|NORTH', stage: 'map' }),
      1,
    );
    assert.equal(
      sample(text, 'gateway_sender_messages_processed_total', { sender: 'other', outcome: 'processed' }),
      1,
    );
    assert.equal(sample(text, 'gateway_messages_processed_total', { outcome: 'processed' }), 3);
    assert.equal(sample(text, 'gateway_dead_letters'), 1);
    assert.equal(sample(text, 'gateway_oldest_unprocessed_message_age_seconds'), 0);
    assert.equal(sample(text, 'gateway_backlog_messages'), 0);
    // Tracing is off here (no OTEL_* variables): no trace context is stored with the messages.
    const traced = await gw.db.query<{ n: number }>(
      'select count(*)::int as n from inbox where traceparent is not null',
    );
    assert.equal(traced.rows[0]?.n, 0);
  });

  it('exports the standard names: process metrics unprefixed, build info, an HTTP duration histogram', async () => {
    await scrape();
    const text = await scrape();
    assert.ok(sample(text, 'process_cpu_seconds_total')! > 0);
    assert.ok(sample(text, 'nodejs_eventloop_lag_seconds') !== undefined);
    assert.equal(/gateway_process_/.test(text), false, 'no doubled prefix');
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string })
      .version;
    assert.equal(sample(text, 'gateway_build_info', { version, nodejs: process.versions.node }), 1);
    assert.ok(
      sample(text, 'gateway_http_request_duration_seconds_count', {
        method: 'GET',
        route: '/metrics',
        status_code: '200',
      })! >= 1,
    );
  });

  it('every metric in the shipped alert rules and Grafana dashboard is one the gateway exports', async () => {
    const fams = families(await scrape());
    // The monitoring contract (../shared/CONTRACT.md) names these exactly.
    for (const n of ['gateway_messages_processed_total', 'gateway_backlog_messages'])
      assert.ok(fams.has(n), `${n} exported`);

    const rules = parseYaml(readFileSync(join(MONITORING, 'prometheus', 'gateway-alerts.yaml'), 'utf8')) as {
      groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
    };
    const alerts = rules.groups.flatMap((g) => g.rules);
    for (const a of [
      'GatewayBacklogGrowing',
      'GatewayOldestMessageOld',
      'GatewayAckErrorRate',
      'GatewayFhirCircuitOpen',
      'GatewaySubscriptionHeartbeatMissed',
      'GatewayDeadLetters',
    ])
      assert.ok(
        alerts.some((r) => r.alert === a),
        `alert ${a}`,
      );
    for (const r of alerts)
      for (const name of metricNames(r.expr)) assert.ok(exported(fams, name), `alert ${r.alert}: ${name}`);

    const dash = JSON.parse(
      readFileSync(join(MONITORING, 'grafana', 'ml-gateway-dashboard.json'), 'utf8'),
    ) as {
      panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
      templating: { list: Array<{ name: string; query?: string }> };
    };
    let exprs = 0;
    for (const p of dash.panels)
      for (const t of p.targets ?? []) {
        exprs++;
        for (const name of metricNames(t.expr))
          assert.ok(exported(fams, name), `panel "${p.title}": ${name}`);
      }
    assert.ok(exprs >= 20, `${exprs} dashboard queries checked`);
    for (const v of dash.templating.list) {
      const m = /^label_values\((\w+)/.exec(v.query ?? '');
      if (m) assert.ok(exported(fams, m[1]!), `variable ${v.name}: ${m[1]}`);
    }
  });
});
