import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server, Socket } from 'node:net';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Database } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open.js';
import { openPostgres } from '../../src/db/postgres.js';
import { registerFhirRoutes } from '../../src/fhir-server/routes.js';
import { createFhirStore, type FhirStore } from '../../src/fhir-server/store.js';

const ROOT = join(import.meta.dirname, '..', '..');
export const PG_URL = process.env.DATABASE_URL;

/** A PostgreSQL schema of its own, dropped by dispose(). */
export async function pgSchema(prefix: string) {
  const schema = `${prefix}_${randomBytes(5).toString('hex')}`;
  return {
    schema,
    async dispose() {
      const admin = await openPostgres({ url: PG_URL! });
      await admin.query(`drop schema if exists ${schema} cascade`);
      await admin.close();
    },
  };
}

/**
 * A FHIR R4 server apart from the gateway: the project's FHIR store on PostgreSQL behind a bare
 * fastify, which can be stopped and started again on the same port (an outage).
 */
export async function startFhirServer(schema: string) {
  const db: Database = await openDatabase({ databaseUrl: PG_URL!, dataDir: '', schema });
  const store: FhirStore = createFhirStore(db);
  let app: FastifyInstance | undefined;
  let port = 0;
  const up = async () => {
    const a = Fastify({ bodyLimit: 10 * 1024 * 1024, forceCloseConnections: true });
    registerFhirRoutes(a, store, { prefix: '/fhir', baseUrl: () => `http://127.0.0.1:${port}/fhir` });
    await a.listen({ host: '127.0.0.1', port });
    const addr = a.server.address();
    port = typeof addr === 'object' && addr ? addr.port : port;
    app = a;
  };
  await up();
  return {
    store,
    db,
    get baseUrl() {
      return `http://127.0.0.1:${port}/fhir`;
    },
    /** The server goes away: connections refused until start(). */
    async stop() {
      await app?.close();
      app = undefined;
    },
    start: up,
    async close() {
      await app?.close();
      await db.close();
    },
  };
}

/**
 * A TCP proxy between the gateway and PostgreSQL: cut() refuses new connections and breaks the
 * open ones, as a database restart or a network partition would; restore() serves again on the
 * same port. The real PostgreSQL server is never touched.
 */
export async function startTcpProxy(targetHost: string, targetPort: number) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = new Socket();
        upstream.connect(targetPort, targetHost);
        sockets.add(client);
        sockets.add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream).pipe(client);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        const addr = s.address();
        port = typeof addr === 'object' && addr ? addr.port : port;
        server = s;
        resolve();
      });
    });
  await listen();
  return {
    get port() {
      return port;
    },
    async cut() {
      const s = server;
      server = undefined;
      for (const sock of sockets) sock.destroy();
      sockets.clear();
      if (s) await new Promise<void>((r) => s.close(() => r()));
    },
    restore: listen,
    async close() {
      const s = server;
      server = undefined;
      for (const sock of sockets) sock.destroy();
      if (s) await new Promise<void>((r) => s.close(() => r()));
    },
  };
}

export interface ChildGateway {
  child: ChildProcess;
  mllpPort: number;
  httpUrl: string;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
}

/** Starts `node --import tsx src/main.ts` with the environment given; resolves once it listens. */
export function spawnGateway(env: Record<string, string>): Promise<ChildGateway> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'main.ts')], {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: '', GATEWAY_CONFIG: '', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /"mllp":"[^"]*:(\d+)","http":"([^"]+)"/.exec(out);
      if (m) resolve({ child, mllpPort: Number(m[1]), httpUrl: m[2]!, exited });
      if (out.length > 100_000) out = out.slice(-10_000);
    });
    child.stderr!.on('data', () => {});
    child.once('exit', (code) =>
      reject(new Error(`gateway exited ${code} before listening: ${out.slice(-800)}`)),
    );
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until fn answers true, or throws after timeoutMs with what it last saw. */
export async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 30_000, everyMs = 100) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
