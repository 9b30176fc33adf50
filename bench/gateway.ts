import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Gateway, startGateway } from '../src/app.js';
import { configSchema } from '../src/config/schema.js';
import { openPostgres } from '../src/db/postgres.js';
import { createLogger } from '../src/observability/logger.js';

/**
 * Runs `fn` against a silent gateway on free ports, without its background workers: PGlite in a
 * temporary DATA_DIR, or PostgreSQL (DATABASE_URL) on a schema of its own. Removes both after.
 * `config` is merged over the bench defaults (e.g. `{ inbox }`, `{ monitoring }`).
 */
export async function withBenchGateway<T>(
  database: 'pglite' | 'postgres',
  config: Record<string, unknown>,
  fn: (gw: Gateway) => Promise<T>,
): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gw-bench-'));
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const url = process.env.DATABASE_URL;
  const parsed = configSchema.parse({
    dataDir,
    ...(database === 'postgres' ? { databaseUrl: url } : {}),
    mllp: { port: 0 },
    http: { port: 0 },
    log: { level: 'silent' },
    ...config,
  });
  const gw = await startGateway(parsed, {
    logger: createLogger('silent'),
    startWorkers: false,
    ...(database === 'postgres' ? { schema } : {}),
  });
  try {
    return await fn(gw);
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
