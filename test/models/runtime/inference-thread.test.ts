import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withBatcher } from '../../../src/models/runtime/batcher.js';
import {
  type InferenceThread,
  InferenceThreadError,
  routeBatches,
  startInferenceThread,
  startModelThread,
} from '../../../src/models/runtime/inference-thread.js';
import type { LoadedModel } from '../../../src/models/runtime/loader.js';
import { TEST_BATCHER, useDemoModels } from '../../helpers/models.js';

const options = TEST_BATCHER;

async function untilReady(t: InferenceThread): Promise<void> {
  for (let i = 0; i < 500 && !t.ready; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(t.ready, 'the inference thread starts');
}

/**
 * Same scores within float32 rounding: a tree ensemble sums its trees in an order that depends
 * on the batch and on onnxruntime's threads, so the last digit can differ.
 */
function assertScores(got: ArrayLike<number>, expected: number[]): void {
  assert.equal(got.length, expected.length);
  for (let i = 0; i < expected.length; i++)
    assert.ok(Math.abs(got[i]! - expected[i]!) < 1e-6, `row ${i}: ${got[i]} vs ${expected[i]}`);
}

/** Rows spread over the features' ranges, deterministic. */
function rowsFor(model: LoadedModel, n: number): number[][] {
  const w = model.featureNames.length;
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: w }, (_, j) => 20 + ((i * 37 + j * 11) % 120)),
  );
}

