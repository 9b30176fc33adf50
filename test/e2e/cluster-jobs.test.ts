import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { sendMllp, startTestGateway } from '../helpers/gateway.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';

const DATABASE_URL = process.env.DATABASE_URL;

/**
 * Two gateways on one PostgreSQL database without Redis (in-process queues, timers of their own):
 * the retention run and the re-scoring tick each happen once per period for the pair, not once
 * per process.
 */
describe('periodic jobs of two processes on one database', { skip: !DATABASE_URL }, () => {
  it('one retention run and one re-scoring tick per period', async () => {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const config = {
      retention: { rawMessageDays: 1, pruneIntervalMs: 60_000 },
      models: { rescore: { intervalMs: 1000, groupSize: 16 } },
    };
    const a = await startTestGateway({ database: 'postgres', schema, config });
    const b = await startTestGateway({ database: 'postgres', schema, config });
    try {
      const now = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
      const ack = await sendMllp(a.gw.mllpPort, vitalsOru({ controlId: 'JOBS-1', mrn: 'J1', time: now }));
      assert.equal(msaCode(ack), 'AA');
      await a.gw.idle();
      const started = Date.now();
      await new Promise((r) => setTimeout(r, 2600));
      const runs = async (t: typeof a) => (await t.gw.metrics.retentionRuns.get()).values[0]?.value ?? 0;
      // Both scheduled their first run a second after start, in a period of a minute: one ran.
      assert.equal((await runs(a)) + (await runs(b)), 1, 'one retention run for the pair');
      const ticks = await a.gw.db.query<{ n: number }>(
        `select count(*)::int as n from lineage where message_id like 'rescore:%' and stage = 'written'`,
      );
      const elapsed = Date.now() - started;
      // Each process ticks every second: uncoordinated, the pair would write about 2 per second.
      const most = Math.floor(elapsed / 800) + 1;
      assert.ok(ticks.rows[0]!.n >= 1, 'the patient was re-scored');
      assert.ok(ticks.rows[0]!.n <= most, `${ticks.rows[0]!.n} re-scores in ${elapsed} ms, at most ${most}`);
    } finally {
      await a.stop();
      await b.dispose();
    }
  });
});
