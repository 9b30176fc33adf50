import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { openPglite } from '../../src/db/pglite.js';
import { openPostgres } from '../../src/db/postgres.js';
import { chain, GENESIS_HASH } from '../../src/lineage/chain.js';
import { createLineageStore } from '../../src/lineage/store.js';

const DIR = new URL('../../src/db/migrations/', import.meta.url);
const SHARDS = '140_lineage_shards.sql';

type Raw = Database & { exec(sql: string): Promise<void> };

/** A database with every migration before the sharded lineage applied. */
async function before140(db: Raw) {
  await db.exec(
    'create table if not exists schema_migrations (name text primary key, applied_at timestamptz not null default now())',
  );
  for (const f of readdirSync(DIR)
    .filter((f) => f.endsWith('.sql') && f < SHARDS)
    .sort()) {
    await db.exec(
      `${readFileSync(new URL(f, DIR), 'utf8')}\n;insert into schema_migrations (name) values ('${f}');`,
    );
  }
}

/** Ten entries of the single chain, written as the old code wrote them (seq, no shard). */
async function legacyChain(db: Database) {
  await db.query(
    `insert into inbox (message_id, channel, sender, control_id, sha256, raw, received_at)
     values ('old', 'mllp', 'LAB|HOSP', 'old', repeat('0', 64), '\\x00', now())`,
  );
  const entries = chain(
    { seq: 0, hash: GENESIS_HASH },
    Array.from({ length: 10 }, (_, i) => ({
      messageId: 'old',
      stage: `s${i}`,
      at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
      detail: { i },
    })),
  );
  for (const e of entries)
    await db.query(
      'insert into lineage (seq, message_id, stage, at, detail, prev_hash, hash) values ($1, $2, $3, $4, $5, $6, $7)',
      [e.seq, e.messageId, e.stage, e.at, JSON.stringify(e.detail), e.prevHash, e.hash],
    );
  return entries;
}

const kinds: Array<{ name: string; open(): Promise<{ db: Raw; dispose(): Promise<void> }> }> = [
  {
    name: 'pglite',
    async open() {
      const db = await openPglite('memory://');
      return { db, dispose: () => db.close() };
    },
  },
];
const url = process.env.DATABASE_URL;
if (url)
  kinds.push({
    name: 'postgres',
    async open() {
      const schema = `t_${randomBytes(6).toString('hex')}`;
      const db = await openPostgres({ url, schema });
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

for (const kind of kinds) {
  describe(`lineage migration from the single chain (${kind.name})`, () => {
    it('the single chain becomes shard 0, verified as before and sealed by checkpoint 1; appends continue it', async () => {
      const t = await kind.open();
      try {
        await before140(t.db);
        const old = await legacyChain(t.db);
        assert.deepEqual(await migrate(t.db), [
          ...readdirSync(DIR)
            .filter((f) => f.endsWith('.sql') && f >= SHARDS)
            .sort(),
        ]);
        const store = createLineageStore(t.db, { shards: 4 });
        let r = await store.verify();
        assert.equal(r.ok, true, JSON.stringify(!r.ok && r.problems));
        assert.equal(r.entries, 10);
        assert.equal(r.head, old[9]!.hash);
        assert.equal(r.checkpoints, 1);
        const cp = (await t.db.query<{ heads: unknown }>('select heads from lineage_checkpoint where n = 1'))
          .rows[0]!;
        assert.deepEqual(cp.heads, [{ shard: 0, seq: 10, hash: old[9]!.hash }]);
        // Old entries keep their seq (and as id, their order).
        assert.deepEqual(
          (await store.entriesFor('old')).map((e) => [e.shard, e.seq, e.id]),
          old.map((e) => [0, e.seq, e.seq]),
        );
        // New entries continue shard 0 after the old chain's tail.
        const [next] = await store.appendNow([
          { messageId: 'old', stage: 'replayed', at: new Date().toISOString(), detail: {} },
        ]);
        assert.equal(next!.shard, 0);
        assert.equal(next!.seq, 11);
        assert.equal(next!.prevHash, old[9]!.hash);
        assert.equal(next!.id, 11);
        // A checkpoint now covers the new entry too; one with nothing new is not written.
        assert.equal((await store.checkpoint())?.n, 2);
        assert.equal(await store.checkpoint(), undefined);
        r = await store.verify();
        assert.equal(r.ok, true, JSON.stringify(!r.ok && r.problems));
        assert.equal(r.entries, 11);
        assert.equal(r.checkpoints, 2);
        // Tampering with an old entry still shows, now also against the seal.
        await t.db.query('drop trigger lineage_append_only on lineage');
        await t.db.query(`update lineage set detail = '{"i": 99}'::jsonb where seq = 4`);
        r = await store.verify();
        assert.deepEqual(r.ok ? [] : r.problems.map((p) => `${p.kind}@${p.seq}`), ['altered@4']);
        // Cutting the chain back below a checkpoint shows even with the shard head rewritten.
        await t.db.query(`update lineage set detail = '{"i": 3}'::jsonb where seq = 4`);
        await t.db.query('delete from lineage where seq >= 10');
        // (the newest entry, 11, was appended after the seal: checkpoint 2 holds it)
        await t.db.query(`update lineage_shard set seq = 9, hash = $1, entries = 9 where shard = 0`, [
          old[8]!.hash,
        ]);
        r = await store.verify();
        assert.match(r.ok ? '' : r.reason, /the chain ends at entry 9 but checkpoint 2 records entry 11/);
      } finally {
        await t.dispose();
      }
    });
  });
}
