import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type CpuProfile, summarise, table } from '../scripts/profile-summary.js';
import { runSenders } from './mllp-intake.js';
import { backendCpuMs } from './proc-cpu.js';

/**
 * Where the CPU of a message goes (issue 17, item 1): a gateway started as `npm start` starts it
 * (src/main.ts, PostgreSQL + Redis), with bench/profile-agent.mjs preloaded. After a warm-up of
 * 300 messages, the agent profiles while 3,000 vitals ORUs arrive over 10 MLLP connections and are
 * processed; then the profile is summarised by package and by stage, beside the SQL statements the
 * gateway sent, the rows it wrote (pg_stat_user_tables of its schema), its CPU and its PostgreSQL
 * backends' CPU. `npm run bench profile` (DATABASE_URL and REDIS_URL required; PROFILE_KEEP=DIR
 * keeps the .cpuprofile).
 */
const ROOT = join(import.meta.dirname, '..');

interface Agent {
  child: ChildProcess;
  mllp: number;
  http: string;
  ask(m: 'start' | 'stop'): Promise<void>;
  stop(): Promise<void>;
}

function startProfiled(env: Record<string, string>): Promise<Agent> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', './bench/profile-agent.mjs', '--import', 'tsx', 'src/main.ts'],
      {
        cwd: ROOT,
        env: { ...process.env, MLLP_PORT: '0', HTTP_PORT: '0', LOG_LEVEL: 'info', ...env },
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      },
    );
    let out = '';
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const onData = (d: Buffer) => {
      out += d;
      const m = /"mllp":"[^"]*:(\d+)","http":"([^"]+)"/.exec(out);
      if (!m) return;
      child.stdout!.off('data', onData);
      child.stdout!.resume();
      resolve({
        child,
        mllp: Number(m[1]),
        http: m[2]!,
        ask: (msg) =>
          new Promise((r) => {
            child.once('message', () => r());
            child.send(msg);
          }),
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
        },
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => {
      out += d;
    });
    child.once('exit', (code) => reject(new Error(`gateway exited ${code}: ${out.slice(-1500)}`)));
  });
}

