import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DataDirLockedError, lockDataDir } from '../../src/db/data-dir-lock.js';
import { startTestGateway } from '../helpers/gateway.js';

/**
 * One process per DATA_DIR and a clean stop (issue 12 item 7): `kill -TERM` of the `npm start`
 * process stops node on both ports; a second process on the same DATA_DIR stops at once naming the
 * holder's pid; a lock left by a dead process is taken over.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const gone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
};
const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(true));
  });
const until = async (what: string, ms: number, ok: () => boolean | Promise<boolean>) => {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
};
/** A pid that is surely not running: a process that has exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid!;

describe('one process per DATA_DIR, and a clean stop', () => {
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null && c.pid && !gone(c.pid)) c.kill('SIGKILL');
  });

  it('kill -TERM of `npm start` stops node on both ports; a second start on its DATA_DIR is refused', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gw-lock-'));
    // Embedded database and queue: what `npm start` runs on a fresh machine.
    const { DATABASE_URL: _db, REDIS_URL: _redis, ...rest } = process.env;
    const env = { ...rest, DATA_DIR: dataDir, HTTP_PORT: '0', MLLP_PORT: '0', LOG_LEVEL: 'info' };
    const npm = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(npm);
    let out = '';
    npm.stdout!.on('data', (d) => {
      out += d;
    });
    npm.stderr!.on('data', (d) => {
      out += d;
    });
    await until('gateway started', 60_000, () => /"msg":"gateway started"/.test(out));
    const started = JSON.parse(out.split('\n').find((l) => l.includes('"gateway started"'))!) as {
      mllp: string;
      http: string;
    };
    const httpPort = Number(new URL(started.http).port);
    const mllpPort = Number(started.mllp.split(':').pop());
    const node = (JSON.parse(readFileSync(join(dataDir, 'gateway.lock'), 'utf8')) as { pid: number }).pid;
    assert.notEqual(node, npm.pid, 'node runs under npm');

    const second = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { ...env, HTTP_PORT: '0', MLLP_PORT: '0' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(second.status, 1, second.stderr);
    assert.match(second.stderr, /GW_DATA_DIR_LOCKED/);
    assert.match(second.stderr, new RegExp(`in use by gateway process ${node}\\b`));

    npm.kill('SIGTERM');
    await until('node stopped', 15_000, () => gone(node));
    assert.ok(await refused(httpPort), 'HTTP port closed');
    assert.ok(await refused(mllpPort), 'MLLP port closed');
    assert.match(out, /"msg":"stopped"/, 'stopped through its shutdown path');
    assert.equal(existsSync(join(dataDir, 'gateway.lock')), false, 'lock released');
  });

  it('a lock left by a dead process is taken over, and released at close', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gw-lock-'));
    writeFileSync(join(dataDir, 'gateway.lock'), `${JSON.stringify({ pid: deadPid() })}\n`);
    const t = await startTestGateway({ database: 'pglite', dataDir });
    const held = JSON.parse(readFileSync(join(dataDir, 'gateway.lock'), 'utf8')) as { pid: number };
    assert.equal(held.pid, process.pid);
    await t.stop();
    assert.equal(existsSync(join(dataDir, 'gateway.lock')), false);
  });

  it('a live holder is named; a reused pid and an unreadable lock are taken over', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gw-lock-'));
    const first = lockDataDir(dataDir);
    assert.throws(
      () => lockDataDir(dataDir, process.pid + 1),
      (e: unknown) =>
        e instanceof DataDirLockedError && e.pid === process.pid && e.code === 'GW_DATA_DIR_LOCKED',
    );
    first.release();
    // Our own pid, written before this process started: a previous run that had the same pid.
    const before = new Date(Date.now() - process.uptime() * 1000 - 3_600_000).toISOString();
    writeFileSync(join(dataDir, 'gateway.lock'), JSON.stringify({ pid: process.pid, startedAt: before }));
    lockDataDir(dataDir).release();
    writeFileSync(join(dataDir, 'gateway.lock'), '{"pid":');
    const again = lockDataDir(dataDir);
    again.release();
    assert.equal(existsSync(join(dataDir, 'gateway.lock')), false);
  });
});
