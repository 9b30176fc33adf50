import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { testDatabases } from '../helpers/db.js';

const functions = `select p.proname from pg_proc p
  where p.proname like 'inbox_accept%' and p.pronamespace = current_schema()::regnamespace order by 1`;

for (const kind of testDatabases()) {
  describe(`migration 150: the dead inbox_accept is gone (${kind.name})`, () => {
    it('leaves inbox_accept_rows (the group commit) and no inbox_accept, of any signature', async () => {
      const { db, dispose } = await kind.open();
      try {
        assert.deepEqual(
          (await db.query<{ proname: string }>(functions)).rows.map((r) => r.proname),
          ['inbox_accept_rows'],
        );
        // A leftover of another signature (a database changed by hand) is dropped too when it runs.
        await db.query('create function inbox_accept(p int) returns int language sql as $$ select p $$');
        const file = new URL('../../src/db/migrations/150_drop_inbox_accept.sql', import.meta.url);
        await db.query(readFileSync(file, 'utf8'));
        assert.deepEqual(
          (await db.query<{ proname: string }>(functions)).rows.map((r) => r.proname),
          ['inbox_accept_rows'],
        );
      } finally {
        await dispose();
      }
    });
  });
}
