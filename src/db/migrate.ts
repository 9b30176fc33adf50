import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database, Queryable } from './database.js';

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

/**
 * The advisory lock class of this gateway's schema changes ('mlgw'); the second key is the hash of
 * the schema name, so processes on one schema wait for each other and other schemas do not.
 */
export const SCHEMA_LOCK_CLASS = 0x6d6c6777;

const BOOTSTRAP =
  'create table if not exists schema_migrations (name text primary key, applied_at timestamptz not null default now())';

function files(): string[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((f) => f.endsWith('.sql'))
    .sort();
}

/**
 * Applies every `migrations/NNN_name.sql` not yet applied, in name order, each in one transaction.
 * On PostgreSQL several processes may start at once on one database: each migration's transaction
 * first takes a transaction-scoped advisory lock on the schema and then looks again whether the
 * migration is still missing, so each is applied exactly once and the others wait for it (as
 * node-pg-migrate and Flyway do). PGlite has one connection and one process (DATA_DIR).
 */
export async function migrate(db: Database & { exec(sql: string): Promise<void> }): Promise<string[]> {
  return db.kind === 'postgres' ? migrateLocked(db) : migrateSingle(db);
}

async function migrateSingle(db: Database & { exec(sql: string): Promise<void> }): Promise<string[]> {
  await db.exec(BOOTSTRAP);
  const done = new Set(
    (await db.query<{ name: string }>('select name from schema_migrations')).rows.map((r) => r.name),
  );
  const applied: string[] = [];
  for (const file of files()) {
    if (done.has(file)) continue;
    const sql = readFileSync(join(MIGRATIONS_DIR, file), 'utf8');
    await db.exec(`begin;\n${sql}\n;insert into schema_migrations (name) values ('${file}');\ncommit;`);
    applied.push(file);
  }
  return applied;
}

const lock = (tx: Queryable) =>
  tx.query('select pg_advisory_xact_lock($1, hashtext(current_schema()))', [SCHEMA_LOCK_CLASS]);

async function migrateLocked(db: Database): Promise<string[]> {
  const done = await db.transaction(async (tx) => {
    await lock(tx);
    await tx.query(BOOTSTRAP);
    return new Set(
      (await tx.query<{ name: string }>('select name from schema_migrations')).rows.map((r) => r.name),
    );
  });
  const applied: string[] = [];
  for (const file of files()) {
    if (done.has(file)) continue;
    const sql = readFileSync(join(MIGRATIONS_DIR, file), 'utf8');
    const ran = await db.transaction(async (tx) => {
      await lock(tx);
      // Another process may have applied it while this one waited for the lock.
      const r = await tx.query('select 1 from schema_migrations where name = $1', [file]);
      if (r.rowCount > 0) return false;
      // No parameters: `pg` sends the file as one simple query, several statements allowed.
      await tx.query(sql);
      await tx.query('insert into schema_migrations (name) values ($1)', [file]);
      return true;
    });
    if (ran) applied.push(file);
  }
  return applied;
}
