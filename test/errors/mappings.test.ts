import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { errorAck } from '../../src/acks/policy.js';
import { GatewayError } from '../../src/errors/codes.js';
import { errorHandler, httpErrorReply } from '../../src/errors/http.js';
import { operationOutcome } from '../../src/errors/outcome.js';
import { badRequest, toOutcomeError } from '../../src/fhir/outcome.js';
import { buildAck } from '../../src/hl7/ack.js';
import { readHeader } from '../../src/hl7/header.js';
import { SourceError } from '../../src/sources/client.js';

test('error -> ACK: MSA code, ERR with the 0357 code, the field and `CODE: text`', () => {
  const err = new GatewayError(
    'GW_HL7_UNSTORABLE',
    { location: { segment: 'PID', field: 5 } },
    'PID-5',
    'a NUL byte',
  );
  const a = errorAck(err);
  assert.equal(a.base, 'AR');
  assert.deepEqual(a.error, {
    hl7Code: '102',
    text: 'GW_HL7_UNSTORABLE: PID-5 holds a character that cannot be stored (a NUL byte); send it without',
    location: { segment: 'PID', field: 5 },
  });
  const header = readHeader('MSH|^~\\&|LAB|F|GW|G|20240101||ORU^R01|C1|P|2.5.1\r');
  const ack = buildAck({ code: a.base, header, application: 'GW', facility: 'G', error: a.error });
  assert.match(ack, /\rMSA\|AR\|C1\|GW_HL7_UNSTORABLE: /);
  assert.match(ack, /\rERR\|\|PID\^1\^5\|102\^Data type error\^HL70357\|E\|/);
  const parse = errorAck(new GatewayError('GW_HL7_PARSE', { hl7Code: '100' }, 'x'));
  assert.equal(parse.error.hl7Code, '100', 'the parser’s code wins over the table’s');
});

test('error -> HTTP: the table status, JSON or OperationOutcome, headers', () => {
  const nf = httpErrorReply(new GatewayError('GW_NOT_FOUND', 'message m1'), { fhir: false });
  assert.deepEqual(nf, {
    status: 404,
    headers: {},
    body: { error: { code: 'GW_NOT_FOUND', message: 'message m1 not found' } },
    unexpected: false,
  });
  const auth = httpErrorReply(new GatewayError('GW_AUTH_MISSING'), { fhir: true });
  assert.equal(auth.status, 401);
  assert.equal(auth.headers['www-authenticate'], 'Bearer realm="ml-gateway"');
  assert.equal((auth.body as { resourceType: string }).resourceType, 'OperationOutcome');
  const throttled = httpErrorReply(new GatewayError('GW_AUTH_THROTTLED', { retryAfterMs: 30_000 }, '30'), {
    fhir: false,
  });
  assert.equal(throttled.headers['retry-after'], '30');
  // A source's 404 is its own status; our client gets a 502.
  assert.equal(httpErrorReply(new SourceError('source s: read failed', 404), { fhir: false }).status, 502);
  const internal = httpErrorReply(new Error('secret detail'), { fhir: false });
  assert.equal(internal.status, 500);
  assert.equal(internal.unexpected, true);
  assert.doesNotMatch(JSON.stringify(internal.body), /secret/);
  const media = httpErrorReply(Object.assign(new Error('x'), { statusCode: 415 }), {
    fhir: false,
    contentType: 'image/png',
  });
  assert.deepEqual(media.body, {
    error: { code: 'GW_UNSUPPORTED_MEDIA', message: 'unsupported content type image/png' },
  });
  assert.equal(media.status, 415);
});

test('error -> OperationOutcome: one builder for gateway errors and store issues', () => {
  const o = operationOutcome(new GatewayError('GW_STORE_UNAVAILABLE'));
  assert.deepEqual(o.issue[0], {
    severity: 'error',
    code: 'transient',
    details: {
      coding: [{ system: 'urn:ml-gateway:error', code: 'GW_STORE_UNAVAILABLE' }],
      text: 'GW_STORE_UNAVAILABLE: message could not be stored now; retry later',
    },
    diagnostics: 'message could not be stored now; retry later',
  });
  assert.equal(operationOutcome(new GatewayError('GW_BAD_REQUEST', 'x')).issue[0]!.code, 'invalid');
  assert.equal(operationOutcome(new GatewayError('GW_NOT_FOUND', 'x')).issue[0]!.code, 'not-found');
  assert.deepEqual(badRequest('bad', 'Observation.code').outcome, {
    resourceType: 'OperationOutcome',
    issue: [
      { severity: 'error', code: 'invalid', details: { text: 'bad' }, expression: ['Observation.code'] },
    ],
  });
  assert.equal(
    toOutcomeError(Object.assign(new Error('too big'), { statusCode: 413 })).outcome.issue[0]!.code,
    'too-costly',
  );
  assert.equal(toOutcomeError(new Error('boom')).status, 500);
});

test('the one Fastify error handler, in both forms', async () => {
  const app = Fastify();
  const logged: unknown[] = [];
  app.setErrorHandler(
    errorHandler({ isFhir: (u) => u.startsWith('/fhir'), onUnexpected: (e) => logged.push(e) }),
  );
  app.get('/gone', async () => {
    throw new GatewayError('GW_RAW_PRUNED');
  });
  app.get('/fhir/boom', async () => {
    throw new Error('internal detail');
  });
  const gone = await app.inject({ url: '/gone' });
  assert.equal(gone.statusCode, 409);
  assert.equal(gone.json().error.code, 'GW_RAW_PRUNED');
  const boom = await app.inject({ url: '/fhir/boom' });
  assert.equal(boom.statusCode, 500);
  assert.match(String(boom.headers['content-type']), /fhir\+json/);
  assert.equal(boom.json().issue[0].code, 'exception');
  assert.doesNotMatch(boom.body, /internal detail/);
  assert.equal(logged.length, 1);
  await app.close();
});
