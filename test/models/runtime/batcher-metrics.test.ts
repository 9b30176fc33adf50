import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createBatcher } from '../../../src/models/runtime/batcher.js';
import { batcherObserver } from '../../../src/models/runtime/batcher-metrics.js';
import type { LoadedModel } from '../../../src/models/runtime/loader.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { sendMllp, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { msaCode, vitalsOru } from '../../helpers/messages.js';
import { useDemoModels } from '../../helpers/models.js';

/** The value of one sample line of a Prometheus text exposition, or undefined. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('micro-batcher metrics', () => {
  const demo = useDemoModels();
  let model: LoadedModel;
  before(() => {
    model = demo.model('vitals-deterioration');
  });

  it('counts batch sizes, queue delays, refusals and expiries, and reads the queue at each scrape', async () => {
    const metrics = createMetrics();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const b = createBatcher(
      'm@1',
      6,
      async (data, n) => {
        await gate;
        return model.predict(data, n);
      },
      { maxBatchSize: 2, maxQueueDelayMs: 0, maxQueue: 3, deadlineMs: 10_000 },
      batcherObserver(metrics, 'm', '1'),
    );
    const row = model.card.goldenCases[0]!.features;
    const first = b.submit(row);
    await new Promise((r) => setImmediate(r));
    const waiting = [b.submit(row), b.submit(row, 1), b.submit(row)];
    await assert.rejects(b.submit(row)); // queue full
    let text = await metrics.registry.metrics();
    const l = 'model="m",version="1"';
    assert.equal(sample(text, 'gateway_model_queued_requests', l), 3);
    assert.equal(sample(text, 'gateway_model_requests_refused_total', l), 1);
    await new Promise((r) => setTimeout(r, 10));
    release();
    await first;
    const settled = await Promise.allSettled(waiting);
    assert.deepEqual(
      settled.map((s) => s.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    text = await metrics.registry.metrics();
    assert.equal(sample(text, 'gateway_model_requests_expired_total', l), 1);
    // Batches of 1 (the first), 1 (of a block of 2, one expired) and 1 (the last).
    assert.equal(sample(text, 'gateway_model_batch_size_count', l), 3);
    assert.equal(sample(text, 'gateway_model_batch_size_sum', l), 3);
    assert.equal(sample(text, 'gateway_model_queue_delay_seconds_count', l), 3);
    assert.equal(sample(text, 'gateway_model_queued_requests', l), 0);
    await b.close();
    text = await metrics.registry.metrics();
    assert.equal(sample(text, 'gateway_model_queued_requests', l), undefined, 'a closed batcher is not read');
  });
});

describe('GET /metrics shows the micro-batchers', () => {
  let t: TestGateway;
  before(async () => {
    t = await startTestGateway({ database: 'pglite' });
  });
  after(async () => t?.dispose());

  it('after a message is scored: batch size, queue delay and queue of the model that scored it', async () => {
    assert.equal(msaCode(await sendMllp(t.gw.mllpPort, vitalsOru({ controlId: 'BATCH-M-1' }))), 'AA');
    await t.gw.idle();
    const text = await (await fetch(`${t.gw.httpUrl}/metrics`)).text();
    const l = 'model="vitals-deterioration",version="1.0.0"';
    assert.ok((sample(text, 'gateway_model_batch_size_count', l) ?? 0) >= 1, 'a batch was counted');
    assert.ok((sample(text, 'gateway_model_batch_size_sum', l) ?? 0) >= 1);
    assert.ok((sample(text, 'gateway_model_queue_delay_seconds_count', l) ?? 0) >= 1);
    assert.equal(sample(text, 'gateway_model_queued_requests', l), 0);
    assert.match(text, /# TYPE gateway_model_requests_refused_total counter/);
    assert.match(text, /# TYPE gateway_model_requests_expired_total counter/);
    assert.equal(sample(text, 'gateway_model_inference_thread', l), 1, 'stream batches have their thread');
  });
});
