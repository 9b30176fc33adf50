import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startInboxClaimer, storedOnlyQueue } from '../../src/inbox/claim.js';
import { Inbox } from '../../src/inbox/inbox.js';
import { createLineageStore } from '../../src/lineage/store.js';
import { createLogger } from '../../src/observability/logger.js';
import { createInProcessQueue } from '../../src/queue/in-process.js';
import { testDatabases } from '../helpers/db.js';
import { vitalsOru } from '../helpers/messages.js';

/**
 * Without Redis the inbox is the queue between an intake process and worker processes
 * (GATEWAY_ROLE): two claimers on one database never take the same message, each keeps at most
 * its target queued, a claim not finished is taken again only once its lease has passed, and the intake refuses
 * (GW_INBOX_FULL: AE, ERR 207) once inbox.maxPending messages wait unprocessed.
 */
for (const kind of testDatabases().filter((k) => k.name === 'postgres')) {
  describe(`inbox claims (${kind.name})`, () => {
    it('two workers claim disjoint batches; an unfinished claim returns after its lease', async () => {
      const { db, dispose } = await kind.open();
      const logger = createLogger('silent');
      const stored = storedOnlyQueue(db, 60_000);
      const inbox = new Inbox(db, createLineageStore(db), {
        maxBatch: 64,
        maxDelayMs: 0,
        maxPending: 50,
        onCommitted: (ids) => void stored.enqueue(ids),
        backlog: () => stored.backlog(),
      });
      const queue = () => createInProcessQueue({ concurrency: 1, maxAttempts: 1, onGiveUp: async () => {} });
      const qa = queue();
      const qb = queue();
      const claimer = (q: ReturnType<typeof queue>, leaseMs: number) =>
        startInboxClaimer({ db, queue: q, logger, target: 30, intervalMs: 60_000, leaseMs });
      try {
        await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            inbox.accept({
              channel: 'mllp',
              sender: 'V|W',
              controlId: `IC-${i}`,
              messageType: 'ORU^R01',
              raw: Buffer.from(vitalsOru({ controlId: `IC-${i}` })),
            }),
          ),
        );
        assert.equal(stored.backlog(), 50, 'the intake counts what it stored, queued nowhere');
        // Back-pressure without Redis: the inbox's unprocessed rows count against inbox.maxPending.
        await assert.rejects(
          inbox.accept({
            channel: 'mllp',
            sender: 'V|W',
            controlId: 'IC-FULL',
            messageType: 'ORU^R01',
            raw: Buffer.from(vitalsOru({ controlId: 'IC-FULL' })),
          }),
          (err: { code?: string }) => err.code === 'GW_INBOX_FULL',
        );
        // Neither queue is started: what they hold is what was claimed.
        const a = claimer(qa, 60_000);
        const b = claimer(qb, 60_000);
        const [na, nb] = [await a.claim(), await b.claim()];
        // Both claim at once (their first claims run as they start): one gets its 30, the other the rest.
        assert.deepEqual(
          [qa.backlog(), qb.backlog()].sort((x, y) => x - y),
          [20, 30],
          'up to the target each, none twice',
        );
        assert.equal(na + nb <= 50, true);
        assert.equal(await (qa.backlog() === 30 ? a : b).claim(), 0, 'nothing more while its queue is full');
        await a.close();
        await b.close();
        // Both "died" with their claims: a third worker takes them again once the lease is over.
        await db.query(
          `update inbox set updated_at = now() - interval '2 seconds' where updated_at is not null`,
        );
        const qc = queue();
        const c = claimer(qc, 1_000);
        await c.claim();
        assert.equal(qc.backlog(), 30, 'claims whose lease passed are taken again (up to the target)');
        await c.close();
        await qc.close();
      } finally {
        await inbox.close();
        await stored.close();
        await qa.close();
        await qb.close();
        await dispose();
      }
    });
  });
}
