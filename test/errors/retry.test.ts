import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GatewayError } from '../../src/errors/codes.js';
import { isDataError, retryClass } from '../../src/errors/retry.js';
import { FhirOutcomeError } from '../../src/fhir/outcome.js';
import { Hl7ParseError } from '../../src/hl7/errors.js';
import { ModelOverloadedError } from '../../src/models/runtime/batcher.js';
import { ModelInputError } from '../../src/models/runtime/onnx-model.js';
import { PermanentFailure } from '../../src/pipeline/prediction.js';
import { deferral } from '../../src/queue/work-queue.js';
import { RawCipherError } from '../../src/security/raw-cipher.js';
import { SourceError } from '../../src/sources/client.js';
import { CircuitOpenError, isTransientFhirError } from '../../src/writeback/fhir/breaker.js';
import { FhirWriteError } from '../../src/writeback/fhir/writer.js';

const pg = (code: string) => Object.assign(new Error('db'), { code });

test('a GatewayError answers its code’s retry class, or the one its throw site set', () => {
  assert.equal(retryClass(new GatewayError('GW_HL7_NO_MSH')), 'never');
  assert.equal(retryClass(new GatewayError('GW_INTERNAL')), 'backoff');
  assert.equal(retryClass(new GatewayError('GW_STORE_UNAVAILABLE')), 'wait');
  assert.equal(retryClass(new GatewayError('GW_INTERNAL', { retry: 'never' })), 'never');
});

test('the former error classes are GatewayErrors with their codes and classes', () => {
  assert.equal(retryClass(new PermanentFailure('no PID-3')), 'never');
  assert.equal(new PermanentFailure('no PID-3').message, 'no PID-3');
  assert.equal(retryClass(new ModelInputError('m', 'NaN')), 'never');
  assert.equal(retryClass(new RawCipherError('no key k1')), 'never');
  const overloaded = new ModelOverloadedError('m', 10, 50);
  assert.equal(overloaded.code, 'MODEL_OVERLOADED');
  assert.equal(retryClass(overloaded), 'wait');
  assert.equal(deferral(overloaded), 50);
  const open = new CircuitOpenError(1200);
  assert.equal(open.code, 'GW_FHIR_UNAVAILABLE');
  assert.equal(retryClass(open), 'wait');
  assert.equal(deferral(open), 1200);
  assert.match(open.message, /circuit open\); retry in 1200 ms/);
});

test('upstream statuses: a 4xx refusal is never retried, no answer, 408, 429 and 5xx are', () => {
  for (const [s, c] of [
    [0, 'backoff'],
    [400, 'never'],
    [404, 'never'],
    [408, 'backoff'],
    [422, 'never'],
    [429, 'backoff'],
    [503, 'backoff'],
  ] as const) {
    assert.equal(retryClass(new FhirWriteError('x', s)), c, `FHIR ${s}`);
    assert.equal(retryClass(new SourceError('x', s)), c, `source ${s}`);
    assert.equal(retryClass(new FhirOutcomeError(s || 500, [])), s === 0 ? 'backoff' : c, `store ${s}`);
    assert.equal(isTransientFhirError(new FhirWriteError('x', s)), c !== 'never');
  }
  assert.equal(new FhirWriteError('x', 422).status, 422, 'the FHIR server’s status stays readable');
});

test('PostgreSQL errors by SQLSTATE', () => {
  for (const code of ['08006', '08001', '57P01', '57P03', '53300'])
    assert.equal(retryClass(pg(code)), 'wait', code);
  for (const code of ['40001', '40P01', '42P01']) assert.equal(retryClass(pg(code)), 'backoff', code);
  for (const code of ['22021', '22P02', '23502', '54000']) {
    assert.equal(retryClass(pg(code)), 'never', code);
    assert.equal(isDataError(pg(code)), true, code);
  }
  // The duplicate key the inbox sorts out itself is no data error.
  assert.equal(isDataError(pg('23505')), false);
  assert.equal(retryClass(pg('23505')), 'backoff');
});

test('foreign errors: the parser’s never, RangeError never, network errors back off', () => {
  assert.equal(retryClass(new Hl7ParseError('100', 'no MSH')), 'never');
  assert.equal(retryClass(new RangeError('Invalid time value')), 'never');
  assert.equal(
    retryClass(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    'backoff',
  );
  assert.equal(retryClass(new TypeError('fetch failed')), 'backoff');
  assert.equal(retryClass('a string'), 'backoff');
  assert.equal(retryClass(null), 'backoff');
  assert.equal(deferral(new Error('x')), undefined);
});
