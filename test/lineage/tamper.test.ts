import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Database } from '../../src/db/database.js';
import { createLineageStore } from '../../src/lineage/store.js';
import { testDatabases } from '../helpers/db.js';

/** Six entries over three messages, each message also in the inbox. */
async function seed(db: Database) {
  for (const m of ['m1', 'm2', 'm3']) {
    await db.query(
      `insert into inbox (message_id, channel, sender, control_id, sha256, raw, received_at)
       values ($1, 'mllp', 'LAB|HOSP', $1, repeat('0', 64), $2, now())`,
      [m, Buffer.from('MSH|^~\\&|')],
    );
  }
  const store = createLineageStore(db);
  for (const [m, stage] of [
    ['m1', 'received'],
    ['m1', 'parsed'],
    ['m2', 'received'],
    ['m2', 'parsed'],
    ['m3', 'received'],
    ['m3', 'parsed'],
  ] as const) {
    await store.appendNow([{ messageId: m, stage, at: new Date().toISOString(), detail: { n: 1 } }]);
  }
  return store;
}

/** What a superuser can do: drop the triggers that refuse changes. */
async function dropGuards(db: Database) {
  await db.query('drop trigger lineage_append_only on lineage');
  await db.query('drop trigger lineage_no_truncate on lineage');
}

const problems = (r: Awaited<ReturnType<ReturnType<typeof createLineageStore>['verify']>>) =>
  r.ok ? [] : r.problems.map((p) => `${p.kind}@${p.seq}`);

for (const kind of testDatabases()) {
  describe(`lineage store tamper evidence (${kind.name})`, () => {
    const withDb = async (fn: (db: Database) => Promise<void>) => {
      const t = await kind.open();
      try {
        await fn(t.db);
      } finally {
        await t.dispose();
      }
    };

    it('the database refuses UPDATE, DELETE and TRUNCATE on the lineage', () =>
      withDb(async (db) => {
        const store = await seed(db);
        await assert.rejects(db.query(`update lineage set stage = 'x' where seq = 2`), /append-only: UPDATE/);
        await assert.rejects(db.query('delete from lineage where seq = 6'), /append-only: DELETE/);
        await assert.rejects(db.query('truncate lineage'), /append-only: TRUNCATE/);
        await assert.rejects(db.query('delete from lineage_head'), /DELETE refused/);
        const head = (await store.entriesFor('m3'))[1]!.hash;
        // One writer at a time: every entry goes to shard 0, the chain the single chain continues in.
        assert.deepEqual(await store.verify(), {
          ok: true,
          entries: 6,
          head,
          headSeq: 6,
          shards: [{ shard: 0, seq: 6, hash: head }],
          checkpoints: 0,
        });
      }));

    it('names an entry altered through SQL', () =>
      withDb(async (db) => {
        const store = await seed(db);
        await dropGuards(db);
        await db.query(`update lineage set detail = '{"n": 2}'::jsonb where seq = 2`);
        const r = await store.verify();
        assert.deepEqual(problems(r), ['altered@2']);
        // One byte of a timestamp is enough.
        await db.query(`update lineage set at = at + interval '1 millisecond' where seq = 5`);
        assert.deepEqual(problems(await store.verify()), ['altered@2', 'altered@5']);
      }));

    it('names an entry removed from the middle and entries moved to other seqs', () =>
      withDb(async (db) => {
        const store = await seed(db);
        await dropGuards(db);
        await db.query('delete from lineage where seq = 3');
        assert.deepEqual(problems(await store.verify()), ['removed@3']);
        await db.query('update lineage set seq = -4 where seq = 4');
        await db.query('update lineage set seq = 4 where seq = 5');
        await db.query('update lineage set seq = 5 where seq = -4');
        const r = await store.verify();
        assert.deepEqual(problems(r), ['removed@3', 'reordered@4', 'reordered@5']);
        assert.match(r.ok ? '' : r.problems[1]!.reason, /stored at 4 was written as entry 5/);
      }));

    it('names the newest entries removed, by the head anchor the database keeps', () =>
      withDb(async (db) => {
        const store = await seed(db);
        await dropGuards(db);
        await db.query('delete from lineage where seq >= 5');
        const r = await store.verify();
        assert.equal(r.ok, false);
        assert.equal(!r.ok && r.brokenAt, 5);
        assert.match(
          !r.ok ? r.reason : '',
          /chain ends at entry 4 but the head anchor records entry 6: entries 5-6 removed/,
        );
        // A message whose every entry is gone is named too.
        assert.ok(
          !r.ok && r.problems.some((p) => /message m3 is stored but has no lineage entry/.test(p.reason)),
        );
      }));
  });
}
