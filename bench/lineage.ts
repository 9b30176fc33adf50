/**
 * Lineage appends per second on PostgreSQL, 1 and 8 concurrent writers, the single chain of old
 * (one advisory lock for every append in the cluster, tail read, insert) against the sharded chain
 * (each transaction takes the lowest shard nobody holds). Each transaction appends one message's
 * six stages in one call and then runs one more statement before it commits, as the finishing
 * transaction does (the old lock was held over it). Fresh schema per run; verify must pass after.
 */
import { randomBytes } from 'node:crypto';
import type { Queryable } from '../src/db/database.js';
import { openDatabase } from '../src/db/open.js';
import { openPostgres } from '../src/db/postgres.js';
import { chain, type LineageEntryInput } from '../src/lineage/chain.js';
import { createLineageStore } from '../src/lineage/store.js';

export interface LineageBenchRow {
  layout: 'single chain' | 'sharded';
  writers: number;
  entriesPerSecond: number;
  transactionsPerSecond: number;
}

const STAGES = ['received', 'parsed', 'mapped', 'inferred', 'written', 'delivered'];

/**
 * The append of the single chain, as src/lineage/store.ts did it before the shards, except that the
 * lock is this schema's: the old key (727001) is one per database, so every other gateway or test on
 * the same PostgreSQL would contend for it and the baseline would measure them, not the chain.
 */
async function singleChainAppend(tx: Queryable, inputs: LineageEntryInput[]) {
  await tx.query('select pg_advisory_xact_lock(727001, hashtext(current_schema()))');
  const tail = (
    await tx.query<{ seq: string; hash: string }>(
      'select seq, hash from lineage where shard = 0 order by seq desc limit 1',
    )
  ).rows[0];
  const entries = chain(
    tail ? { seq: Number(tail.seq), hash: tail.hash } : { seq: 0, hash: '0'.repeat(64) },
    inputs,
  );
  const params: unknown[] = [];
  const values = entries.map((e, i) => {
    params.push(e.seq, e.messageId, e.stage, e.at, JSON.stringify(e.detail), e.prevHash, e.hash);
    const b = i * 7;
    return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}::jsonb, $${b + 6}, $${b + 7})`;
  });
  await tx.query(
    `insert into lineage (seq, message_id, stage, at, detail, prev_hash, hash) values ${values.join(', ')}`,
    params,
  );
}

async function run(url: string, layout: LineageBenchRow['layout'], writers: number, txPerWriter: number) {
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  const db = await openDatabase({ databaseUrl: url, dataDir: '', schema });
  try {
    const store = createLineageStore(db, { shards: 16 });
    const append = layout === 'sharded' ? store.append : singleChainAppend;
    const one = async (w: number, i: number) =>
      db.transaction(async (tx) => {
        const m = `w${w}-${i}`;
        await append(
          tx,
          STAGES.map((stage) => ({
            messageId: m,
            stage,
            at: new Date().toISOString(),
            detail: { model: 'x', i },
          })),
        );
        await tx.query('select 1');
      });
    await one(-1, 0); // warm: shard rows, prepared plans
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < txPerWriter; i++) await one(w, i);
      }),
    );
    const s = (performance.now() - t0) / 1000;
    const v = await store.verify();
    // Messages are not in the inbox here: only the chain itself must hold.
    const chainProblems = v.ok
      ? []
      : v.problems.filter((p) => !/is stored but has no lineage entry/.test(p.reason));
    if (chainProblems.length > 0)
      throw new Error(`lineage verify failed after the bench: ${chainProblems[0]!.reason}`);
    const txs = writers * txPerWriter;
    return { layout, writers, entriesPerSecond: (txs * STAGES.length) / s, transactionsPerSecond: txs / s };
  } finally {
    await db.close();
    const admin = await openPostgres({ url });
    await admin.query(`drop schema if exists ${schema} cascade`);
    await admin.close();
  }
}

/**
 * Best of `rounds` per layout and writer count, the four runs of a round back to back so that load
 * from elsewhere falls on all of them alike (undefined without DATABASE_URL).
 */
export async function benchLineage(rounds = 3, txPerRun = 1600): Promise<LineageBenchRow[] | undefined> {
  const url = process.env.DATABASE_URL;
  if (!url) return undefined;
  const cases = (['single chain', 'sharded'] as const).flatMap((layout) =>
    [1, 8].map((writers) => ({ layout, writers })),
  );
  const best = new Map<string, LineageBenchRow>();
  for (let r = 0; r < rounds; r++)
    for (const c of cases) {
      const row = await run(url, c.layout, c.writers, Math.ceil(txPerRun / c.writers));
      const key = `${c.layout}/${c.writers}`;
      const had = best.get(key);
      if (!had || row.entriesPerSecond > had.entriesPerSecond) best.set(key, row);
    }
  return cases.map((c) => best.get(`${c.layout}/${c.writers}`)!);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await benchLineage(Number(process.env.ROUNDS ?? 3));
  console.log(JSON.stringify(rows, null, 2));
}
