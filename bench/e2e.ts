import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { setPriority } from 'node:os';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type GatewayProcess, startGatewayProcess } from '../test/helpers/cluster.js';
import { runSenders } from './mllp-intake.js';
import { backendCpuMs, TICK_MS } from './proc-cpu.js';

/**
 * End to end on PostgreSQL + Redis (issue 17 targets), gateways started as `npm start` starts them
 * (src/main.ts, test/helpers/cluster.ts), vitals ORU^R01 over 10 MLLP connections from a worker
 * thread (bench/mllp-senders.ts):
 * - the MLLP echo limit of the same load generator (a server that answers every frame at once);
 * - end to end (ACK -> Observation + Provenance written -> lineage): the inbox has no `received`
 *   row left, one process and two on one database and Redis;
 * - ACK p50/p99 at a paced 500 msg/s while the pipeline is saturated (its backlog only grows), one
 *   process doing both (`all`) against an intake process with a worker process (GATEWAY_ROLE);
 * - CPU per message: each gateway process (its process tree, /proc), its PostgreSQL backends
 *   (application_name), Redis (the server's used_cpu, server-wide), and the wall time of each
 *   pipeline stage from gateway_stage_duration_seconds.
 */

export interface CpuAccount {
  gatewayMs: number;
  postgresMs: number;
  redisMs: number;
}

export interface E2eResult {
  echoPerSecond: number;
  one: { perSecond: number; messages: number; cpu: CpuAccount; stages: Array<[string, number]> };
  two: { perSecond: number; messages: number; cpu: CpuAccount };
  pacedAll: { p50: number; p99: number; achieved: number };
  pacedSplit: { p50: number; p99: number; achieved: number };
  machineIdle: number;
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

/** A server answering each MLLP frame with a fixed AA at once: the load generator's own limit. */
async function echoServer(): Promise<Server> {
  const ack = Buffer.from('\x0bMSH|^~\\&|E|E|B|B|20240101||ACK^R01^ACK|1|P|2.5.1\rMSA|AA|x\r\x1c\r');
  const server = createServer((sock) => {
    let pending = 0;
    sock.on('data', (d: Buffer) => {
      for (let i = 0; i < d.length; i++) if (d[i] === 0x1c) pending++;
      if (pending > 0) {
        sock.write(pending === 1 ? ack : Buffer.concat(Array(pending).fill(ack)));
        pending = 0;
      }
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

/** utime + stime (ms) of a process and its descendants. */
function treeCpuMs(root: number): number {
  const stats = new Map<number, { ppid: number; ms: number }>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const f = readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ');
      stats.set(Number(d), { ppid: Number(f[1]), ms: (Number(f[11]) + Number(f[12])) * TICK_MS });
    } catch {
      // gone
    }
  }
  let total = 0;
  const walk = (pid: number) => {
    total += stats.get(pid)?.ms ?? 0;
    for (const [p, s] of stats) if (s.ppid === pid) walk(p);
  };
  walk(root);
  return total;
}

async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const v = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return 1000 * (v('used_cpu_sys') + v('used_cpu_user'));
}

/** Machine-wide idle share since the last call (/proc/stat). */
function idleMeter() {
  const read = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { idle: f[3]! + (f[4] ?? 0), total: f.reduce((a, b) => a + b, 0) };
  };
  const a = read();
  return () => {
    const b = read();
    return (b.idle - a.idle) / Math.max(1, b.total - a.total);
  };
}

async function stageSums(http: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const x = /^gateway_stage_duration_seconds_sum\{stage="([^"]+)"\} (\S+)$/.exec(line);
    if (x) m.set(x[1]!, Number(x[2]));
  }
  return m;
}

interface Cluster {
  schema: string;
  app: string;
  procs: GatewayProcess[];
}

