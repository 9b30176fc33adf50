import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Gateway, startGateway } from '../../src/app.js';
import { configSchema } from '../../src/config/schema.js';
import { openPostgres } from '../../src/db/postgres.js';
import { MllpClient } from '../../src/mllp/client.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';

export interface TestGatewayOptions {
  database: 'pglite' | 'postgres';
  queue?: 'in-process' | 'bullmq';
  dataDir?: string;
  schema?: string;
  config?: Record<string, unknown>;
  /** A logger of the test's own (e.g. to read what was logged). */
  logger?: Logger;
}

export interface TestGateway {
  gw: Gateway;
  dataDir: string;
  schema?: string;
  /** Closes the gateway (keeps its data). */
  stop(): Promise<void>;
  /** Closes and drops the PostgreSQL schema. */
  dispose(): Promise<void>;
}

/** Starts a real gateway on free ports, PGlite in a temp dir or PostgreSQL on a schema of its own. */
export async function startTestGateway(o: TestGatewayOptions): Promise<TestGateway> {
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'gw-'));
  const schema = o.database === 'postgres' ? (o.schema ?? `t_${randomBytes(6).toString('hex')}`) : undefined;
  const databaseUrl = o.database === 'postgres' ? process.env.DATABASE_URL : undefined;
  if (o.database === 'postgres' && !databaseUrl) throw new Error('DATABASE_URL is not set');
  const redisUrl = o.queue === 'bullmq' ? process.env.REDIS_URL : undefined;
  const config = configSchema.parse({
    dataDir,
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(redisUrl ? { redisUrl } : {}),
    mllp: { port: 0 },
    http: { port: 0 },
    log: { level: process.env.TEST_LOG_LEVEL ?? 'silent' },
    ...o.config,
  });
  const gw = await startGateway(config, {
    logger: o.logger ?? createLogger(config.log.level),
    ...(schema ? { schema } : {}),
    ...(redisUrl ? { queuePrefix: `test-${randomBytes(4).toString('hex')}` } : {}),
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await gw.close();
  };
  return {
    gw,
    dataDir,
    ...(schema ? { schema } : {}),
    stop,
    async dispose() {
      await stop();
      if (schema && databaseUrl) {
        const admin = await openPostgres({ url: databaseUrl });
        await admin.query(`drop schema if exists ${schema} cascade`);
        await admin.close();
      }
    },
  };
}

export function dbKinds(): Array<'pglite' | 'postgres'> {
  return process.env.DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
}

/** Sends one message on a connection of its own and returns its ACK. */
export async function sendMllp(port: number, message: string): Promise<string> {
  const c = await MllpClient.connect({ host: '127.0.0.1', port });
  try {
    return await c.send(message);
  } finally {
    await c.close();
  }
}

/** The prediction Observations of one model in a gateway's FHIR store, optionally of one MRN. */
export async function predictions(
  httpUrl: string,
  token: string,
  model = 'vitals-deterioration',
  mrn?: string,
): Promise<Array<Record<string, unknown>>> {
  const q = mrn ? `&subject:identifier=${encodeURIComponent(`urn:ml-gateway:patient-id:HOSP|${mrn}`)}` : '';
  const res = await fetch(`${httpUrl}/fhir/Observation?code=${model}-probability${q}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const b = (await res.json()) as { entry?: Array<{ resource: Record<string, unknown> }> };
  return (b.entry ?? []).map((e) => e.resource);
}