async function waitProcessed(db: pg.Client, schema: string, timeoutMs = 600_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await db.query(`select count(*)::int as n from ${schema}.inbox where status = 'received'`);
    if (r.rows[0].n === 0) return;
    if (Date.now() > until) throw new Error(`${r.rows[0].n} messages unprocessed after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

async function tableRows(db: pg.Client, schema: string) {
  const r = await db.query(
    'select relname, n_tup_ins::int as ins, n_tup_upd::int as upd, n_tup_del::int as del from pg_stat_user_tables where schemaname = $1',
    [schema],
  );
  return new Map(
    (r.rows as Array<{ relname: string; ins: number; upd: number; del: number }>).map((x) => [x.relname, x]),
  );
}

/** Sum and count of gateway_stage_duration_seconds per stage, from /metrics. */
async function stageSums(http: string): Promise<Map<string, { sum: number; count: number }>> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const m = new Map<string, { sum: number; count: number }>();
  for (const line of text.split('\n')) {
    const x = /^gateway_stage_duration_seconds_(sum|count)\{stage="([^"]+)"\} (\S+)$/.exec(line);
    if (!x) continue;
    const e = m.get(x[2]!) ?? { sum: 0, count: 0 };
    e[x[1] as 'sum' | 'count'] = Number(x[3]);
    m.set(x[2]!, e);
  }
  return m;
}

export interface ProfileResult {
  messages: number;
  seconds: number;
  gatewayCpuMs: number;
  postgresCpuMs: number;
  markdown: string;
}

export async function benchProfile(o: { messages?: number; warmup?: number } = {}): Promise<ProfileResult> {
  const url = process.env.DATABASE_URL;
  const redisUrl = process.env.REDIS_URL;
  if (!url || !redisUrl) throw new Error('profile: DATABASE_URL and REDIS_URL are required');
  const messages = o.messages ?? 3000;
  const warmup = o.warmup ?? 300;
  const schema = `prof_${randomBytes(4).toString('hex')}`;
  const app = `gw-profile-${schema}`;
  const dir = process.env.PROFILE_KEEP ?? mkdtempSync(join(tmpdir(), 'gw-profile-'));
  mkdirSync(dir, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), 'gw-profile-data-'));
  const redis = new Redis(redisUrl);
  await redis.flushdb(); // the bench's own Redis database (REDIS_URL's number)
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const gw = await startProfiled({
    DATABASE_URL: url,
    DATABASE_SCHEMA: schema,
    REDIS_URL: redisUrl,
    DATA_DIR: dataDir,
    PGAPPNAME: app,
    PROFILE_OUT: join(dir, 'gateway'),
  });
  try {
    const run = randomBytes(3).toString('hex');
    await runSenders({
      port: gw.mllp,
      connections: 10,
      perConn: warmup / 10,
      window: 1,
      rate: 0,
      run: `w${run}`,
    });
    await waitProcessed(db, schema);
    // Backends report their table counters when idle, at most every 10 s (PostgreSQL 15).
    await new Promise((res) => setTimeout(res, 11_000));
    const rows0 = await tableRows(db, schema);
    const stages0 = await stageSums(gw.http);
    const pg0 = await backendCpuMs(db, app);
    await gw.ask('start');
    const t0 = performance.now();
    const r = await runSenders({
      port: gw.mllp,
      connections: 10,
      perConn: messages / 10,
      window: 1,
      rate: 0,
      run,
    });
    if (r.notAa > 0) throw new Error(`${r.notAa} messages not answered AA`);
    await waitProcessed(db, schema);
    const seconds = (performance.now() - t0) / 1000;
    await gw.ask('stop');
    const pg1 = await backendCpuMs(db, app);
    const stages1 = await stageSums(gw.http);
    // Its backends exit when it stops, reporting their last counters.
    await gw.stop();
    await new Promise((res) => setTimeout(res, 1000));
    const rows1 = await tableRows(db, schema);
    let postgresCpuMs = 0;
    for (const [pid, ms] of pg1) postgresCpuMs += ms - (pg0.get(pid) ?? 0);
    const agent = JSON.parse(readFileSync(join(dir, 'gateway.json'), 'utf8')) as {
      cpuUserMs: number;
      cpuSystemMs: number;
      sql: Record<string, number>;
    };
    const profile = JSON.parse(readFileSync(join(dir, 'gateway.cpuprofile'), 'utf8')) as CpuProfile;
    const s = summarise(profile);
    const gatewayCpuMs = agent.cpuUserMs + agent.cpuSystemMs;
    const per = (x: number) => (x / messages).toFixed(2);
    const md: string[] = [];
    md.push(
      `${messages} vitals ORU^R01 over 10 MLLP connections (waiting senders), PostgreSQL + Redis, processed end to end in ${seconds.toFixed(1)} s (${(messages / seconds).toFixed(0)} msg/s).`,
      `Gateway process CPU ${per(gatewayCpuMs)} ms/message (user ${per(agent.cpuUserMs)}, system ${per(agent.cpuSystemMs)}); its PostgreSQL backends ${per(postgresCpuMs)} ms/message; profile busy ${per(s.busyMs)} ms/message, idle ${per(s.idleMs)}.`,
      '',
      `Tables: the sampled main-thread time scaled to the process's CPU time (x ${(gatewayCpuMs / s.busyMs).toFixed(2)}).`,
      '',
      table('package (self time)', s.byPackage, messages, 0.01, undefined, gatewayCpuMs / s.busyMs),
      '',
      table(
        'stage (innermost src/ folder on the stack)',
        s.byStage,
        messages,
        0.01,
        undefined,
        gatewayCpuMs / s.busyMs,
      ),
      '',
      table('on the stack (inclusive)', s.inclusive, messages, 0.03, s.busyMs, gatewayCpuMs / s.busyMs),
      '',
      '| pipeline stage (gateway_stage_duration_seconds) | wall ms/message |',
      '| --- | ---: |',
    );
    for (const [stage, e] of stages1) {
      const b = stages0.get(stage) ?? { sum: 0, count: 0 };
      md.push(`| ${stage} (${e.count - b.count} observations) | ${per(1000 * (e.sum - b.sum))} |`);
    }
    const sql = Object.entries(agent.sql).sort((a, b) => b[1] - a[1]);
    const totalSql = sql.reduce((a, [, n]) => a + n, 0);
    md.push(
      '',
      `SQL statements: ${(totalSql / messages).toFixed(1)} a message`,
      '',
      '| statement | per message |',
      '| --- | ---: |',
    );
    for (const [k, n] of sql)
      if (n / messages >= 0.01) md.push(`| \`${k}\` | ${(n / messages).toFixed(2)} |`);
    md.push('', '| table | rows inserted / updated / deleted per message |', '| --- | ---: |');
    let ins = 0;
    let upd = 0;
    for (const [name, t] of [...rows1].sort((a, b) => b[1].ins - a[1].ins)) {
      const b = rows0.get(name) ?? { ins: 0, upd: 0, del: 0 };
      const d = [t.ins - b.ins, t.upd - b.upd, t.del - b.del];
      ins += d[0]!;
      upd += d[1]!;
      if (d.some((x) => x > 0))
        md.push(`| ${name} | ${d.map((x) => (x / messages).toFixed(2)).join(' / ')} |`);
    }
    md.push(`| **all** | **${(ins / messages).toFixed(1)} / ${(upd / messages).toFixed(1)}** |`);
    return { messages, seconds, gatewayCpuMs, postgresCpuMs, markdown: md.join('\n') };
  } finally {
    await gw.stop();
    await db.query(`drop schema if exists ${schema} cascade`);
    await db.end();
    await redis.flushdb();
    redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
    if (!process.env.PROFILE_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchProfile();
  console.log(r.markdown);
}
