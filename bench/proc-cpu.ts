import { readFileSync } from 'node:fs';
import type pg from 'pg';

/** /proc/<pid>/stat counts CPU in 1/100 s (CLK_TCK 100 on Linux). */
export const TICK_MS = 10;

/** utime + stime (ms) of the PostgreSQL backends serving `app` (application_name), by pid. */
export async function backendCpuMs(db: pg.Client, app: string): Promise<Map<number, number>> {
  const r = await db.query('select pid from pg_stat_activity where application_name = $1', [app]);
  const m = new Map<number, number>();
  for (const { pid } of r.rows as Array<{ pid: number }>) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      m.set(pid, (Number(f[11]) + Number(f[12])) * TICK_MS);
    } catch {
      // not on this machine, or gone
    }
  }
  return m;
}
