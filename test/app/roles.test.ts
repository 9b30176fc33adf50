import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { configSchema } from '../../src/config/schema.js';
import { openPostgres } from '../../src/db/postgres.js';
import { MllpClient } from '../../src/mllp/client.js';
import { type GatewayProcess, removeSharedState, startGatewayProcess } from '../helpers/cluster.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';

const DATABASE_URL = process.env.DATABASE_URL;
const REDIS_URL = process.env.REDIS_URL;
/** A Redis database of its own (helper 6's), so the children's default queue names meet no other test's. */
const REDIS_DB = 6;

describe('GATEWAY_ROLE', () => {
  it('intake and worker roles need PostgreSQL: on PGlite the gateway is one process', () => {
    assert.equal(configSchema.parse({}).role, 'all');
    const r = configSchema.safeParse({ role: 'worker' });
    assert.equal(r.success, false);
    assert.match(JSON.stringify(r.error?.issues), /needs PostgreSQL/);
    assert.equal(configSchema.safeParse({ role: 'intake', databaseUrl: 'postgres://x@h/db' }).success, true);
  });
});

/**
 * An intake-role process and worker-role processes on one PostgreSQL schema, with Redis (BullMQ)
 * and without it (the workers claim `received` rows from the inbox): the intake ACKs and stores,
 * the workers process; with no worker running the intake still ACKs AA, and a worker started later
 * works through the backlog. Every message ends with one Observation and the chain verifies.
 */