describe('inference thread', () => {
  const demo = useDemoModels();

  for (const name of ['vitals-deterioration', 'aki-risk']) {
    it(`scores ${name} exactly as the event loop's session does, in full and partial batches`, async () => {
      const model = demo.model(name);
      const thread = startModelThread(model, demo.onnx(name), { maxRows: options.maxBatchSize });
      await untilReady(thread);
      const batched = withBatcher(model, options, undefined, thread);
      const rows = rowsFor(model, 203); // 12 full batches of 16 and a partial one, at least
      const expected = await model.predict(rows);
      const got = await Promise.all(rows.map((r) => batched.batcher.submit(r)));
      assertScores(got, expected);
      // The first batch finds the thread asleep and runs on the event loop; the rest overlap on the thread.
      assert.ok(thread.batches >= 1, 'batches ran on the thread');
      assert.ok(batched.batcher.stats.batches >= Math.ceil(203 / 16));
      assert.equal(batched.batcher.stats.rows, 203);
      // Single requests arriving one at a time (each its own batch) as well.
      for (const [i, r] of rows.slice(0, 5).entries())
        assertScores([await batched.batcher.submit(r)], [expected[i]!]);
      await batched.batcher.close();
      await thread.close();
      assert.equal(thread.ready, false);
      await assert.rejects(thread.run(new Float32Array(model.featureNames.length), 1), InferenceThreadError);
    });
  }

  it('runs a lone batch on the event loop while the thread sleeps, overlapping batches and a slow model on the thread', async () => {
    const model = demo.model('aki-risk');
    const thread = startModelThread(model, demo.onnx('aki-risk'), { maxRows: 4096 });
    await untilReady(thread);
    const asleep = async () => {
      for (let i = 0; i < 200 && !thread.idle; i++) await new Promise((r) => setTimeout(r, 5));
      assert.ok(thread.idle, 'the thread sleeps when nothing comes');
    };
    let onLoop = 0;
    const run = routeBatches(thread, (data, n) => {
      onLoop++;
      return model.scoreRows!(data, n);
    });
    const row = Float32Array.from(model.card.goldenCases[0]!.features);
    await asleep();
    await run(row, 1);
    assert.deepEqual([onLoop, thread.batches], [1, 0], 'a lone batch does not wait for the thread to wake');
    await Promise.all([run(row, 1), run(row, 1)]);
    assert.deepEqual([onLoop, thread.batches], [2, 1], 'a batch arriving while one runs goes to the thread');
    // More batches timed on the thread (a batch may be slow because the machine was busy).
    for (let i = 0; i < 8; i++) await Promise.all([run(row, 1), run(row, 1)]);
    assert.ok(thread.computeMs < 0.5, `a small batch takes ${thread.computeMs} ms in the thread's session`);
    const counts = [onLoop, thread.batches];
    await asleep();
    await run(row, 1);
    assert.deepEqual(
      [onLoop, thread.batches],
      [counts[0]! + 1, counts[1]],
      'the model is quick: lone batches stay on the event loop',
    );

    // Batches of 4,096 rows (milliseconds each): the event loop cannot afford them, even alone.
    const big = Float32Array.from({ length: 4096 * row.length }, (_, i) => row[i % row.length]!);
    for (let i = 0; i < 10; i++) await Promise.all([run(big, 4096), run(big, 4096)]);
    assert.ok(
      thread.computeMs > 0.5,
      `big batches take at least ${thread.computeMs} ms in the thread's session`,
    );
    const before = thread.batches;
    await asleep();
    await run(big, 4096);
    assert.equal(thread.batches, before + 1, 'a slow model keeps to the thread');
    await thread.close();
  });

  it('sleeps on a long batch instead of turning the event loop for it, and still answers', async () => {
    const model = demo.model('aki-risk');
    const thread = startModelThread(model, demo.onnx('aki-risk'), { maxRows: 64 });
    await untilReady(thread);
    const sleepy = startInferenceThread('aki-risk@test', {
      bytes: demo.onnx('aki-risk'),
      ...model.card.onnx,
      sha256: model.sha256,
      width: model.featureNames.length,
      maxRows: 64,
      pollMs: 0,
    });
    await untilReady(sleepy);
    const rows = rowsFor(model, 64);
    const data = Float32Array.from(rows.flat());
    const [a, b] = await Promise.all([
      sleepy.run(data, 64),
      sleepy.run(data.subarray(0, 32 * rows[0]!.length), 32),
    ]);
    const expected = await model.predict(rows);
    assertScores(a, expected);
    assertScores(b, expected.slice(0, 32));
    await Promise.all([thread.close(), sleepy.close()]);
  });

  it('reports a batch onnxruntime refuses to its requests, and goes on with the next batch', async () => {
    const model = demo.model('vitals-deterioration');
    const thread = startInferenceThread('vitals@wrong-input', {
      bytes: demo.onnx('vitals-deterioration'),
      sha256: model.sha256,
      input: 'not_the_input',
      output: model.card.onnx.output,
      outputIndex: model.card.onnx.outputIndex,
      width: model.featureNames.length,
      maxRows: 8,
    });
    await untilReady(thread);
    const row = new Float32Array(model.featureNames.length).fill(80);
    for (let i = 0; i < 2; i++) {
      await assert.rejects(thread.run(row, 1), (err: Error) => {
        assert.ok(err instanceof InferenceThreadError);
        assert.match(err.message, /'features' is missing in 'feeds'/); // onnxruntime's own words
        return true;
      });
    }
    assert.equal(thread.ready, true, 'a refused batch does not stop the thread');
    await thread.close();
  });

  it('never runs bytes other than the ones checked: a hash mismatch stops the thread and batches stay on the event loop', async () => {
    const model = demo.model('vitals-deterioration');
    const tampered = Buffer.from(demo.onnx('vitals-deterioration'));
    tampered[tampered.length - 1]! ^= 1;
    let stopped: Error | undefined;
    const thread = startModelThread(model, tampered, {
      maxRows: 8,
      onExit: (err) => {
        stopped = err;
      },
    });
    for (let i = 0; i < 500 && !stopped; i++) await new Promise((r) => setTimeout(r, 10));
    assert.match(stopped?.message ?? '', /sha256/);
    assert.equal(thread.ready, false);
    const batched = withBatcher(model, options, undefined, thread);
    const c = model.card.goldenCases[0]!;
    assert.ok(Math.abs((await batched.batcher.submit(c.features)) - c.probability) < 1e-5);
    assert.equal(thread.batches, 0);
    await batched.batcher.close();
    await thread.close();
  });
});
