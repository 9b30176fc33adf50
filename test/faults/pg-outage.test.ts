import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MllpClient } from '../../src/mllp/client.js';
import { predictions, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';
import { PG_URL, sleep, startTcpProxy, until } from './harness.js';

describe('fault: PostgreSQL unreachable mid-stream', { skip: !PG_URL && 'needs DATABASE_URL' }, () => {
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  let t: TestGateway;

  before(async () => {
    const pg = new URL(PG_URL!);
    proxy = await startTcpProxy(pg.hostname, Number(pg.port || 5432));
    const viaProxy = new URL(PG_URL!);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    t = await startTestGateway({
      database: 'postgres',
      config: {
        databaseUrl: viaProxy.toString(),
        processing: { backoffMs: 50, maxAttempts: 3, sweepIntervalMs: 500 },
        // The embedded FHIR store is on the same database: it fails too, and opens the circuit.
        fhir: { circuitBreaker: { failureThreshold: 5, cooldownMs: 1000 } },
      },
    });
  });
  after(async () => {
    await t?.dispose();
    await proxy?.close();
  });

  it('answers AE while the database is away, then recovers on its own and loses no AA', async () => {
    const client = await MllpClient.connect({ host: '127.0.0.1', port: t.gw.mllpPort });
    const accepted = new Set<string>();
    const send = async (id: string) => {
      const code = msaCode(await client.send(vitalsOru({ controlId: id, mrn: id })));
      if (code === 'AA') accepted.add(id);
      return code;
    };
    for (let i = 0; i < 10; i++) assert.equal(await send(`PG-A${i}`), 'AA');

    // Cut while messages are still being processed: some fail mid-pipeline and must be retried.
    await proxy.cut();
    const during: string[] = [];
    for (let i = 0; i < 10; i++) {
      during.push((await send(`PG-B${i}`)) ?? '?');
      await sleep(100);
    }
    assert.deepEqual(new Set(during), new Set(['AE']), 'the sender is asked to retry');
    const ready = await fetch(`${t.gw.httpUrl}/health/ready`);
    assert.equal(ready.status, 503);

    await proxy.restore();
    // The sender retries what got AE, as Mirth does, until it is accepted.
    for (let i = 0; i < 10; i++) {
      const id = `PG-B${i}`;
      await until(`AA for ${id}`, async () => (await send(id)) === 'AA', 20_000, 200);
    }
    for (let i = 0; i < 5; i++) assert.equal(await send(`PG-C${i}`), 'AA');
    await client.close();
    assert.equal(accepted.size, 25);

    await t.gw.idle(30_000);
    const rows = await t.gw.db.query<{ control_id: string; status: string }>(
      `select control_id, status from inbox where control_id like 'PG-%'`,
    );
    assert.equal(rows.rows.length, 25);
    assert.deepEqual(new Set(rows.rows.map((r) => r.status)), new Set(['processed']));
    const obs = await predictions(t.gw.httpUrl, t.gw.adminToken);
    const mrns = obs.map((o) => (o.subject as { identifier: { value: string } }).identifier.value).sort();
    assert.deepEqual(mrns, [...accepted].sort(), 'every AA scored exactly once');
    assert.equal(
      ((await (await fetch(`${t.gw.httpUrl}/health/ready`)).json()) as { status: string }).status,
      'ready',
    );
  });
});