async function waitDrained(db: pg.Client, schema: string, timeoutMs = 600_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await db.query(`select count(*)::int as n from ${schema}.inbox where status = 'received'`);
    if (r.rows[0].n === 0) return;
    if (Date.now() > until) throw new Error(`${r.rows[0].n} unprocessed after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** Sends `total` messages over 10 connections spread over the intake ports; processed end to end. */
async function endToEnd(
  db: pg.Client,
  redis: Redis,
  c: Cluster,
  ports: number[],
  total: number,
): Promise<{ perSecond: number; cpu: CpuAccount }> {
  const run = randomBytes(3).toString('hex');
  const g0 = c.procs.reduce((a, p) => a + treeCpuMs(p.child.pid!), 0);
  const pg0 = await backendCpuMs(db, c.app);
  const r0 = await redisCpuMs(redis);
  const t0 = performance.now();
  const perPort = Math.ceil(10 / ports.length);
  const results = await Promise.all(
    ports.map((port, i) =>
      runSenders({ port, connections: perPort, perConn: total / 10, window: 1, rate: 0, run: `${run}${i}` }),
    ),
  );
  if (results.some((r) => r.notAa > 0)) throw new Error('messages not answered AA');
  await waitDrained(db, c.schema);
  const seconds = (performance.now() - t0) / 1000;
  const pg1 = await backendCpuMs(db, c.app);
  let postgresMs = 0;
  for (const [pid, ms] of pg1) postgresMs += ms - (pg0.get(pid) ?? 0);
  const n = perPort * ports.length * (total / 10);
  return {
    perSecond: n / seconds,
    cpu: {
      gatewayMs: (c.procs.reduce((a, p) => a + treeCpuMs(p.child.pid!), 0) - g0) / n,
      postgresMs: postgresMs / n,
      redisMs: ((await redisCpuMs(redis)) - r0) / n,
    },
  };
}

async function paced(port: number, total: number, rate: number) {
  const r = await runSenders({
    port,
    connections: 10,
    perConn: total / 10,
    window: 1,
    rate,
    run: randomBytes(3).toString('hex'),
  });
  if (r.notAa > 0) throw new Error(`${r.notAa} not answered AA`);
  const l = r.latencies.sort((a, b) => a - b);
  return { p50: pct(l, 50), p99: pct(l, 99), achieved: total / r.seconds };
}

export async function benchE2e(o: { messages?: number; pacedMessages?: number } = {}): Promise<E2eResult> {
  const url = process.env.DATABASE_URL;
  const redisUrl = process.env.REDIS_URL;
  if (!url || !redisUrl) throw new Error('e2e: DATABASE_URL and REDIS_URL are required');
  const messages = o.messages ?? 2000;
  const pacedMessages = o.pacedMessages ?? 2500;
  const redis = new Redis(redisUrl);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const clusters: Cluster[] = [];
  const start = async (c: Cluster, name: string, env: Record<string, string> = {}) => {
    const p = await startGatewayProcess(name, {
      DATABASE_URL: url,
      DATABASE_SCHEMA: c.schema,
      REDIS_URL: redisUrl,
      PGAPPNAME: c.app,
      ...env,
    });
    c.procs.push(p);
    return p;
  };
  const cluster = (): Cluster => {
    const schema = `bench_${randomBytes(4).toString('hex')}`;
    const c = { schema, app: `gw-bench-${schema}`, procs: [] };
    clusters.push(c);
    return c;
  };
  const stopAll = async (c: Cluster) => {
    await Promise.all(c.procs.map((p) => p.stop()));
    c.procs = [];
  };
  try {
    // 1. The load generator's limit: the same senders against an MLLP echo server.
    const echo = await echoServer();
    const port = (echo.address() as { port: number }).port;
    const e = await runSenders({ port, connections: 10, perConn: 2000, window: 1, rate: 0, run: 'echo' });
    const echoPerSecond = 20_000 / e.seconds;
    await new Promise((r) => echo.close(r));

    // 2. One gateway process (role all), then two, on one schema and one Redis database.
    await redis.flushdb();
    const idle = idleMeter();
    const a = cluster();
    const gwA = await start(a, 'e2e-a');
    await endToEnd(db, redis, a, [gwA.mllp], 200); // warm-up: JIT, pools, model sessions
    const s0 = await stageSums(gwA.http);
    const one = await endToEnd(db, redis, a, [gwA.mllp], messages);
    const s1 = await stageSums(gwA.http);
    const stages: Array<[string, number]> = [...s1].map(([k, v]) => [
      k,
      (1000 * (v - (s0.get(k) ?? 0))) / messages,
    ]);
    const gwB = await start(a, 'e2e-b');
    await endToEnd(db, redis, a, [gwA.mllp, gwB.mllp], 200);
    const two = await endToEnd(db, redis, a, [gwA.mllp, gwB.mllp], messages);
    const machineIdle = idle();
    await gwB.stop();
    a.procs = [gwA];

    // 3. ACK latency at a paced 500 msg/s while the pipeline cannot keep up: one process doing both.
    const pacedAll = await paced(gwA.mllp, pacedMessages, 500);
    await stopAll(a);

    // ...and an intake process beside a worker process.
    await redis.flushdb();
    const s = cluster();
    const intake = await start(s, 'e2e-intake', { GATEWAY_ROLE: 'intake' });
    const worker = await start(s, 'e2e-worker', { GATEWAY_ROLE: 'worker' });
    // The worker yields the CPU to the intake (Nice=10 in its systemd unit, or its own pod's CPU
    // limit): on a machine the pipeline saturates, ACKs then wait for neither loop nor cores.
    setPriority(worker.child.pid!, 10);
    await endToEnd(db, redis, s, [intake.mllp], 200);
    const pacedSplit = await paced(intake.mllp, pacedMessages, 500);
    await stopAll(s);

    return {
      echoPerSecond,
      one: { ...one, messages, stages },
      two: { ...two, messages },
      pacedAll,
      pacedSplit,
      machineIdle,
    };
  } finally {
    for (const c of clusters) {
      await stopAll(c).catch(() => {});
      await db.query(`drop schema if exists ${c.schema} cascade`).catch(() => {});
    }
    await redis.flushdb().catch(() => {});
    redis.disconnect();
    await db.end();
  }
}
