import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway } from '../src/app.js';
import { configSchema } from '../src/config/schema.js';
import { openPostgres } from '../src/db/postgres.js';
import { MllpClient } from '../src/ingest/mllp/client.js';
import { createLogger } from '../src/observability/logger.js';
import { vitalsOru } from '../test/helpers/messages.js';

export interface IntakeResult {
  label: string;
  messages: number;
  seconds: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
  /** End-to-end processing (parse, map, infer, write FHIR) of the stored messages, msg/s. */
  processedPerSecond?: number;
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

async function withGateway<T>(
  database: 'pglite' | 'postgres',
  inbox: Record<string, unknown>,
  fn: (port: number, gw: Awaited<ReturnType<typeof startGateway>>) => Promise<T>,
): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gw-bench-'));
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const url = process.env.DATABASE_URL;
  const config = configSchema.parse({
    dataDir,
    ...(database === 'postgres' ? { databaseUrl: url } : {}),
    mllp: { port: 0 },
    http: { port: 0 },
    inbox,
    log: { level: 'silent' },
  });
  const gw = await startGateway(config, {
    logger: createLogger('silent'),
    startWorkers: false,
    ...(database === 'postgres' ? { schema } : {}),
  });
  try {
    return await fn(gw.mllpPort, gw);
  } finally {
    await gw.close();
    rmSync(dataDir, { recursive: true, force: true });
    if (database === 'postgres' && url) {
      const admin = await openPostgres({ url });
      await admin.query(`drop schema if exists ${schema} cascade`);
      await admin.close();
    }
  }
}

/**
 * Sends `total` distinct vitals ORUs over `connections` MLLP connections, each connection waiting
 * for its ACK before the next message (as Mirth's TCP sender does), and times every ACK.
 */
export async function benchIntake(o: {
  label: string;
  database: 'pglite' | 'postgres';
  total: number;
  connections: number;
  inbox?: Record<string, unknown>;
  /** Messages per second across all connections; unset = as fast as ACKs come back. */
  rate?: number;
  process?: boolean;
}): Promise<IntakeResult> {
  return withGateway(o.database, o.inbox ?? {}, async (port, gw) => {
    const clients = await Promise.all(
      Array.from({ length: o.connections }, () => MllpClient.connect({ host: '127.0.0.1', port })),
    );
    const run = randomBytes(3).toString('hex');
    const perConn = Math.ceil(o.total / o.connections);
    const latencies: number[] = [];
    const interval = o.rate ? (1000 * o.connections) / o.rate : 0;
    const t0 = performance.now();
    await Promise.all(
      clients.map(async (c, ci) => {
        for (let i = 0; i < perConn; i++) {
          if (interval > 0) {
            const due = t0 + i * interval + (ci * interval) / o.connections;
            const wait = due - performance.now();
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          }
          const msg = vitalsOru({
            controlId: `B${run}-${ci}-${i}`,
            mrn: `P${ci}-${i % 50}`,
            hr: 60 + (i % 60),
          });
          const s = performance.now();
          const ack = await c.send(msg);
          latencies.push(performance.now() - s);
          if (!ack.includes('MSA|AA|')) throw new Error(`not AA: ${ack.split('\r')[1]}`);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    await Promise.all(clients.map((c) => c.close()));
    latencies.sort((a, b) => a - b);
    const n = perConn * o.connections;
    const result: IntakeResult = {
      label: o.label,
      messages: n,
      seconds,
      perSecond: n / seconds,
      p50ms: pct(latencies, 50),
      p99ms: pct(latencies, 99),
    };
    if (o.process) {
      const p0 = performance.now();
      gw.startWorkers();
      await gw.idle(600_000);
      result.processedPerSecond = n / ((performance.now() - p0) / 1000);
    }
    return result;
  });
}