for (const queue of ['redis', 'inbox'] as const) {
  describe(`intake and worker processes, queue: ${queue}`, {
    skip: !DATABASE_URL || (queue === 'redis' && !REDIS_URL),
  }, () => {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const redisUrl = REDIS_URL ? `${REDIS_URL.replace(/\/\d*$/, '')}/${REDIS_DB}` : '';
    const token = randomBytes(24).toString('hex');
    const children: ChildProcess[] = [];
    const configFile = join(mkdtempSync(join(tmpdir(), 'gw-roles-')), 'gateway.yaml');
    writeFileSync(
      configFile,
      'processing:\n  sweepIntervalMs: 1000\n  concurrency: 8\n  claimIntervalMs: 50\n  claimLeaseMs: 2000\n',
    );
    const start = async (name: string, role: 'intake' | 'worker') => {
      const p = await startGatewayProcess(name, {
        DATABASE_URL: DATABASE_URL!,
        DATABASE_SCHEMA: schema,
        ...(queue === 'redis' ? { REDIS_URL: redisUrl } : { REDIS_URL: '' }),
        GATEWAY_ADMIN_TOKEN: token,
        GATEWAY_CONFIG: configFile,
        GATEWAY_ROLE: role,
      });
      children.push(p.child);
      return p;
    };
    const flush = async () => {
      if (queue !== 'redis') return;
      const redis = new Redis(redisUrl);
      await redis.flushdb();
      redis.disconnect();
    };

    after(async () => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await flush();
      const admin = await openPostgres({ url: DATABASE_URL! });
      await admin.query(`drop schema if exists ${schema} cascade`);
      await admin.close();
    });

    it('the intake ACKs and stores, the worker processes, with or without a worker running', async () => {
      await flush();
      const intake = await start('intake', 'intake');
      const db = await openPostgres({ url: DATABASE_URL!, schema });
      const count = async (sql: string) => Number((await db.query<{ n: number }>(sql)).rows[0]!.n);
      const send = async (from: number, to: number) => {
        const c = await MllpClient.connect({ host: '127.0.0.1', port: intake.mllp });
        const acks = await Promise.all(
          Array.from({ length: to - from }, (_, k) =>
            c.send(vitalsOru({ controlId: `RO-${from + k}`, mrn: `RO${from + k}` })),
          ),
        );
        await c.close();
        return acks.map(msaCode);
      };
      const waitProcessed = async (n: number) => {
        const until = Date.now() + 90_000;
        while ((await count(`select count(*)::int as n from inbox where status = 'processed'`)) < n) {
          assert.ok(Date.now() < until, `${n} messages processed`);
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      let worker: GatewayProcess | undefined;
      try {
        const ready = async (p: GatewayProcess) =>
          (await (
            await fetch(`${p.http}/health/ready`, { headers: { authorization: `Bearer ${token}` } })
          ).json()) as { checks?: Record<string, unknown> };
        assert.match(JSON.stringify(await ready(intake)), /"role":"intake"/);

        // No worker yet: every message is ACKed AA and stays stored, unprocessed.
        assert.deepEqual(new Set(await send(0, 40)), new Set(['AA']));
        assert.equal(await count(`select count(*)::int as n from inbox where status = 'received'`), 40);

        // A worker started later works through the backlog, then through what keeps arriving.
        worker = await start('worker-1', 'worker');
        assert.match(JSON.stringify(await ready(worker)), /"role":"worker"/);
        assert.equal(worker.mllp, 0, 'a worker-role process opens no MLLP port');
        const hl7 = await fetch(`${worker.http}/hl7`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'x-application/hl7-v2+er7' },
          body: vitalsOru({ controlId: 'RO-HTTP' }),
        });
        assert.equal(hl7.status, 404, 'nor POST /hl7');
        await waitProcessed(40);
        assert.deepEqual(new Set(await send(40, 80)), new Set(['AA']));
        await waitProcessed(80);

        // The worker dies (kill -9): the intake keeps ACKing; a new worker takes over.
        worker.child.kill('SIGKILL');
        await new Promise((r) => worker!.child.once('exit', r));
        assert.deepEqual(new Set(await send(80, 120)), new Set(['AA']));
        worker = await start('worker-2', 'worker');
        await waitProcessed(120);

        const obs = await db.query<{ mrn: string; n: number }>(
          `select content->'subject'->'identifier'->>'value' as mrn, count(*)::int as n
             from fhir_resource where resource_type = 'Observation' group by 1`,
        );
        assert.equal(obs.rows.length, 120, 'one Observation per message');
        assert.ok(
          obs.rows.every((r) => r.n === 1),
          'none written twice',
        );
        assert.equal(await count(`select count(*)::int as n from lineage where stage = 'written'`), 120);
        const res = await fetch(`${intake.http}/lineage/verify`, {
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(((await res.json()) as { ok: boolean }).ok, true);
      } finally {
        await db.close();
        await worker?.stop();
        await intake.stop();
      }
    });
  });
}

/**
 * Role `all` with processing.workerProcess on PostgreSQL: `npm start` runs the intake and a worker
 * child process; messages are processed by the child, which stops by itself when its parent is
 * killed with SIGKILL.
 */
describe('role all with a worker child process', { skip: !DATABASE_URL || !REDIS_URL }, () => {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const redisUrl = REDIS_URL ? `${REDIS_URL.replace(/\/\d*$/, '')}/${REDIS_DB}` : '';
  const token = randomBytes(24).toString('hex');
  const configFile = join(mkdtempSync(join(tmpdir(), 'gw-roles-')), 'gateway.yaml');
  writeFileSync(configFile, 'processing:\n  workerProcess: true\n  sweepIntervalMs: 1000\n');
  let gw: GatewayProcess | undefined;
  after(async () => {
    if (gw && gw.child.exitCode === null && gw.child.signalCode === null) gw.child.kill('SIGKILL');
    await removeSharedState(DATABASE_URL!, redisUrl, schema);
  });

  it('processes in the child and the child follows its parent out', async () => {
    const redis = new Redis(redisUrl);
    await redis.flushdb();
    redis.disconnect();
    gw = await startGatewayProcess('all-fork', {
      DATABASE_URL: DATABASE_URL!,
      DATABASE_SCHEMA: schema,
      REDIS_URL: redisUrl,
      GATEWAY_ADMIN_TOKEN: token,
      GATEWAY_CONFIG: configFile,
    });
    const db = await openPostgres({ url: DATABASE_URL!, schema });
    try {
      const ready = (await (
        await fetch(`${gw.http}/health/ready`, { headers: { authorization: `Bearer ${token}` } })
      ).json()) as { checks: { queue: { role: string } } };
      assert.equal(ready.checks.queue.role, 'intake', 'the parent is the intake');
      const c = await MllpClient.connect({ host: '127.0.0.1', port: gw.mllp });
      const acks = await Promise.all(
        Array.from({ length: 20 }, (_, k) => c.send(vitalsOru({ controlId: `RF-${k}`, mrn: `RF${k}` }))),
      );
      await c.close();
      assert.deepEqual(new Set(acks.map(msaCode)), new Set(['AA']));
      const until = Date.now() + 90_000;
      const processed = async () =>
        Number(
          (await db.query<{ n: number }>(`select count(*)::int as n from inbox where status = 'processed'`))
            .rows[0]!.n,
        );
      while ((await processed()) < 20) {
        assert.ok(Date.now() < until, 'the worker child processes what the intake stored');
        await new Promise((r) => setTimeout(r, 100));
      }
      const pid = Number(/"pid":(\d+)[^\n]*worker process started/.exec(gw.output())?.[1]);
      assert.ok(pid > 0, 'the worker child logged its pid');
      gw.child.kill('SIGKILL');
      const alive = () => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      while (alive()) {
        assert.ok(Date.now() < until, 'the child stops when its parent is gone');
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await db.close();
    }
  });
});
