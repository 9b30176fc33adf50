import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { openPostgres } from '../../src/db/postgres.js';
import { MllpClient } from '../../src/mllp/client.js';
import { removeSharedState, startGatewayProcess } from '../helpers/cluster.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';

const DATABASE_URL = process.env.DATABASE_URL;
const REDIS_URL = process.env.REDIS_URL;
/** A Redis database of its own, so the children's default queue names meet no other test's. */
const REDIS_DB = 11;

/**
 * Several gateway processes, one system: two child processes share one PostgreSQL schema and one
 * Redis (BullMQ). One is killed with SIGKILL while it is processing; every message ACKed AA by
 * either is scored and written exactly once.
 */
describe('two gateway processes on PostgreSQL + Redis', { skip: !DATABASE_URL || !REDIS_URL }, () => {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const redisUrl = `${REDIS_URL!.replace(/\/\d*$/, '')}/${REDIS_DB}`;
  const token = randomBytes(24).toString('hex');
  const children: ChildProcess[] = [];
  const configFile = join(mkdtempSync(join(tmpdir(), 'gw-cluster-')), 'gateway.yaml');
  writeFileSync(configFile, 'processing:\n  sweepIntervalMs: 1000\n  concurrency: 8\n');

  const start = async (name: string) => {
    const p = await startGatewayProcess(name, {
      DATABASE_URL: DATABASE_URL!,
      DATABASE_SCHEMA: schema,
      REDIS_URL: redisUrl,
      GATEWAY_ADMIN_TOKEN: token,
      GATEWAY_CONFIG: configFile,
    });
    children.push(p.child);
    return p;
  };

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await removeSharedState(DATABASE_URL!, redisUrl, schema);
  });

  it('scores and writes every message once when one process is killed mid-batch', async () => {
    const redis = new Redis(redisUrl);
    await redis.flushdb();
    redis.disconnect();
    const a = await start('a'); // first: it creates the schema and registers the bundled models
    const b = await start('b');
    const db = await openPostgres({ url: DATABASE_URL!, schema });
    const count = async (sql: string) => Number((await db.query<{ n: number }>(sql)).rows[0]!.n);
    try {
      const N = 240;
      const send = async (port: number, from: number, to: number) => {
        const c = await MllpClient.connect({ host: '127.0.0.1', port });
        const acks = await Promise.all(
          Array.from({ length: to - from }, (_, k) =>
            c.send(vitalsOru({ controlId: `CL-${from + k}`, mrn: `CL${from + k}` })),
          ),
        );
        await c.close();
        return acks.map(msaCode);
      };
      const acks = [...(await send(a.mllp, 0, N / 2)), ...(await send(b.mllp, N / 2, N))];
      assert.ok(acks.every((x) => x === 'AA'));
      // Kill A while the shared queue is still being worked through by both.
      const until = Date.now() + 60_000;
      while ((await count(`select count(*)::int as n from inbox where status <> 'received'`)) < N / 6) {
        assert.ok(Date.now() < until, 'processing started');
        await new Promise((r) => setTimeout(r, 20));
      }
      a.child.kill('SIGKILL');
      const processedAtKill = await count(`select count(*)::int as n from inbox where status <> 'received'`);
      assert.ok(processedAtKill < N, 'A was killed mid-batch');
      while ((await count(`select count(*)::int as n from inbox where status = 'processed'`)) < N) {
        assert.ok(Date.now() < until, 'every message is processed after the kill');
        await new Promise((r) => setTimeout(r, 100));
      }
      const obs = await db.query<{ mrn: string; n: number }>(
        `select content->'subject'->'identifier'->>'value' as mrn, count(*)::int as n
           from fhir_resource where resource_type = 'Observation' group by 1`,
      );
      assert.equal(obs.rows.length, N, 'one Observation per message');
      assert.ok(
        obs.rows.every((r) => r.n === 1),
        'none written twice',
      );
      assert.equal(
        await count(`select count(*)::int as n from lineage where stage = 'written'`),
        N,
        'one written lineage entry per message',
      );
      // B took over A's share: messages ACKed by A after A died were written.
      const res = await fetch(`${b.http}/lineage/verify`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(((await res.json()) as { ok: boolean }).ok, true);
    } finally {
      await db.close();
      b.child.kill('SIGTERM');
      await new Promise((r) => b.child.once('exit', r));
    }
  });
});
