import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MllpClient } from '../../src/mllp/client.js';
import type { DeadLetter } from '../../src/recovery/dead-letters.js';
import { predictions, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';
import { PG_URL } from './harness.js';

/** Poisons: accepted (AA), then the pipeline cannot do anything right with them. */
const POISONS = {
  // Mapping fails: no PID-3, so no patient to score for.
  'PZ-NO-PATIENT': vitalsOru({ controlId: 'PZ-NO-PATIENT' }).replace(/PID\|1\|\|[^|]*\|/, 'PID|1|||'),
  // The FHIR server refuses the result: the assigning authority is configured with an identifier
  // system that is no uri (message content itself can no longer make one: issue 12, item 2).
  'PZ-BAD-SYSTEM': vitalsOru({ controlId: 'PZ-BAD-SYSTEM', mrn: 'PZ1' }).replace(
    '^^^HOSP^MR',
    '^^^BADSYS^MR',
  ),
};

describe('fault: poisoned messages', { skip: !PG_URL && 'needs DATABASE_URL' }, () => {
  let t: TestGateway;
  before(async () => {
    t = await startTestGateway({
      database: 'postgres',
      config: {
        processing: { concurrency: 2, backoffMs: 2000 },
        patients: { identifierSystems: { BADSYS: 'urn:bad system' } },
      },
    });
  });
  after(async () => t?.dispose());

  it('go to the dead-letter store with their reason at once and never block the others', async () => {
    const c = await MllpClient.connect({ host: '127.0.0.1', port: t.gw.mllpPort });
    const sent: string[] = [];
    for (let i = 0; i < 30; i++) {
      if (i === 3) sent.push(msaCode(await c.send(POISONS['PZ-NO-PATIENT']))!);
      if (i === 4) sent.push(msaCode(await c.send(POISONS['PZ-BAD-SYSTEM']))!);
      sent.push(msaCode(await c.send(vitalsOru({ controlId: `PZ-OK-${i}`, mrn: `PZOK${i}` })))!);
    }
    await c.close();
    assert.deepEqual(new Set(sent), new Set(['AA']));
    const t0 = Date.now();
    // A back-off of 2 s per retry: finishing well under it shows no poison was retried.
    await t.gw.idle(10_000);
    assert.ok(Date.now() - t0 < 2000, `done in ${Date.now() - t0} ms`);

    const ok = await predictions(t.gw.httpUrl, t.gw.adminToken);
    assert.equal(ok.length, 30, 'every good message scored');
    const res = await fetch(`${t.gw.httpUrl}/dead-letters`, {
      headers: { authorization: `Bearer ${t.gw.adminToken}` },
    });
    const items = ((await res.json()) as { items: DeadLetter[] }).items;
    const byId = new Map(items.map((d) => [d.controlId, d]));
    assert.deepEqual([...byId.keys()].sort(), Object.keys(POISONS).sort());
    const noPatient = byId.get('PZ-NO-PATIENT')!;
    assert.equal(noPatient.stage, 'map');
    assert.match(noPatient.reason, /no patient identifier \(PID-3\)/);
    assert.equal(noPatient.attempts, 1);
    const badSystem = byId.get('PZ-BAD-SYSTEM')!;
    assert.equal(badSystem.stage, 'write');
    assert.match(badSystem.reason, /HTTP 400/);
    assert.equal(badSystem.model, 'vitals-deterioration');
    assert.ok(!badSystem.reason.includes('PZ1'), 'no patient identifier in the reason');
  });
});
