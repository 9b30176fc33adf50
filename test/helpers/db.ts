import { randomBytes } from 'node:crypto';
import type { Database } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open.js';
import { openPostgres } from '../../src/db/postgres.js';

export interface TestDatabase {
  db: Database;
  /** Drops the schema (PostgreSQL) and closes. */
  dispose(): Promise<void>;
}

export interface TestDatabaseKind {
  name: 'pglite' | 'postgres';
  open(): Promise<TestDatabase>;
}

/**
 * The databases every storage test runs on: embedded PGlite (in memory) always, and the real
 * PostgreSQL named by DATABASE_URL when it is set (each test on its own schema, dropped after).
 */
export function testDatabases(): TestDatabaseKind[] {
  const kinds: TestDatabaseKind[] = [
    {
      name: 'pglite',
      async open() {
        const db = await openDatabase({ dataDir: '', pgliteDir: 'memory://' });
        return { db, dispose: () => db.close() };
      },
    },
  ];
  const url = process.env.DATABASE_URL;
  if (url) {
    kinds.push({
      name: 'postgres',
      async open() {
        const schema = `t_${randomBytes(6).toString('hex')}`;
        const db = await openDatabase({ databaseUrl: url, dataDir: '', schema });
        return {
          db,
          async dispose() {
            await db.close();
            const admin = await openPostgres({ url });
            await admin.query(`drop schema if exists ${schema} cascade`);
            await admin.close();
          },
        };
      },
    });
  }
  return kinds;
}
