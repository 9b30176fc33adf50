import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appAckCode, appAckError, wantsAppAck } from '../../src/acks/app-ack.js';
import {
  ackCodeFor,
  checkHeader,
  httpStatusOfAck,
  isEnhanced,
  processedOutcomeError,
  worstAck,
} from '../../src/acks/policy.js';
import { GatewayError } from '../../src/errors/codes.js';
import { readHeader } from '../../src/hl7/header.js';

const h = (msh15 = '', msh16 = '', msh11 = 'P') =>
  readHeader(`MSH|^~\\&|LAB|FAC|GW|G|20240101||ORU^R01|C1|${msh11}|2.5.1|||${msh15}|${msh16}\r`);

const codeOf = (fn: () => void) => {
  try {
    fn();
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof GatewayError);
    return `${err.code} ${err.ack} ${err.hl7Code}`;
  }
};

test('enhanced mode: always, never, or when the sender filled MSH-15/16', () => {
  assert.equal(isEnhanced('auto', h()), false);
  assert.equal(isEnhanced('auto', h('AL')), true);
  assert.equal(isEnhanced('auto', h('', 'ER')), true);
  assert.equal(isEnhanced('auto', undefined), false);
  assert.equal(isEnhanced('original', h('AL')), false);
  assert.equal(isEnhanced('enhanced', h()), true);
  assert.deepEqual(
    (['AA', 'AE', 'AR'] as const).map((c) => [ackCodeFor(c, false), ackCodeFor(c, true)]),
    [
      ['AA', 'CA'],
      ['AE', 'CE'],
      ['AR', 'CR'],
    ],
  );
});

test('header checks: processing id and sender allow-list refuse with AR', () => {
  assert.equal(
    codeOf(() => checkHeader(h(), { processingIds: [] }, [])),
    'ok',
  );
  assert.equal(
    codeOf(() => checkHeader(h('', '', 'T'), { processingIds: ['P'] }, [])),
    'GW_HL7_PROCESSING_ID AR 202',
  );
  assert.equal(
    codeOf(() => checkHeader(h(), { processingIds: [] }, ['OTHER|*'])),
    'GW_SENDER_NOT_ALLOWED AR 207',
  );
  assert.equal(
    codeOf(() => checkHeader(h(), { processingIds: [] }, ['LAB|*'])),
    'ok',
  );
  const noId = readHeader('MSH|^~\\&|LAB|FAC|GW|G|20240101||ORU^R01||P|2.5.1\r');
  assert.equal(
    codeOf(() => checkHeader(noId, { processingIds: [] }, [])),
    'GW_HL7_NO_CONTROL_ID AR 101',
  );
});

test('worst ACK of a batch and its HTTP status on POST /hl7', () => {
  assert.equal(worstAck(['AA', 'AR', 'AA']), 'AR');
  assert.equal(worstAck(['CA', 'CR', 'CE']), 'CE');
  assert.equal(worstAck([]), 'AA');
  assert.deepEqual(
    (['AA', 'CA', 'AR', 'CR', 'AE', 'CE'] as const).map(httpStatusOfAck),
    [200, 200, 400, 400, 503, 503],
  );
});

test('ack.timing processed: AE unless processed in time', () => {
  assert.equal(processedOutcomeError('processed', 100), undefined);
  assert.equal(processedOutcomeError('failed', 100)?.message, 'message stored but its processing failed');
  assert.equal(processedOutcomeError('timeout', 100)?.ack, 'AE');
});

test('application ACK rules (MSH-16) and their ERR', () => {
  assert.deepEqual(
    ['AL', 'ER', 'SU', 'NE', ''].map((t) => [wantsAppAck(t, true), wantsAppAck(t, false)]),
    [
      [true, true],
      [false, true],
      [true, false],
      [false, false],
      [false, false],
    ],
  );
  assert.equal(appAckCode({ status: 'processed' }), 'AA');
  assert.equal(appAckCode({ status: 'failed', failedAt: 'map' }), 'AE');
  assert.equal(appAckCode({ status: 'failed', failedAt: 'retries' }), 'AR');
  assert.deepEqual(appAckError({ status: 'failed', failedAt: 'parse', reason: 'bad', errorCode: '100' }), {
    hl7Code: '100',
    text: 'GW_PROCESSING_FAILED: processing failed (parse): bad',
  });
  assert.equal(appAckError({ status: 'failed', reason: 'x'.repeat(500) }).text.length, 240);
});
