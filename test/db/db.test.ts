import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testDatabases } from '../helpers/db.js';

for (const kind of testDatabases()) {
  describe(`database (${kind.name})`, () => {
    it('applies migrations and refuses changes to lineage', async () => {
      const { db, dispose } = await kind.open();
      try {
        const m = await db.query<{ name: string }>('select name from schema_migrations order by name');
        assert.ok(m.rows.some((r) => r.name === '001_inbox_lineage.sql'));
        await db.query(
          `insert into lineage (seq, message_id, stage, at, detail, prev_hash, hash) values (1, 'm', 'received', now(), '{}', '0', 'h')`,
        );
        await assert.rejects(db.query(`update lineage set stage = 'x'`), /append-only/);
        await assert.rejects(db.query('delete from lineage'), /append-only/);
        const n = await db.query<{ n: number }>('select count(*)::int as n from lineage');
        assert.equal(n.rows[0]?.n, 1);
      } finally {
        await dispose();
      }
    });

    it('rolls back a failed transaction', async () => {
      const { db, dispose } = await kind.open();
      try {
        await assert.rejects(
          db.transaction(async (tx) => {
            await tx.query(
              `insert into inbox (message_id, channel, sender, control_id, sha256, raw, received_at) values ('a','mllp','s','c','h','\\x00', now())`,
            );
            throw new Error('boom');
          }),
          /boom/,
        );
        const n = await db.query<{ n: number }>('select count(*)::int as n from inbox');
        assert.equal(n.rows[0]?.n, 0);
      } finally {
        await dispose();
      }
    });
  });
}
