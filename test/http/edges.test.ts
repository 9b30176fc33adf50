import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * HTTP edges (issue 12 item 4): every odd request to POST /hl7 gets a 4xx with a clear answer, the
 * MLLP size limit holds over HTTP too, and a route's permission is checked before its body.
 */

const MSG = (id: string, extra = '') =>
  `MSH|^~\\&|LAB|HOSP|GW|HOSP|20240101120000||ORU^R01|${id}|P|2.5.1\rPID|1||MRN1^^^HOSP^MR||DOE^JANE\rOBX|1|NM|8867-4^HR^LN||80|/min|||||F${extra}\r`;

describe('HTTP edges', () => {
  let t: TestGateway;
  let readToken: string;
  const post = (path: string, body: string | undefined, headers: Record<string, string> = {}) =>
    fetch(`${t.gw.httpUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.gw.adminToken}`, ...headers },
      ...(body === undefined ? {} : { body }),
    });

  before(async () => {
    readToken = 'read-only-token-for-edges';
    t = await startTestGateway({
      database: 'pglite',
      config: {
        mllp: { port: 0, maxMessageBytes: 4096 },
        tokens: [{ name: 'reader', token: readToken, scopes: ['read'] }],
      },
    });
  });
  after(async () => t?.dispose());

  it('POST /hl7 with an empty body and no content type: 400 with an AR, not 500', async () => {
    const res = await post('/hl7', undefined);
    const text = await res.text();
    assert.equal(res.status, 400, text);
    assert.match(text, /MSA\|AR/);
    assert.match(text, /ERR\|/);
  });

  it('POST /hl7 with an empty text/plain body: 400 AR', async () => {
    const res = await post('/hl7', '', { 'content-type': 'text/plain' });
    const text = await res.text();
    assert.equal(res.status, 400, text);
    assert.match(text, /MSA\|AR/);
  });

  it('POST /hl7 over mllp.maxMessageBytes: 413 AR with ERR 104 (GW_HL7_TOO_LARGE)', async () => {
    const big = MSG('BIG1', `\rNTE|1||${'x'.repeat(8000)}`);
    const res = await post('/hl7', big, { 'content-type': 'x-application/hl7-v2+er7' });
    const text = await res.text();
    assert.equal(res.status, 413, text);
    assert.match(text, /MSA\|AR\|BIG1/);
    assert.match(text, /\|104/);
    assert.match(text, /over the limit of 4096 bytes/);
  });

  it('POST /hl7 under the limit is still AA', async () => {
    const res = await post('/hl7', MSG('SMALL1'), { 'content-type': 'application/hl7-v2' });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /MSA\|AA\|SMALL1/);
  });

  it('POST /hl7 with another content type: 415 naming the accepted types', async () => {
    const res = await post('/hl7', MSG('JSON1'), { 'content-type': 'application/json' });
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(res.status, 415);
    assert.equal(body.error.code, 'GW_UNSUPPORTED_MEDIA');
    assert.match(body.error.message, /x-application\/hl7-v2\+er7/);
    assert.match(body.error.message, /text\/plain/);
  });

  it('POST /hl7 with a body and no content type: 415, not 500', async () => {
    const res = await fetch(`${t.gw.httpUrl}/hl7`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.gw.adminToken}`, 'content-type': '' },
      body: MSG('NOCT1'),
    });
    assert.equal(res.status, 415, await res.text());
  });

  it('a read token moving an alias with an empty body gets 403, not 400', async () => {
    const res = await fetch(`${t.gw.httpUrl}/models/vitals-deterioration/aliases/shadow`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${readToken}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(res.status, 403, await res.text());
  });

  it('a read token with a malformed JSON body on a model change gets 403, not 400', async () => {
    for (const [method, path] of [
      ['PUT', '/models/vitals-deterioration/aliases/shadow'],
      ['POST', '/models/vitals-deterioration/versions/1.0.0/approve'],
      ['POST', '/models/Bad_Name/versions'],
      ['POST', '/v2/models/vitals-deterioration/infer'],
      ['POST', '/subscriptions'],
      ['POST', '/replay'],
    ] as const) {
      const res = await fetch(`${t.gw.httpUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${readToken}`, 'content-type': 'application/json' },
        body: '{not json',
      });
      assert.equal(res.status, 403, `${method} ${path}: ${res.status} ${await res.text()}`);
    }
  });

  it('an admin moving an alias with an empty body still gets 400 naming the field', async () => {
    const res = await fetch(`${t.gw.httpUrl}/models/vitals-deterioration/aliases/shadow`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${t.gw.adminToken}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /version/);
  });
});
