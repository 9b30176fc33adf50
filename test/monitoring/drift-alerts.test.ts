// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
/**
 * Drift and data-quality alerts end to end, on real PostgreSQL when DATABASE_URL is set: lab
 * messages over MLLP, the live window, the monitoring route and metrics, and Alertmanager
 * webhooks to a real HTTP receiver, firing and resolved.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MllpClient } from '../../src/mllp/client.js';
import { runCli } from '../helpers/cli.js';
import { dbKinds, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { akiOru, type Panel, type Receiver, startReceiver, trainingLike, until } from './helpers.js';

const WINDOW = 150;

describe(`model monitoring: drift, missing feeds, unit switches (${dbKinds().at(-1)})`, () => {
  let t: TestGateway;
  let hook: Receiver;
  let mllp: MllpClient;
  let seq = 0;
  const base = Date.parse('2026-11-20T08:00:00Z');
  const get = async (path: string) => {
    const res = await fetch(`${t.gw.httpUrl}${path}`, {
      headers: { authorization: `Bearer ${t.gw.adminToken}` },
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  /** Sends panels (each a new patient) and waits until all are processed. */
  const send = async (
    panels: Panel[],
    o: { sender?: string; omit?: string[]; creatinineUnit?: string } = {},
  ) => {
    const acks = await Promise.all(
      panels.map((panel) => {
        seq++;
        return mllp.send(
          akiOru({ controlId: `M${seq}`, mrn: `P${seq}`, panel, at: new Date(base + seq * 60_000), ...o }),
        );
      }),
    );
    for (const ack of acks) assert.match(ack, /MSA\|AA/);
    await t.gw.idle();
  };
  const monitoring = async () => (await get('/models/aki-risk/monitoring')).body;
  const firing = (r: any) =>
    r.alerts.map((a: any) => `${a.labels.alertname}:${a.labels.feature ?? ''}:${a.labels.source ?? ''}`);

  before(async () => {
    hook = await startReceiver();
    t = await startTestGateway({
      database: dbKinds().at(-1)!,
      config: {
        monitoring: {
          windowSize: WINDOW,
          minSamples: 100,
          evaluateIntervalMs: 3_600_000,
          alerts: {
            webhooks: [{ name: 'am', url: hook.url, headers: { 'x-team': 'mlops' } }],
            minIntervalMs: 0,
          },
        },
      },
    });
    mllp = await MllpClient.connect({ host: '127.0.0.1', port: t.gw.mllpPort });
  });
  after(async () => {
    await mllp?.close();
    await t?.dispose();
    await hook?.close();
  });

  it('stays quiet on inputs drawn like the training data', async () => {
    await send(trainingLike(101, WINDOW));
    await t.gw.monitoring.evaluate();
    const r = await monitoring();
    assert.equal(r.version, '1.0.0');
    assert.equal(r.alias, 'production');
    assert.equal(r.reference, 'card');
    assert.equal(r.window.n, WINDOW);
    assert.equal(r.window.scored, WINDOW);
    assert.deepEqual(firing(r), []);
    for (const f of r.features) {
      assert.ok(['ok', 'warn'].includes(f.status), `${f.name}: ${f.status} psi ${f.psi}`);
      assert.ok(f.psi < 0.2, `${f.name} psi ${f.psi}`);
      assert.equal(f.missingRate, f.name === 'potassium' || f.name === 'sodium' ? 0 : 0);
      assert.ok(f.test.pValue > 0.001, `${f.name} KS p ${f.test.pValue}`);
    }
    assert.ok(r.score.psi < 0.2, `score psi ${r.score.psi}`);
    assert.equal(r.score.flagged[0].name, 'high');
    assert.equal(hook.received.length, 0, JSON.stringify(hook.received.map((b) => b.alerts[0].annotations)));
    const metrics = await (await fetch(`${t.gw.httpUrl}/metrics`)).text();
    assert.match(
      metrics,
      /gateway_model_feature_psi\{model="aki-risk",version="1.0.0",feature="creatinine"\} 0\.\d+/,
    );
    assert.match(
      metrics,
      /gateway_model_feature_missing_ratio\{model="aki-risk",version="1.0.0",feature="potassium"\} 0/,
    );
    assert.match(metrics, /gateway_model_prediction_psi\{model="aki-risk",version="1.0.0"\} /);
    // The same, as the operator's table and in the model card.
    const cli = await runCli(['models', 'monitor', 'aki-risk', '--url', t.gw.httpUrl], {
      GATEWAY_ADMIN_TOKEN: t.gw.adminToken,
      DATA_DIR: t.dataDir,
    });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(
      cli.stdout,
      /^aki-risk 1\.0\.0 \(production\): (ok|warn); reference: card; window 150 inputs/,
    );
    assert.match(cli.stdout, /\ncreatinine +(ok|warn) +0\.\d{3} /);
    assert.match(cli.stdout, /alerts: none firing/);
    const card = await fetch(`${t.gw.httpUrl}/models/aki-risk/card`, {
      headers: { authorization: `Bearer ${t.gw.adminToken}` },
    });
    assert.match(await card.text(), /## Live performance\n\nFrom the gateway's own window \(150 inputs/);
  });

  it('alerts on a shifted feature, and resolves once inputs are like training again', async () => {
    await send(trainingLike(202, WINDOW).map((p) => ({ ...p, urea: Math.round(p.urea * 2.2) })));
    await t.gw.monitoring.evaluate();
    const r = await monitoring();
    const urea = r.features.find((f: any) => f.name === 'urea_nitrogen');
    assert.equal(urea.status, 'alert');
    assert.ok(urea.psi >= 0.2 && urea.liveMean > urea.referenceMean * 1.8, JSON.stringify(urea));
    assert.ok(urea.test.pValue < 1e-6);
    assert.ok(firing(r).includes('ModelFeatureDrift:urea_nitrogen:'), firing(r).join());
    assert.ok(!firing(r).some((a: string) => a.includes(':creatinine:')), firing(r).join());
    await until(() => hook.received.some((b) => b.status === 'firing'), 20_000, 'the firing webhook');
    const body = hook.received.find(
      (b) => b.alerts[0].labels.feature === 'urea_nitrogen' && !b.alerts[0].labels.source,
    )!;
    assert.equal(body.version, '4');
    assert.equal(body.status, 'firing');
    assert.equal(body.receiver, 'am');
    assert.equal(body._headers['x-team'], 'mlops');
    const a = body.alerts[0];
    assert.deepEqual(
      { ...a.labels },
      {
        alertname: 'ModelFeatureDrift',
        model: 'aki-risk',
        version: '1.0.0',
        feature: 'urea_nitrogen',
        severity: 'critical',
      },
    );
    assert.match(a.annotations.summary, /PSI/);
    assert.ok(a.fingerprint && a.startsAt);
    // No patient data in what leaves the gateway.
    const text = JSON.stringify(hook.received);
    assert.ok(!/P\d+|Testpatient|MRN/.test(text.replace(/PSI/g, '')), 'an identifier in a webhook');
    // The alert is in the lineage with its evidence.
    const lineage = (await get('/lineage?controlId=none')).status;
    assert.ok(lineage === 200 || lineage === 404);
    const entries = await t.gw.lineage.entriesFor('monitoring:aki-risk@1.0.0');
    const fired = entries.find(
      (e) => e.stage === 'alert.firing' && (e.detail as any).labels.feature === 'urea_nitrogen',
    );
    assert.ok(fired, 'lineage entry of the alert');
    assert.ok((fired!.detail as any).evidence.drift.value >= 0.2);
    assert.equal((await get('/lineage/verify')).body.ok, true);

    const outboxEmpty = async () =>
      (
        await t.gw.db.query<{ n: number }>(
          `select count(*)::int as n from monitor_outbox where status = 'pending'`,
        )
      ).rows[0]!.n === 0;
    await until(outboxEmpty, 20_000, 'every webhook delivered');
    const before = hook.received.length;
    await t.gw.monitoring.evaluate(); // still firing: not notified again (repeat interval)
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(hook.received.length, before);

    await send(trainingLike(303, WINDOW));
    await t.gw.monitoring.evaluate();
    assert.deepEqual(firing(await monitoring()), []);
    await until(
      () =>
        hook.received.some((b) => b.status === 'resolved' && b.alerts[0].labels.feature === 'urea_nitrogen'),
      20_000,
      'the resolved webhook',
    );
    const resolved = hook.received.find(
      (b) => b.status === 'resolved' && b.alerts[0].labels.feature === 'urea_nitrogen',
    )!;
    assert.equal(resolved.alerts[0].fingerprint, a.fingerprint);
    assert.notEqual(resolved.alerts[0].endsAt, '0001-01-01T00:00:00Z');
  });

  it('alerts when a feed goes missing (imputed), and resolves when it is back', async () => {
    hook.received.length = 0;
    await send(trainingLike(404, WINDOW), { omit: ['potassium'] });
    await t.gw.monitoring.evaluate();
    const r = await monitoring();
    const k = r.features.find((f: any) => f.name === 'potassium');
    assert.equal(k.missingRate, 1);
    assert.equal(k.imputedRate, 1);
    assert.equal(k.status, 'alert');
    assert.ok(firing(r).includes('ModelFeatureMissing:potassium:'), firing(r).join());
    await until(() =>
      hook.received.some(
        (b) => b.status === 'firing' && b.alerts[0].labels.alertname === 'ModelFeatureMissing',
      ),
    );
    await send(trainingLike(505, WINDOW));
    await t.gw.monitoring.evaluate();
    assert.deepEqual(firing(await monitoring()), []);
    await until(() =>
      hook.received.some(
        (b) => b.status === 'resolved' && b.alerts[0].labels.alertname === 'ModelFeatureMissing',
      ),
    );
  });

  it('finds a unit switch at one source, and resolves when that source is right again', async () => {
    hook.received.length = 0;
    await send(trainingLike(606, 40), { sender: 'LAB' });
    // LAB2 now sends creatinine in mmol/L, a unit the mapping does not accept.
    await send(trainingLike(707, 110), { sender: 'LAB2', creatinineUnit: 'mmol/L' });
    await t.gw.monitoring.evaluate();
    const r = await monitoring();
    const lab2 = r.sources.find((s: any) => s.source === 'LAB2|HOSP');
    assert.ok(lab2, JSON.stringify(r.sources.map((s: any) => s.source)));
    const cr = lab2.features.find((f: any) => f.name === 'creatinine');
    assert.equal(cr.unitRefusedRate, 1);
    assert.equal(cr.status, 'alert');
    assert.ok(firing(r).includes('ModelFeatureUnitRefused:creatinine:LAB2|HOSP'), firing(r).join());
    const lab = r.sources.find((s: any) => s.source === 'LAB|HOSP');
    assert.equal(lab.features.find((f: any) => f.name === 'creatinine').unitRefusedRate, 0);
    await until(() =>
      hook.received.some((b) => b.status === 'firing' && b.alerts[0].labels.source === 'LAB2|HOSP'),
    );
    await send(trainingLike(808, WINDOW), { sender: 'LAB2' });
    await t.gw.monitoring.evaluate();
    assert.deepEqual(firing(await monitoring()), []);
    await until(() =>
      hook.received.some((b) => b.status === 'resolved' && b.alerts[0].labels.source === 'LAB2|HOSP'),
    );
  });
});
