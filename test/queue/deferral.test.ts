import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createBullmqQueue } from '../../src/queue/bullmq.js';
import { CircuitOpenError } from '../../src/writeback/fhir/breaker.js';

describe('BullMQ queue: deferral and retries', { skip: !process.env.REDIS_URL && 'needs REDIS_URL' }, () => {
  it('runs a deferred job again without using an attempt; gives up after maxAttempts; replays a finished job', async () => {
    const gaveUp: string[] = [];
    const q = createBullmqQueue(process.env.REDIS_URL!, {
      concurrency: 2,
      maxAttempts: 2,
      backoffMs: 10,
      prefix: `test-${randomBytes(4).toString('hex')}`,
      onGiveUp: async (id) => {
        gaveUp.push(id);
      },
    });
    const seen: Array<[string, number]> = [];
    let deferrals = 0;
    let done = 0;
    q.start(async (id, attempt) => {
      seen.push([id, attempt]);
      if (id === 'm-wait' && deferrals++ < 3) throw new CircuitOpenError(20);
      if (id === 'm-bad') throw new Error('boom');
      done++;
    });
    try {
      await q.enqueue(['m-wait', 'm-bad']);
      const until = Date.now() + 10_000;
      while ((done < 1 || gaveUp.length < 1) && Date.now() < until)
        await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(
        seen.filter(([id]) => id === 'm-wait').map(([, a]) => a),
        [1, 1, 1, 1],
        'three deferrals, then success, all on attempt 1',
      );
      assert.deepEqual(gaveUp, ['m-bad']);
      // A finished job keeps its id: queuing it again (a replay) needs `again`.
      await q.enqueue(['m-wait']);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(done, 1);
      await q.enqueue(['m-wait'], { again: 'replay-1' });
      await q.enqueue(['m-wait'], { again: 'replay-1' });
      const until2 = Date.now() + 5000;
      while (done < 2 && Date.now() < until2) await new Promise((r) => setTimeout(r, 20));
      assert.equal(done, 2);
    } finally {
      await q.close();
    }
  });
});
