import { join } from 'node:path';
import type { Database } from './database.js';
import { migrate } from './migrate.js';
import { openPglite } from './pglite.js';
import { openPostgres } from './postgres.js';

export interface OpenDatabaseOptions {
  /** PostgreSQL URL; unset means embedded PGlite under dataDir. */
  databaseUrl?: string;
  dataDir: string;
  /** PostgreSQL schema (tests); ignored for PGlite. */
  schema?: string;
  /** PGlite location override, e.g. `memory://` in tests. */
  pgliteDir?: string;
}

/** Opens the configured database and brings its schema up to date. */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  const db = opts.databaseUrl
    ? await openPostgres({ url: opts.databaseUrl, ...(opts.schema ? { schema: opts.schema } : {}) })
    : await openPglite(opts.pgliteDir ?? join(opts.dataDir, 'pglite'));
  await migrate(db);
  return db;
}
