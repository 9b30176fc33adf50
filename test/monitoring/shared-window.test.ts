// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
/**
 * Two gateways on one PostgreSQL schema see one window: each takes half of the messages, both
 * report the same numbers, an alert is sent once (not once per gateway), and a gateway started
 * again on the schema finds the window where it was.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MllpClient } from '../../src/mllp/client.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { akiOru, type Receiver, startReceiver, trainingLike, until } from './helpers.js';

const config = (url: string) => ({
  monitoring: {
    windowSize: 120,
    minSamples: 60,
    evaluateIntervalMs: 3_600_000,
    alerts: { webhooks: [{ name: 'am', url }], minIntervalMs: 0 },
  },
});

describe('model monitoring: two gateways on one schema', { skip: !process.env.DATABASE_URL }, () => {
  let a: TestGateway;
  let b: TestGateway;
  let hook: Receiver;
  const report = async (t: TestGateway) => {
    const res = await fetch(`${t.gw.httpUrl}/models/aki-risk/monitoring`, {
      headers: { authorization: `Bearer ${t.gw.adminToken}` },
    });
    return (await res.json()) as any;
  };
  const send = async (t: TestGateway, from: number, to: number, shift: number) => {
    const c = await MllpClient.connect({ host: '127.0.0.1', port: t.gw.mllpPort });
    const panels = trainingLike(9000 + from, to - from);
    await Promise.all(
      panels.map((p, i) =>
        c.send(
          akiOru({
            controlId: `S${from + i}`,
            mrn: `S${from + i}`,
            panel: { ...p, urea: Math.round(p.urea * shift) },
            at: new Date(Date.parse('2026-11-20T08:00:00Z') + (from + i) * 60_000),
          }),
        ),
      ),
    );
    await c.close();
    await t.gw.idle();
  };

  before(async () => {
    hook = await startReceiver();
    a = await startTestGateway({ database: 'postgres', config: config(hook.url) });
    b = await startTestGateway({ database: 'postgres', schema: a.schema!, config: config(hook.url) });
  });
  after(async () => {
    await b?.stop();
    await a?.dispose();
    await hook?.close();
  });

  it('both report the same window, and one alert is sent', async () => {
    await Promise.all([send(a, 0, 60, 2.5), send(b, 60, 120, 2.5)]);
    await Promise.all([a.gw.monitoring.evaluate(), b.gw.monitoring.evaluate()]);
    await Promise.all([a.gw.monitoring.evaluate(), b.gw.monitoring.evaluate()]);
    const [ra, rb] = [await report(a), await report(b)];
    assert.equal(ra.window.n, 120);
    assert.deepEqual(ra.features, rb.features);
    assert.deepEqual(ra.score, rb.score);
    assert.deepEqual(ra.window, rb.window);
    assert.ok(ra.alerts.some((x: any) => x.labels.feature === 'urea_nitrogen'));
    assert.deepEqual(ra.alerts, rb.alerts);
    await until(() => hook.received.some((x) => x.alerts[0].labels.feature === 'urea_nitrogen'));
    await new Promise((r) => setTimeout(r, 1500));
    const urea = hook.received.filter(
      (x) => x.alerts[0].labels.feature === 'urea_nitrogen' && !x.alerts[0].labels.source,
    );
    assert.equal(urea.length, 1, 'one webhook for one alert, whichever gateway evaluated');
  });

  it('a gateway started again on the schema finds the same window', async () => {
    const before = await report(a);
    await b.stop();
    b = await startTestGateway({ database: 'postgres', schema: a.schema!, config: config(hook.url) });
    const after = await report(b);
    assert.deepEqual(after.features, before.features);
    assert.deepEqual(after.window, before.window);
  });
});
