import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Queryable } from './database.js';

/** This process in `cluster_runs.holder`: host, pid and a random part (pids repeat in containers). */
export const processHolder = (): string => `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;

/**
 * Claims the run of a periodic job `name` that every process schedules every `periodMs`: true for
 * exactly one caller per period across every process on the database. A claim wins when the
 * previous one is older than 0.8 periods (timers drift; a process must not miss its own next
 * run by a millisecond), measured on the database clock.
 */
export async function claimRun(
  db: Queryable,
  name: string,
  holder: string,
  periodMs: number,
): Promise<boolean> {
  const r = await db.query<{ holder: string }>(
    `insert into cluster_runs (name, holder, claimed_at) values ($1, $2, now())
     on conflict (name) do update set holder = excluded.holder, claimed_at = excluded.claimed_at
      where cluster_runs.claimed_at <= now() - ($3::double precision * interval '1 millisecond')
     returning holder`,
    [name, holder, periodMs * 0.8],
  );
  return r.rows.length > 0;
}
