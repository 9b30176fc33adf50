// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
/**
 * Outcomes from later messages and real-world performance, on real PostgreSQL when DATABASE_URL is
 * set: predictions are labelled once their horizon has passed, from the results that followed
 * (KDIGO creatinine for aki-risk, an ADT^A02 to an ICU for vitals-deterioration); the production
 * model and an uninformative shadow are compared on the same patients.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MllpClient } from '../../src/mllp/client.js';
import { dbKinds, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { vitalsOru } from '../helpers/messages.js';
import { akiOru, trainingLike, uninformativeAki } from './helpers.js';

const N = 200;

describe(`model monitoring: outcomes and performance (${dbKinds().at(-1)})`, () => {
  let t: TestGateway;
  let mllp: MllpClient;
  const call = async (path: string, init: { method?: string; body?: unknown } = {}) => {
    const res = await fetch(`${t.gw.httpUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${t.gw.adminToken}`,
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    const text = await res.text();
    return {
      status: res.status,
      body: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text,
    } as any;
  };
  const sendAll = async (messages: string[]) => {
    const acks = await Promise.all(messages.map((m) => mllp.send(m)));
    for (const a of acks) assert.match(a, /MSA\|AA/);
    await t.gw.idle();
  };

  before(async () => {
    t = await startTestGateway({
      database: dbKinds().at(-1)!,
      config: {
        models: { refreshMs: 100 },
        monitoring: {
          windowSize: 1000,
          minSamples: 50,
          minLabelled: 30,
          evaluateIntervalMs: 3_600_000,
          outcomes: { graceMs: 0 },
        },
      },
    });
    mllp = await MllpClient.connect({ host: '127.0.0.1', port: t.gw.mllpPort });
    const v = await uninformativeAki('1.1.0');
    assert.equal((await call('/models/aki-risk/versions', { method: 'POST', body: v })).status, 201);
    const validated = await call('/models/aki-risk/versions/1.1.0/validate', { method: 'POST', body: {} });
    assert.equal(validated.body.ok, true, JSON.stringify(validated.body.evidence));
    assert.equal(
      (await call('/models/aki-risk/aliases/shadow', { method: 'PUT', body: { version: '1.1.0' } })).status,
      200,
    );
  });
  after(async () => {
    await mllp?.close();
    await t?.dispose();
  });

  it('labels predictions from later results once the horizon has passed, and a good model beats an uninformative one', async () => {
    const panels = trainingLike(4242, N);
    const start = Date.now() - 3_600_000;
    const at = (i: number) => new Date(start + i * 1000);
    await sendAll(panels.map((p, i) => akiOru({ controlId: `A${i}`, mrn: `K${i}`, panel: p, at: at(i) })));
    await t.gw.monitoring.evaluate();
    const early = (await call('/models/aki-risk/monitoring')).body;
    assert.equal(early.performance.labelled, 0, 'nothing is labelled before its horizon');
    assert.equal(early.performance.pending, N);
    assert.deepEqual(early.performance.outcome, {
      description:
        'KDIGO acute kidney injury by creatinine (rise of 0.3 mg/dL within 48 h, or to 1.5x within 7 days)',
      horizonHours: 168,
    });

    // Four days later, a creatinine for each patient: 1.6x for those the generator made AKI.
    await sendAll(
      panels.map((p, i) =>
        akiOru({
          controlId: `B${i}`,
          mrn: `K${i}`,
          panel: { ...p, creatinine: p.label ? Math.round(p.creatinine * 160) / 100 : p.creatinine },
          at: new Date(at(i).getTime() + 96 * 3_600_000),
          only: 'creatinine',
        }),
      ),
    );
    const eightDaysOn = new Date(Date.now() + 8 * 86_400_000);
    await t.gw.monitoring.evaluate(eightDaysOn);
    const prod = (await call('/models/aki-risk/monitoring')).body;
    const positives = panels.filter((p) => p.label).length;
    assert.equal(prod.performance.labelled, N);
    assert.equal(prod.performance.positives, positives);
    assert.equal(prod.performance.pending, 0);
    const good = prod.performance.auroc;
    assert.ok(good.value > 0.65, `production AUROC ${good.value}`);
    assert.ok(good.ci[0] > 0.5 && good.ci[0] < good.value && good.ci[1] > good.value, JSON.stringify(good));
    assert.ok(prod.performance.brier.value < 0.15);
    assert.equal(prod.performance.calibration.length, 10);
    assert.equal(
      prod.performance.calibration.reduce((s: number, c: any) => s + c.n, 0),
      N,
    );
    const high = prod.performance.thresholds.find((x: any) => x.name === 'high');
    assert.equal(high.tp + high.fp + high.fn + high.tn, N);
    assert.equal(high.tp + high.fn, positives);

    const shadow = (await call('/models/aki-risk/monitoring?version=1.1.0')).body;
    assert.equal(shadow.alias, 'shadow');
    assert.equal(shadow.performance.labelled, N);
    assert.equal(shadow.performance.auroc.value, 0.5);
    assert.ok(shadow.performance.auroc.ci[0] < 0.5 && shadow.performance.auroc.ci[1] > 0.5);
    // Side by side on the same patients.
    assert.equal(shadow.comparison.against, '1.0.0');
    assert.equal(shadow.comparison.patients, N);
    assert.equal(shadow.comparison.performance.production.auroc.value, good.value);
    assert.equal(shadow.comparison.performance.candidate.auroc.value, 0.5);

    // Labelled once: a later evaluation changes nothing.
    const q = `select count(*)::int as n, max(labelled_at) as last from monitor_sample where label is not null`;
    const before = (await t.gw.db.query<{ n: number; last: Date }>(q)).rows[0]!;
    await t.gw.monitoring.evaluate(new Date(Date.now() + 9 * 86_400_000));
    const again = (await t.gw.db.query<{ n: number; last: Date }>(q)).rows[0]!;
    assert.equal(again.n, before.n);
    assert.equal(new Date(again.last).getTime(), new Date(before.last).getTime());
    const metrics = await (await fetch(`${t.gw.httpUrl}/metrics`)).text();
    assert.match(
      metrics,
      new RegExp(`gateway_model_auroc\\{model="aki-risk",version="1.0.0"\\} ${good.value}`),
    );
  });

  it('labels a vitals prediction by a transfer to the ICU (ADT^A02) within 24 hours', async () => {
    const t0 = Date.now() - 3_600_000;
    const h = (d: Date) => d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
    const a02 = (id: string, mrn: string, when: Date, unit: string) =>
      [
        `MSH|^~\\&|ADT|HOSP|ML-GATEWAY|HOSP|${h(when)}||ADT^A02^ADT_A02|${id}|P|2.5.1`,
        `EVN|A02|${h(when)}`,
        `PID|1||${mrn}^^^HOSP^MR||Testpatient^Alex||19480215|F`,
        `PV1|1|I|${unit}^01^A`,
      ].join('\r');
    await sendAll([
      vitalsOru({ controlId: 'V1', mrn: 'VM1', time: h(new Date(t0)) }),
      vitalsOru({ controlId: 'V2', mrn: 'VM2', time: h(new Date(t0)) }),
      vitalsOru({ controlId: 'V3', mrn: 'VM3', time: h(new Date(t0)) }),
      a02('T1', 'VM1', new Date(t0 + 2 * 3_600_000), 'ICU'),
      a02('T2', 'VM2', new Date(t0 + 2 * 3_600_000), '6W'),
      a02('T3', 'VM3', new Date(t0 + 30 * 3_600_000), 'ICU'),
    ]);
    await t.gw.monitoring.evaluate(new Date(Date.now() + 2 * 86_400_000));
    const r = await t.gw.db.query<{ message_id: string; label: number }>(
      `select i.control_id as message_id, s.label from monitor_sample s join inbox i on i.message_id = s.message_id
        where s.model = 'vitals-deterioration' order by i.control_id`,
    );
    assert.deepEqual(
      r.rows.map((x) => [x.message_id, x.label]),
      [
        ['V1', 1],
        ['V2', 0],
        ['V3', 0],
      ],
    );
  });
});
