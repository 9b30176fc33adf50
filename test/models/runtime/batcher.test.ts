import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  createBatcher,
  ModelDeadlineError,
  ModelOverloadedError,
  withBatcher,
} from '../../../src/models/runtime/batcher.js';
import type { LoadedModel } from '../../../src/models/runtime/loader.js';
import { useDemoModels } from '../../helpers/models.js';

describe('dynamic micro-batcher', () => {
  const demo = useDemoModels();
  let model: LoadedModel;
  before(() => {
    model = demo.model('vitals-deterioration');
  });

  it('runs concurrent single rows as one session.run, each getting its own score', async () => {
    const batched = withBatcher(model, {
      maxBatchSize: 64,
      maxQueueDelayMs: 0,
      maxQueue: 1000,
      deadlineMs: 1000,
    });
    const cases = model.card.goldenCases;
    const got = await Promise.all(cases.map((c) => batched.predict([c.features])));
    for (const [i, c] of cases.entries()) assert.ok(Math.abs(got[i]![0]! - c.probability) < 1e-5, c.name);
    assert.equal(batched.batcher.stats.batches, 1);
    assert.equal(batched.batcher.stats.rows, cases.length);
  });

  it('never runs more than maxBatchSize rows at once, and waits at most maxQueueDelayMs', async () => {
    const sizes: number[] = [];
    const b = createBatcher(
      't',
      6,
      async (data, n) => {
        sizes.push(n);
        return model.predict(data, n);
      },
      { maxBatchSize: 8, maxQueueDelayMs: 5, maxQueue: 1000, deadlineMs: 1000 },
    );
    const row = model.card.goldenCases[0]!.features;
    await Promise.all(Array.from({ length: 20 }, () => b.submit(row)));
    assert.ok(sizes.every((s) => s <= 8));
    assert.equal(
      sizes.reduce((a, x) => a + x, 0),
      20,
    );
    await b.submit(row);
    assert.equal(sizes.at(-1), 1, 'a lone request runs once its queue delay is over');
  });

  it('answers each request with the score of its own row, across many batches and reused blocks', async () => {
    const sizes: number[] = [];
    const b = createBatcher(
      't',
      6,
      async (data, n) => {
        sizes.push(n);
        return model.predict(data, n);
      },
      { maxBatchSize: 8, maxQueueDelayMs: 0, maxQueue: 1000, deadlineMs: 1000 },
    );
    const rows = Array.from({ length: 203 }, (_, i) => [
      40 + (i % 50),
      80 + i,
      14 + (i % 9),
      120 - (i % 30),
      92 + (i % 8),
      36 + (i % 5) / 2,
    ]);
    const want = await model.predict(rows);
    // Three waves: while one batch runs, the next requests queue up behind it in blocks of 8.
    const got = await Promise.all(rows.map((r) => b.submit(r)));
    assert.deepEqual(got, want);
    assert.ok(sizes.every((s) => s <= 8));
    assert.deepEqual(await Promise.all(rows.slice(0, 5).map((r) => b.submit(r))), want.slice(0, 5));
    assert.equal(b.queued, 0);
  });

  it('refuses a row with a non-finite value alone; the rest of its batch is scored', async () => {
    const b = createBatcher('t', 6, (data, n) => model.predict(data, n), {
      maxBatchSize: 4,
      maxQueueDelayMs: 0,
      maxQueue: 100,
      deadlineMs: 1000,
    });
    const good = model.card.goldenCases.map((c) => c.features);
    const bad = [...good[0]!];
    bad[2] = Number.NaN;
    const huge = [...good[0]!];
    huge[1] = 1e300; // finite as a double, Infinity as float32
    const results = await Promise.allSettled([
      b.submit(good[0]!),
      b.submit(bad),
      b.submit(huge),
      b.submit(good[1]!),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'rejected', 'fulfilled'],
    );
    const want = await model.predict([good[0]!, good[1]!]);
    assert.equal((results[0] as PromiseFulfilledResult<number>).value, want[0]);
    assert.equal((results[3] as PromiseFulfilledResult<number>).value, want[1]);
    assert.equal(b.stats.rows, 2);
  });

  it('refuses at once when its bounded queue is full (back-pressure with a retry hint)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const b = createBatcher(
      't',
      6,
      async (data, n) => {
        await gate;
        return model.predict(data, n);
      },
      { maxBatchSize: 2, maxQueueDelayMs: 0, maxQueue: 4, deadlineMs: 10_000 },
    );
    const row = model.card.goldenCases[0]!.features;
    const first = [b.submit(row), b.submit(row)];
    await new Promise((r) => setImmediate(r));
    const queued = [1, 2, 3, 4].map(() => b.submit(row));
    const refused = b.submit(row);
    await assert.rejects(
      refused,
      (err: unknown) => err instanceof ModelOverloadedError && err.retryAfterMs > 0,
    );
    assert.equal(b.stats.refused, 1);
    release();
    assert.equal((await Promise.all([...first, ...queued])).length, 6);
  });

  it('refuses a request whose deadline passed before its batch could start', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const b = createBatcher(
      't',
      6,
      async (data, n) => {
        await gate;
        return model.predict(data, n);
      },
      { maxBatchSize: 1, maxQueueDelayMs: 0, maxQueue: 10, deadlineMs: 10_000 },
    );
    const row = model.card.goldenCases[0]!.features;
    const running = b.submit(row);
    await new Promise((r) => setImmediate(r));
    const late = b.submit(row, 5);
    await new Promise((r) => setTimeout(r, 20));
    release();
    await running;
    await assert.rejects(late, ModelDeadlineError);
    assert.equal(b.stats.expired, 1);
  });

  it('drops expired requests from the middle of a batch; the others keep their own rows', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: number[] = [];
    const events: string[] = [];
    const b = createBatcher(
      't',
      6,
      async (data, n) => {
        seen.push(n);
        await gate;
        return model.predict(data, n);
      },
      { maxBatchSize: 4, maxQueueDelayMs: 0, maxQueue: 100, deadlineMs: 10_000 },
      {
        batch: (rows, delay) => events.push(`batch ${rows} ${delay >= 0}`),
        refused: () => events.push('refused'),
        expired: (n) => events.push(`expired ${n}`),
      },
    );
    const rows = model.card.goldenCases.map((c) => c.features);
    const running = b.submit(rows[0]!);
    await new Promise((r) => setImmediate(r));
    const queued = [
      b.submit(rows[1]!),
      b.submit(rows[2]!, 5),
      b.submit(rows[3 % rows.length]!),
      b.submit(rows[0]!, 5),
    ];
    await new Promise((r) => setTimeout(r, 20));
    release();
    await running;
    const settled = await Promise.allSettled(queued);
    assert.deepEqual(
      settled.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled', 'rejected'],
    );
    const want = await model.predict([rows[1]!, rows[3 % rows.length]!]);
    assert.equal((settled[0] as PromiseFulfilledResult<number>).value, want[0]);
    assert.equal((settled[2] as PromiseFulfilledResult<number>).value, want[1]);
    assert.deepEqual(seen, [1, 2]);
    assert.deepEqual(events, ['batch 1 true', 'expired 2', 'batch 2 true']);
  });
});
