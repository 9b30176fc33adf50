import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Database } from '../../src/db/database.js';
import { checkpointHash, entryHash, GENESIS_HASH, type LineageEntryInput } from '../../src/lineage/chain.js';
import { createLineageStore, type LineageStore } from '../../src/lineage/store.js';
import { testDatabases } from '../helpers/db.js';

const pg = testDatabases().find((k) => k.name === 'postgres');

type Verify = Awaited<ReturnType<LineageStore['verify']>>;
/** Problems as `kind@shard:seq` (checkpoint problems as `kind@cN`). */
const problems = (r: Verify) =>
  r.ok
    ? []
    : r.problems.map((p) =>
        p.checkpoint !== undefined && p.seq === 0
          ? `${p.kind}@c${p.checkpoint}`
          : `${p.kind}@${p.shard ?? 0}:${p.seq}`,
      );

async function inbox(db: Database, ids: string[]) {
  for (const m of ids)
    await db.query(
      `insert into inbox (message_id, channel, sender, control_id, sha256, raw, received_at)
       values ($1, 'mllp', 'LAB|HOSP', $1, repeat('0', 64), $2, now())`,
      [m, Buffer.from('MSH|^~\\&|')],
    );
}

const entry = (messageId: string, stage: string, n = 1): LineageEntryInput => ({
  messageId,
  stage,
  at: new Date().toISOString(),
  detail: { n },
});

/**
 * Appends into shard `k` for certain: transactions of their own hold shards 0..k-1 meanwhile (the
 * store takes the lowest shard nobody holds).
 */
async function appendTo(db: Database, store: LineageStore, k: number, inputs: LineageEntryInput[]) {
  const holders: Promise<void>[] = [];
  const releases: Array<() => void> = [];
  for (let i = 0; i < k; i++) {
    const held = new Promise<void>((r) => releases.push(r));
    await new Promise<void>((locked) => {
      holders.push(
        db.transaction(async (tx) => {
          await tx.query('select 1 from lineage_shard where shard = $1 for update', [i]);
          locked();
          await held;
        }),
      );
    });
  }
  try {
    const out = await store.appendNow(inputs);
    assert.equal(out[0]!.shard, k);
    return out;
  } finally {
    for (const r of releases) r();
    await Promise.all(holders);
  }
}

/** What a superuser can do: drop the triggers that refuse changes. */
async function dropGuards(db: Database) {
  await db.query('drop trigger lineage_append_only on lineage');
  await db.query('drop trigger lineage_no_truncate on lineage');
  await db.query('drop trigger lineage_checkpoint_append_only on lineage_checkpoint');
  await db.query('drop trigger lineage_shard_keep on lineage_shard');
}

