import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MllpClient } from '../../src/mllp/client.js';
import { bucketQuantile } from '../../src/stats/overview.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { adtA01, msaCode, vitalsOru } from '../helpers/messages.js';

type Json = Record<string, unknown>;

describe('bucketQuantile (Prometheus histogram_quantile)', () => {
  it('interpolates within the bucket holding the rank', () => {
    const b = [
      { le: 1, count: 10 },
      { le: 2, count: 30 },
      { le: 4, count: 40 },
      { le: Number.POSITIVE_INFINITY, count: 40 },
    ];
    assert.equal(bucketQuantile(b, 0.25), 1); // rank 10: the top of the first bucket
    assert.equal(bucketQuantile(b, 0.5), 1.5); // rank 20: half way through (1, 2]
    assert.equal(bucketQuantile(b, 0.875), 3); // rank 35: half way through (2, 4]
    assert.equal(bucketQuantile([{ le: Number.POSITIVE_INFINITY, count: 0 }], 0.5), null);
    // Ranks in the +Inf bucket answer the highest finite bound.
    assert.equal(bucketQuantile([...b.slice(0, 3), { le: Number.POSITIVE_INFINITY, count: 50 }], 0.99), 4);
  });
});

describe('GET /stats/overview', () => {
  let t: TestGateway;
  const get = async (path: string) => {
    const res = await fetch(`${t.gw.httpUrl}${path}`, {
      headers: { authorization: `Bearer ${t.gw.adminToken}` },
    });
    return { status: res.status, body: (await res.json()) as Json };
  };
  before(async () => {
    t = await startTestGateway({ database: process.env.DATABASE_URL ? 'postgres' : 'pglite' });
    const c = await MllpClient.connect({ host: '127.0.0.1', port: t.gw.mllpPort });
    for (const m of [
      vitalsOru({ controlId: 'ST-1', mrn: 'ST1' }),
      vitalsOru({ controlId: 'ST-2', mrn: 'ST2' }),
      adtA01('ST-3'),
      vitalsOru({ controlId: 'ST-4' }).replace(/PID\|1\|\|[^|]*\|/, 'PID|1|||'),
      'MSH|^~\\&|VITALS|WARD5|ML-GATEWAY|HOSP|20240301101500||ORU^R01|||P|2.5.1\r',
    ])
      await c.send(m).then(msaCode);
    await c.close();
    await t.gw.idle();
  });
  after(() => t.dispose());

  it('counts what was received and how it ended, per minute and per sender, with latencies and backlog', async () => {
    const { status, body } = await get('/stats/overview?minutes=15');
    assert.equal(status, 200);
    const perMinute = body.perMinute as Array<Record<string, number>>;
    assert.equal(perMinute.length, 15);
    const sum = (k: string) => perMinute.reduce((a, m) => a + (m[k] ?? 0), 0);
    assert.deepEqual(
      {
        received: sum('received'),
        processed: sum('processed'),
        ignored: sum('ignored'),
        failed: sum('failed'),
      },
      { received: 4, processed: 2, ignored: 1, failed: 1 },
    );
    assert.deepEqual(body.statuses, { processed: 2, ignored: 1, failed: 1 });
    assert.deepEqual((body.acks as Json).codes, { AA: 4, AR: 1 });
    const ackLatency = (body.acks as Json).latencySeconds as Json;
    assert.equal(ackLatency.count, 5);
    assert.ok((ackLatency.p50 as number) > 0 && (ackLatency.p99 as number) >= (ackLatency.p50 as number));
    const e2e = body.endToEndSeconds as Json;
    assert.equal(e2e.count, 2);
    assert.ok((e2e.p50 as number) > 0);
    assert.deepEqual(body.backlog, {
      queued: 0,
      unprocessed: 0,
      oldestReceivedAt: null,
      oldestAgeSeconds: null,
    });
    assert.deepEqual(
      (body.senders as Json[]).map(({ lastReceivedAt: _, ...s }) => s),
      [
        { sender: 'VITALS|WARD5', received: 3, processed: 2, ignored: 0, failed: 1, pending: 0 },
        { sender: 'ADT|HOSP', received: 1, processed: 0, ignored: 1, failed: 0, pending: 0 },
      ],
    );
    assert.equal(body.deadLetters, 1);
    assert.deepEqual(body.fhirCircuit, { state: 'closed', transitions: {} });
    assert.equal(body.fhirBaseUrl, `${t.gw.httpUrl}/fhir`);
    assert.deepEqual(body.egress, []);
  });

  it('refuses a window it cannot draw', async () => {
    assert.equal((await get('/stats/overview?minutes=1')).status, 400);
    assert.equal((await get('/stats/overview?hours=1')).status, 400);
  });
});
