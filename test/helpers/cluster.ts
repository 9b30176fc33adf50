import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { openPostgres } from '../../src/db/postgres.js';

const ROOT = join(import.meta.dirname, '..', '..');

export interface GatewayProcess {
  name: string;
  child: ChildProcess;
  mllp: number;
  http: string;
  /** Everything it printed so far (JSON log lines). */
  output(): string;
  /** SIGTERM, then waits for the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts `npm start`'s entry point (src/main.ts) as a child process with the given environment
 * (free ports unless given); resolves once it logs "gateway started" with its addresses.
 */
export function startGatewayProcess(
  name: string,
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<GatewayProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'main.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATA_DIR: mkdtempSync(join(tmpdir(), `gw-${name}-`)),
        MLLP_PORT: '0',
        HTTP_PORT: '0',
        LOG_LEVEL: 'info',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let started = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${timeoutMs} ms: ${out.slice(-800)}`));
    }, timeoutMs);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = started ? null : /"mllp":"[^"]*:(\d+)","http":"([^"]+)"/.exec(out);
      if (m) {
        started = true;
        clearTimeout(timer);
        resolve({
          name,
          child,
          mllp: Number(m[1]),
          http: m[2]!,
          output: () => out,
          async stop() {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      out += d;
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!started) reject(new Error(`${name} exited ${code} before it started: ${out.slice(-1500)}`));
    });
  });
}

/**
 * What a several-process test leaves behind, removed: its Redis database emptied (each such test
 * has one of its own) and its PostgreSQL schema dropped.
 */
export async function removeSharedState(
  databaseUrl: string,
  redisUrl: string,
  schema: string,
): Promise<void> {
  const redis = new Redis(redisUrl);
  await redis.flushdb();
  redis.disconnect();
  const admin = await openPostgres({ url: databaseUrl });
  await admin.query(`drop schema if exists ${schema} cascade`);
  await admin.close();
}
