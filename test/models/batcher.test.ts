import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createBatcher,
  ModelDeadlineError,
  ModelOverloadedError,
  withBatcher,
} from '../../src/models/batcher.js';
import { type LoadedModel, loadModels, type ModelRegistry } from '../../src/models/registry.js';

describe('dynamic micro-batcher', () => {
  let registry: ModelRegistry;
  let model: LoadedModel;
  before(async () => {
    registry = await loadModels('models');
    model = registry.get('vitals-deterioration')!;
  });
  after(async () => registry.close());

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
    const t0 = performance.now();
    await b.submit(row);
    assert.ok(performance.now() - t0 < 50, 'a lone request runs after the queue delay');
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
});
