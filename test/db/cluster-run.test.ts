import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { claimRun } from '../../src/db/cluster-run.js';
import { testDatabases } from '../helpers/db.js';

for (const kind of testDatabases()) {
  describe(`one run per period for the whole cluster (${kind.name})`, () => {
    it('of many claims at once exactly one wins, the next period is claimed again', async () => {
      const t = await kind.open();
      try {
        const claims = await Promise.all(
          Array.from({ length: 8 }, (_, i) => claimRun(t.db, 'retention', `p${i}`, 400)),
        );
        assert.equal(claims.filter(Boolean).length, 1);
        assert.equal(await claimRun(t.db, 'retention', 'p0', 400), false, 'same period: taken');
        assert.equal(await claimRun(t.db, 'rescore-tick', 'p0', 400), true, 'another job is its own');
        await new Promise((r) => setTimeout(r, 400));
        const next = await Promise.all(
          Array.from({ length: 8 }, (_, i) => claimRun(t.db, 'retention', `p${i}`, 400)),
        );
        assert.equal(next.filter(Boolean).length, 1, 'the next period has one claimer too');
      } finally {
        await t.dispose();
      }
    });
  });
}
