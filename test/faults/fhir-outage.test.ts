import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MllpClient } from '../../src/mllp/client.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';
import { PG_URL, pgSchema, sleep, startFhirServer, until } from './harness.js';

const N = 50;
const EVERY_MS = 150;
const OUTAGE = { fromMs: 1500, forMs: 6000 };

describe('fault: the FHIR server down mid-stream', { skip: !PG_URL && 'needs DATABASE_URL' }, () => {
  let fhirSchema: Awaited<ReturnType<typeof pgSchema>>;
  let fhir: Awaited<ReturnType<typeof startFhirServer>>;
  let t: TestGateway;

  before(async () => {
    fhirSchema = await pgSchema('fhir');
    fhir = await startFhirServer(fhirSchema.schema);
    t = await startTestGateway({
      database: 'postgres',
      config: {
        fhir: {
          baseUrl: fhir.baseUrl,
          timeoutMs: 2000,
          circuitBreaker: { failureThreshold: 3, cooldownMs: 1000 },
        },
        // Few attempts: without the breaker's deferral, an outage this long would fail messages.
        processing: { maxAttempts: 3, backoffMs: 50, concurrency: 4 },
      },
    });
  });
  after(async () => {
    await t?.dispose();
    await fhir?.close();
    await fhirSchema?.dispose();
  });

  it('loses nothing and writes each Observation once after it returns', async () => {
    const client = await MllpClient.connect({ host: '127.0.0.1', port: t.gw.mllpPort });
    const acks: Array<Promise<string>> = [];
    const seen = { ready503: false, circuitOpen: false };
    const t0 = Date.now();
    const outage = (async () => {
      await sleep(OUTAGE.fromMs);
      await fhir.stop();
      const end = Date.now() + OUTAGE.forMs;
      while (Date.now() < end) {
        const r = await fetch(`${t.gw.httpUrl}/health/ready`);
        const body = (await r.json()) as { checks: { fhir: { status: string; error?: string } } };
        if (r.status === 503 && body.checks.fhir.status === 'down') seen.ready503 = true;
        if (t.gw.circuit() !== 'closed') seen.circuitOpen = true;
        await sleep(250);
      }
      await fhir.start();
    })();
    for (let i = 0; i < N; i++) {
      acks.push(client.send(vitalsOru({ controlId: `FO-${i}`, mrn: `FO${i}` })));
      await sleep(Math.max(0, t0 + (i + 1) * EVERY_MS - Date.now()));
    }
    const codes = (await Promise.all(acks)).map(msaCode);
    await client.close();
    await outage;
    assert.deepEqual(new Set(codes), new Set(['AA']), 'intake does not depend on the FHIR server');
    assert.ok(seen.circuitOpen, 'the circuit opened during the outage');
    assert.ok(seen.ready503, '/health/ready reported the FHIR target down');

    await t.gw.idle(60_000);
    const status = await t.gw.db.query<{ status: string; n: number }>(
      `select status, count(*)::int as n from inbox where control_id like 'FO-%' group by status`,
    );
    assert.deepEqual(status.rows, [{ status: 'processed', n: N }], 'nothing failed, nothing left');
    const dead = await t.gw.db.query('select 1 from dead_letter');
    assert.equal(dead.rows.length, 0);

    const found = await fhir.store.search('Observation', 'code=vitals-deterioration-probability&_count=1000');
    const subjects = (found.entry ?? []).map(
      (e) =>
        (e.resource as unknown as { subject: { identifier: { value: string } } }).subject.identifier.value,
    );
    assert.equal(found.total, N, 'one Observation per message');
    assert.deepEqual(
      subjects.sort(),
      Array.from({ length: N }, (_, i) => `FO${i}`).sort(),
      'each message written exactly once',
    );
    const prov = await fhir.store.search('Provenance', '_count=1000');
    assert.equal(prov.total, N);
    await until('circuit closed', async () => t.gw.circuit() === 'closed', 5000);
    const metrics = await (await fetch(`${t.gw.httpUrl}/metrics`)).text();
    assert.match(metrics, /gateway_fhir_circuit_transitions_total\{state="open"\} [1-9]/);
    assert.match(metrics, /gateway_fhir_circuit_state 0/);
  });
});
