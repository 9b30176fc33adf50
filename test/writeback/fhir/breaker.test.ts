import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createInProcessQueue } from '../../../src/queue/in-process.js';
import { deferral, retryDelay } from '../../../src/queue/work-queue.js';
import {
  CircuitOpenError,
  createCircuitBreaker,
  isTransientFhirError,
} from '../../../src/writeback/fhir/breaker.js';
import { FhirWriteError } from '../../../src/writeback/fhir/writer.js';

const down = () => Promise.reject(new FhirWriteError('FHIR transaction failed: network error', 0));
const up = () => Promise.resolve('ok');

describe('circuit breaker around the FHIR writer', () => {
  it('opens after N transient failures in a row, waits, probes once, closes on success', async () => {
    let t = 0;
    const states: string[] = [];
    const b = createCircuitBreaker({
      failureThreshold: 3,
      cooldownMs: 1000,
      now: () => t,
      onStateChange: (s) => states.push(s),
    });
    for (let i = 0; i < 2; i++) await assert.rejects(b.run(down, isTransientFhirError), FhirWriteError);
    assert.equal(b.state, 'closed');
    // The third failure opens it: that caller is told to wait, not that it failed.
    await assert.rejects(b.run(down, isTransientFhirError), CircuitOpenError);
    assert.equal(b.state, 'open');
    let called = false;
    const err = await b
      .run(async () => {
        called = true;
      }, isTransientFhirError)
      .catch((e) => e);
    assert.ok(err instanceof CircuitOpenError && !called, 'no write while open');
    assert.ok(deferral(err)! >= 1000 && deferral(err)! <= 1250);
    t = 1000;
    assert.equal(b.state, 'half-open');
    // One probe at a time: a second caller waits while the first is in flight.
    let release!: () => void;
    const probe = b.run(() => new Promise<string>((r) => (release = () => r('ok'))), isTransientFhirError);
    await assert.rejects(b.run(up, isTransientFhirError), CircuitOpenError);
    release();
    assert.equal(await probe, 'ok');
    assert.equal(b.state, 'closed');
    assert.deepEqual(states, ['open', 'half-open', 'closed']);
  });

  it('re-opens when the probe fails; a 4xx refusal is an answer, not an outage', async () => {
    let t = 0;
    const b = createCircuitBreaker({ failureThreshold: 1, cooldownMs: 100, now: () => t });
    await assert.rejects(b.run(down, isTransientFhirError), CircuitOpenError);
    t = 100;
    await assert.rejects(b.run(down, isTransientFhirError), CircuitOpenError);
    assert.equal(b.state, 'open');
    t = 200;
    const refused = () => Promise.reject(new FhirWriteError('HTTP 422', 422));
    await assert.rejects(
      b.run(refused, isTransientFhirError),
      (e: unknown) => (e as FhirWriteError).status === 422,
    );
    assert.equal(b.state, 'closed');
    assert.equal(isTransientFhirError(new FhirWriteError('x', 503)), true);
    assert.equal(isTransientFhirError(new FhirWriteError('x', 429)), true);
    assert.equal(isTransientFhirError(new FhirWriteError('x', 400)), false);
  });
});

describe('retries', () => {
  it('back off exponentially with +-50 % jitter, capped', () => {
    assert.equal(
      retryDelay(1, 100, 10_000, () => 0.5),
      100,
    );
    assert.equal(
      retryDelay(4, 100, 10_000, () => 0.5),
      800,
    );
    assert.equal(
      retryDelay(4, 100, 10_000, () => 0),
      400,
    );
    assert.equal(
      retryDelay(4, 100, 10_000, () => 0.999),
      1199,
    );
    assert.equal(
      retryDelay(30, 100, 10_000, () => 0.5),
      10_000,
    );
    const spread = new Set(Array.from({ length: 50 }, () => retryDelay(3, 100, 10_000)));
    assert.ok(spread.size > 10, 'jitter spreads retries');
  });

  it('in-process queue: a deferral runs again without using an attempt; errors give up after maxAttempts', async () => {
    const seen: Array<[string, number]> = [];
    const gaveUp: string[] = [];
    const q = createInProcessQueue({
      concurrency: 2,
      maxAttempts: 2,
      backoffMs: 5,
      onGiveUp: async (id) => {
        gaveUp.push(id);
      },
    });
    let deferrals = 0;
    q.start(async (id, attempt) => {
      seen.push([id, attempt]);
      if (id === 'wait' && deferrals++ < 5) throw new CircuitOpenError(5);
      if (id === 'bad') throw new Error('boom');
    });
    await q.enqueue(['wait', 'bad']);
    const until = Date.now() + 3000;
    while ((q.backlog() > 0 || gaveUp.length === 0) && Date.now() < until)
      await new Promise((r) => setTimeout(r, 10));
    await q.close();
    assert.deepEqual(gaveUp, ['bad']);
    assert.deepEqual(
      seen.filter(([id]) => id === 'wait').map(([, a]) => a),
      [1, 1, 1, 1, 1, 1],
    );
    assert.deepEqual(
      seen.filter(([id]) => id === 'bad').map(([, a]) => a),
      [1, 2],
    );
  });
});
