import pg from 'pg';
import type { Database, Queryable, QueryResult } from './database.js';
import { SCHEMA_LOCK_CLASS } from './migrate.js';

export interface PostgresOptions {
  url: string;
  /** Schema to use (created if missing); tests give each suite its own. */
  schema?: string;
  maxConnections?: number;
  connectTimeoutMs?: number;
}

function wrap(q: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
      const res = await q.query(sql, params as unknown[] | undefined);
      // Several statements without parameters (a migration file) answer one result each: the last counts.
      const r: pg.QueryResult = Array.isArray(res) ? res[res.length - 1] : res;
      return { rows: r.rows as T[], rowCount: r.rowCount ?? r.rows.length };
    },
  };
}

/** Real PostgreSQL through a `pg` pool. */
export async function openPostgres(
  opts: PostgresOptions,
): Promise<Database & { exec(sql: string): Promise<void> }> {
  const schema = opts.schema;
  if (schema && !/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name: ${schema}`);
  if (schema) {
    const boot = new pg.Client({ connectionString: opts.url });
    await boot.connect();
    try {
      // Two processes creating the same schema at once: without the lock one of them fails on
      // pg_namespace's unique index ("if not exists" does not cover the race).
      await boot.query('begin');
      await boot.query('select pg_advisory_xact_lock($1, hashtext($2))', [SCHEMA_LOCK_CLASS, schema]);
      await boot.query(`create schema if not exists ${schema}`);
      await boot.query('commit');
    } finally {
      await boot.end();
    }
  }
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.maxConnections ?? 10,
    // A server that accepts the TCP connection but never answers must not hang intake forever.
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
    keepAlive: true,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle client losing its server (PostgreSQL restarted) must not crash the process.
  pool.on('error', () => {});
  const base = wrap(pool);
  return {
    kind: 'postgres',
    query: base.query,
    async exec(sql: string) {
      await pool.query(sql);
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      // The connection may die while checked out (between two statements): that error belongs to
      // this transaction, which then fails; it must not reach the process as an uncaught one.
      let broken: Error | undefined;
      const onError = (err: Error) => {
        broken = err;
      };
      client.on('error', onError);
      try {
        await client.query('begin');
        const out = await fn(wrap(client));
        await client.query('commit');
        return out;
      } catch (err) {
        if (!broken) await client.query('rollback').catch(() => {});
        throw err;
      } finally {
        client.off('error', onError);
        // A broken connection is destroyed rather than returned to the pool.
        client.release(broken ?? false);
      }
    },
    async ping() {
      await pool.query('select 1');
    },
    async close() {
      await pool.end();
    },
  };
}
