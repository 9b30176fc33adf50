import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { openPostgres } from '../../src/db/postgres.js';
import { type GatewayProcess, startGatewayProcess } from '../helpers/cluster.js';
import { sendMllp } from '../helpers/gateway.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';

const DATABASE_URL = process.env.DATABASE_URL;

/**
 * Two gateway processes started at the same moment on an empty PostgreSQL schema: the schema,
 * its migrations and the bundled models' registration each happen once, and both serve.
 */
describe('two processes starting at once on an empty database', { skip: !DATABASE_URL }, () => {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const procs: GatewayProcess[] = [];
  after(async () => {
    for (const p of procs) await p.stop();
    const admin = await openPostgres({ url: DATABASE_URL! });
    await admin.query(`drop schema if exists ${schema} cascade`);
    await admin.close();
  });

  it('both start, every migration is applied once, and both accept messages', async () => {
    const token = randomBytes(24).toString('hex');
    const env = { DATABASE_URL: DATABASE_URL!, DATABASE_SCHEMA: schema, GATEWAY_ADMIN_TOKEN: token };
    const started = await Promise.allSettled([
      startGatewayProcess('start-a', env),
      startGatewayProcess('start-b', env),
    ]);
    for (const s of started) if (s.status === 'fulfilled') procs.push(s.value);
    const failed = started.filter((s) => s.status === 'rejected').map((s) => String(s.reason));
    assert.deepEqual(failed, [], 'neither process failed to start');

    const db = await openPostgres({ url: DATABASE_URL!, schema });
    try {
      const m = await db.query<{ name: string; n: number }>(
        'select name, count(*)::int as n from schema_migrations group by name',
      );
      assert.ok(m.rows.length >= 10, 'every migration is recorded');
      assert.ok(m.rows.every((r) => r.n === 1));
      for (const [i, p] of procs.entries()) {
        const ack = await sendMllp(p.mllp, vitalsOru({ controlId: `START-${i}`, mrn: `S${i}` }));
        assert.equal(msaCode(ack), 'AA', `${p.name} accepts`);
        const res = await fetch(`${p.http}/models`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.status, 200);
      }
    } finally {
      await db.close();
    }
  });
});
