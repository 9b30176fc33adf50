import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HOSP_SYSTEM, vitalsTransaction } from '../helpers/fhir-resources.js';
import { predictions, sendMllp, startTestGateway } from '../helpers/gateway.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';

const kinds: Array<{ database: 'pglite' | 'postgres'; queue: 'in-process' | 'bullmq' }> = [
  { database: 'pglite', queue: 'in-process' },
  ...(process.env.DATABASE_URL && process.env.REDIS_URL
    ? [{ database: 'postgres' as const, queue: 'bullmq' as const }]
    : []),
];

for (const k of kinds) {
  describe(`scheduled re-scoring (${k.queue} queue, ${k.database})`, () => {
    it('re-scores an active patient on every tick, as mini-batch jobs', async () => {
      const t = await startTestGateway({
        ...k,
        config: { models: { rescore: { intervalMs: 400, groupSize: 16 } } },
      });
      try {
        const now = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
        assert.equal(
          msaCode(await sendMllp(t.gw.mllpPort, vitalsOru({ controlId: 'TICK-1', mrn: 'T1', time: now }))),
          'AA',
        );
        await t.gw.idle();
        const count = async () =>
          (await predictions(t.gw.httpUrl, t.gw.adminToken, 'vitals-deterioration', 'T1')).length;
        const until = Date.now() + 15_000;
        while (Date.now() < until && (await count()) < 3) await new Promise((r) => setTimeout(r, 100));
        assert.ok((await count()) >= 3, 'the message, then at least two ticks');
        const rescored = await t.gw.db.query<{ n: number }>(
          `select count(*)::int as n from lineage where message_id like 'rescore:%' and stage = 'written'`,
        );
        assert.ok(rescored.rows[0]!.n >= 2);
      } finally {
        await t.dispose();
      }
    });
  });
}

describe('re-scoring a FHIR-fed patient', () => {
  it('writes under the same patient identity as the message-triggered score', async () => {
    // No identifierSystems mapping: the FHIR identifier system stands for itself, in both writers.
    const t = await startTestGateway({ database: 'pglite' });
    try {
      const at = new Date().toISOString();
      const res = await fetch(`${t.gw.httpUrl}/ingest/fhir`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.gw.adminToken}`, 'content-type': 'application/fhir+json' },
        body: JSON.stringify(vitalsTransaction('FR-1', at, 'fr1')),
      });
      assert.ok(res.ok, `ingest answered ${res.status}`);
      await t.gw.idle();
      const scores = async () => {
        const r = await fetch(
          `${t.gw.httpUrl}/fhir/Observation?code=vitals-deterioration-probability&subject:identifier=${encodeURIComponent(`${HOSP_SYSTEM}|FR-1`)}`,
          { headers: { authorization: `Bearer ${t.gw.adminToken}` } },
        );
        return ((await r.json()) as { entry?: unknown[] }).entry?.length ?? 0;
      };
      assert.equal(await scores(), 1);
      const r = await fetch(`${t.gw.httpUrl}/models/vitals-deterioration/rescore`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.gw.adminToken}`, 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(r.status, 202);
      const until = Date.now() + 10_000;
      while (Date.now() < until && (await scores()) < 2) await new Promise((x) => setTimeout(x, 50));
      assert.equal(await scores(), 2, `the re-score is found under ${HOSP_SYSTEM}|FR-1 too`);
    } finally {
      await t.dispose();
    }
  });
});