if (pg) {
  describe('lineage shards (postgres)', () => {
    let t: Awaited<ReturnType<typeof pg.open>>;
    let store: LineageStore;
    const withDb = async (fn: (db: Database, store: LineageStore) => Promise<void>) => {
      const t = await pg.open();
      try {
        await fn(t.db, createLineageStore(t.db, { shards: 4, checkpointEvery: 1_000_000 }));
      } finally {
        await t.dispose();
      }
    };
    /** Three entries in each of shards 0, 1 and 2 (messages a, b, c), then a checkpoint over them. */
    async function seed(db: Database, store: LineageStore, checkpoint = true) {
      await inbox(db, ['a', 'b', 'c']);
      for (const [k, m] of [
        [0, 'a'],
        [1, 'b'],
        [2, 'c'],
      ] as const)
        await appendTo(db, store, k, [entry(m, 'received'), entry(m, 'parsed'), entry(m, 'mapped')]);
      if (checkpoint) assert.equal((await store.checkpoint())?.n, 1);
    }

    before(async () => {
      t = await pg.open();
      store = createLineageStore(t.db, { shards: 8, checkpointEvery: 50 });
    });
    after(() => t.dispose());

    it('many connections append at once, into several shards; verify passes with checkpoints', async () => {
      const writers = 8;
      const ids = Array.from({ length: writers * 10 }, (_, i) => `m${i}`);
      await inbox(t.db, ids);
      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          for (let i = 0; i < 10; i++) {
            const m = `m${w * 10 + i}`;
            await t.db.transaction(async (tx) => {
              await store.append(tx, [entry(m, 'received'), entry(m, 'parsed')]);
              // A second batch in the same transaction stays in its shard.
              await store.append(tx, [entry(m, 'written')]);
            });
          }
        }),
      );
      const r = await store.verify();
      assert.equal(r.ok, true, JSON.stringify(!r.ok && r.problems));
      assert.equal(r.entries, writers * 10 * 3);
      assert.ok(r.shards.length > 1, `expected several shards, got ${r.shards.length}`);
      assert.ok(r.checkpoints >= 1);
      // Each message's entries are in one shard (one transaction) and in the order appended.
      const e = await store.entriesFor('m17');
      assert.deepEqual(
        e.map((x) => x.stage),
        ['received', 'parsed', 'written'],
      );
      assert.equal(new Set(e.map((x) => x.shard)).size, 1);
    });

    it('an intact sharded lineage verifies; each shard has a genesis of its own', () =>
      withDb(async (db, store) => {
        await seed(db, store);
        const r = await store.verify();
        assert.equal(r.ok, true);
        assert.deepEqual(
          r.shards.map((s) => [s.shard, s.seq]),
          [
            [0, 3],
            [1, 3],
            [2, 3],
          ],
        );
        assert.equal(r.checkpoints, 1);
        const [first] = await store.entriesFor('b');
        assert.notEqual(first!.prevHash, GENESIS_HASH);
        assert.equal(entryHash(first!.prevHash, first!), first!.hash);
      }));

    it('names an entry altered in a shard', () =>
      withDb(async (db, store) => {
        await seed(db, store);
        await dropGuards(db);
        await db.query(`update lineage set detail = '{"n": 2}'::jsonb where shard = 1 and seq = 2`);
        const r = await store.verify();
        assert.deepEqual(problems(r), ['altered@1:2']);
        assert.match(r.ok ? '' : r.reason, /^shard 1: entry 2 was altered/);
      }));

    it('names an entry removed from the middle of a shard, and entries reordered in one', () =>
      withDb(async (db, store) => {
        await seed(db, store);
        await dropGuards(db);
        await db.query('delete from lineage where shard = 2 and seq = 2');
        assert.deepEqual(problems(await store.verify()), ['removed@2:2']);
        await db.query('update lineage set seq = -1 where shard = 1 and seq = 1');
        await db.query('update lineage set seq = 1 where shard = 1 and seq = 2');
        await db.query('update lineage set seq = 2 where shard = 1 and seq = -1');
        assert.deepEqual(problems(await store.verify()), ['reordered@1:1', 'reordered@1:2', 'removed@2:2']);
      }));

    it('names entries moved from one shard into another', () =>
      withDb(async (db, store) => {
        await seed(db, store, false);
        await dropGuards(db);
        await db.query('update lineage set shard = 3 where shard = 2');
        const r = await store.verify();
        assert.equal(r.ok, false);
        assert.ok(problems(r).includes('altered@3:1'), problems(r).join());
        assert.ok(problems(r).includes('removed@2:1'), problems(r).join());
      }));

    it('names a truncated tail after the newest checkpoint, by the shard head the database keeps', () =>
      withDb(async (db, store) => {
        await seed(db, store);
        await appendTo(db, store, 1, [entry('b', 'written')]);
        await dropGuards(db);
        await db.query('delete from lineage where shard = 1 and seq = 4');
        const r = await store.verify();
        assert.deepEqual(problems(r), ['removed@1:4']);
        assert.match(
          r.ok ? '' : r.reason,
          /shard 1: the chain ends at entry 3 but the head anchor records entry 4/,
        );
      }));

    it('names a truncated tail below a checkpoint even when the shard head was rewritten to match', () =>
      withDb(async (db, store) => {
        await seed(db, store);
        await dropGuards(db);
        await db.query('delete from lineage where shard = 2 and seq = 3');
        const h = (await db.query<{ hash: string }>('select hash from lineage where shard = 2 and seq = 2'))
          .rows[0]!;
        await db.query('update lineage_shard set seq = 2, hash = $1, entries = 2 where shard = 2', [h.hash]);
        const r = await store.verify();
        assert.deepEqual(problems(r), ['removed@2:3']);
        assert.match(
          r.ok ? '' : r.reason,
          /shard 2: the chain ends at entry 2 but checkpoint 1 records entry 3/,
        );
      }));

    it('names a forged checkpoint: altered, claiming an entry with another hash, or removed from the end', () =>
      withDb(async (db, store) => {
        await seed(db, store);
        await dropGuards(db);
        // Altered: its content no longer matches its hash.
        await db.query(`update lineage_checkpoint set entries = 8 where n = 1`);
        assert.deepEqual(problems(await store.verify()), ['altered@c1']);
        await db.query(`update lineage_checkpoint set entries = 9 where n = 1`);
        assert.equal((await store.verify()).ok, true);
        // Forged with a correct hash and linked, but naming a head the shard never had.
        const last = (await db.query<{ hash: string }>('select hash from lineage_checkpoint where n = 1'))
          .rows[0]!;
        const body = {
          n: 2,
          at: new Date().toISOString(),
          entries: 9,
          heads: [
            { shard: 0, seq: 3, hash: 'f'.repeat(64) },
            { shard: 1, seq: 3, hash: (await store.entriesFor('b'))[2]!.hash },
            { shard: 2, seq: 3, hash: (await store.entriesFor('c'))[2]!.hash },
          ],
        };
        await db.query(
          'insert into lineage_checkpoint (n, at, entries, heads, prev_hash, hash) values ($1, $2, $3, $4, $5, $6)',
          [2, body.at, 9, JSON.stringify(body.heads), last.hash, checkpointHash(last.hash, body)],
        );
        const r = await store.verify();
        assert.deepEqual(problems(r), ['altered@0:3']);
        assert.match(r.ok ? '' : r.reason, /entry 3 does not match the hash checkpoint 2 recorded for it/);
        // Removed from the end: the head anchor names a newer checkpoint than there is.
        await db.query('delete from lineage_checkpoint where n = 2');
        assert.deepEqual(problems(await store.verify()), ['removed@c2']);
      }));

    it('exports a message whose entries are in two shards as AuditEvents in time order', () =>
      withDb(async (db, store) => {
        await seed(db, store, false);
        await appendTo(db, store, 2, [entry('a', 'written', 7)]);
        const entries = await store.entriesFor('a');
        assert.deepEqual(
          entries.map((e) => [e.shard, e.seq, e.stage]),
          [
            [0, 1, 'received'],
            [0, 2, 'parsed'],
            [0, 3, 'mapped'],
            [2, 4, 'written'],
          ],
        );
        const { lineageAuditBundle } = await import('../../src/lineage/audit-event.js');
        const record = (await store.record('a'))!;
        const bundle = lineageAuditBundle(record, entries, 'test') as unknown as {
          entry: Array<{
            resource: {
              id: string;
              entity: Array<{ detail?: Array<{ type: string; valueString?: string }> }>;
            };
          }>;
        };
        const ids = bundle.entry.map((x) => x.resource.id);
        assert.deepEqual(ids, ['lineage-1', 'lineage-2', 'lineage-3', 'lineage-2-4']);
        const shardOf = (i: number) =>
          bundle.entry[i]!.resource.entity[0]!.detail!.find((d) => d.type === 'lineage-shard')?.valueString;
        assert.equal(shardOf(0), undefined);
        assert.equal(shardOf(3), '2');
        assert.equal(record.stages[3]!.shard, 2);
      }));
  });
}
