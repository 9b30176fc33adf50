import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { openPostgres } from '../../src/db/postgres.js';
import { MllpClient } from '../../src/mllp/client.js';
import { type GatewayProcess, removeSharedState, startGatewayProcess } from '../helpers/cluster.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';

const DATABASE_URL = process.env.DATABASE_URL;
const REDIS_URL = process.env.REDIS_URL;
/** A Redis database of its own (cluster.test.ts uses 11), for the children's default queue names. */
const REDIS_DB = 12;

/**
 * A rolling restart under load, as Kubernetes does it: two processes on one PostgreSQL schema and
 * one Redis; senders keep sending while each process in turn gets SIGTERM and is started again. A
 * sender whose connection fails resends the same message to the other process (as Mirth does).
 * Every message ACKed AA is processed and written once: nothing ACKed is lost.
 */
describe('rolling restart under load', { skip: !DATABASE_URL || !REDIS_URL }, () => {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const redisUrl = `${REDIS_URL!.replace(/\/\d*$/, '')}/${REDIS_DB}`;
  const token = randomBytes(24).toString('hex');
  const configFile = join(mkdtempSync(join(tmpdir(), 'gw-rolling-')), 'gateway.yaml');
  writeFileSync(configFile, 'processing:\n  sweepIntervalMs: 1000\n  concurrency: 4\n');
  const env = {
    DATABASE_URL: DATABASE_URL!,
    DATABASE_SCHEMA: schema,
    REDIS_URL: redisUrl,
    GATEWAY_ADMIN_TOKEN: token,
    GATEWAY_CONFIG: configFile,
  };
  const live: Array<GatewayProcess | undefined> = [];
  after(async () => {
    for (const p of live) await p?.stop();
    await removeSharedState(DATABASE_URL!, redisUrl, schema);
  });

  it('loses no ACKed message while each process is restarted in turn', async () => {
    const redis = new Redis(redisUrl);
    await redis.flushdb();
    redis.disconnect();
    const [a, b] = await Promise.all([
      startGatewayProcess('roll-a', env),
      startGatewayProcess('roll-b', env),
    ]);
    live.push(a, b);
    const acked = new Set<string>();
    let refusedOrLost = 0;
    let sending = true;
    let seq = 0;
    const sender = async (lane: number) => {
      let c: MllpClient | undefined;
      let at = lane;
      while (sending) {
        const controlId = `ROLL-${lane}-${seq++}`;
        const mrn = `R${seq}`;
        // Resend the same message until a process ACKs it, moving to the other one on failure.
        for (;;) {
          const p = live[at % live.length];
          try {
            if (!p) throw new Error('down');
            c ??= await MllpClient.connect({ host: '127.0.0.1', port: p.mllp, timeoutMs: 10_000 });
            const ack = await c.send(vitalsOru({ controlId, mrn }));
            assert.equal(msaCode(ack), 'AA', ack);
            acked.add(controlId);
            // A steady feed (about 20 messages a second in all) that processing keeps up with.
            await new Promise((r) => setTimeout(r, 100));
            break;
          } catch (err) {
            if (err instanceof assert.AssertionError) throw err;
            refusedOrLost++;
            await c?.close().catch(() => {});
            c = undefined;
            at++;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      }
      await c?.close().catch(() => {});
    };
    const lanes = [0, 1].map(sender);
    const restart = async (i: number) => {
      const p = live[i]!;
      await new Promise((r) => setTimeout(r, 1500));
      live[i] = undefined;
      assert.equal(await p.stop(), 0, `${p.name} stopped cleanly on SIGTERM`);
      live[i] = await startGatewayProcess(`${p.name}-2`, env);
    };
    await restart(0);
    await restart(1);
    await new Promise((r) => setTimeout(r, 1000));
    sending = false;
    await Promise.all(lanes);

    const db = await openPostgres({ url: DATABASE_URL!, schema });
    try {
      const count = async (sql: string) => Number((await db.query<{ n: number }>(sql)).rows[0]!.n);
      const until = Date.now() + 60_000;
      while ((await count(`select count(*)::int as n from inbox where status = 'received'`)) > 0) {
        assert.ok(Date.now() < until, 'every stored message is processed');
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(acked.size > 50, `load during the restarts: ${acked.size} ACKed`);
      const stored = await db.query<{ control_id: string }>(`select control_id from inbox`);
      const storedIds = new Set(stored.rows.map((r) => r.control_id));
      const missing = [...acked].filter((id) => !storedIds.has(id));
      assert.deepEqual(missing, [], 'every ACKed message is stored');
      const written = await count(
        `select count(distinct message_id)::int as n from lineage where stage = 'written'`,
      );
      assert.equal(written, acked.size, 'every ACKed message written, each once');
      const obs = await count(
        `select count(*)::int as n from fhir_resource where resource_type = 'Observation'`,
      );
      assert.equal(obs, acked.size, 'one Observation per ACKed message');
      process.stdout.write(
        `# rolling restart: ${acked.size} ACKed, ${written} written, ${refusedOrLost} sends retried\n`,
      );
    } finally {
      await db.close();
    }
  });
});
