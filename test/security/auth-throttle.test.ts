import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { type Gateway, startGateway } from '../../src/app.js';
import { configSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/observability/logger.js';
import { createAuthThrottle } from '../../src/security/auth-throttle.js';

/**
 * Token guessing is slowed (issue 12 item 5): beyond `http.authThrottle.maxFailures` failed
 * authentications from one address, that address gets 429 with Retry-After, logged once and
 * counted; a valid token from another address is never slowed. /health/ready shows error details
 * only to a caller with a valid token.
 */

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** GET from a chosen loopback source address (127.0.0.0/8 is all loopback on Linux). */
function get(url: string, from: string, token?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { localAddress: from, headers: token ? { authorization: `Bearer ${token}` } : {} },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('failed authentication is slowed per address', () => {
  let gw: Gateway;
  const lines: Array<Record<string, unknown>> = [];

  before(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        done();
      },
    });
    const config = configSchema.parse({
      dataDir: mkdtempSync(join(tmpdir(), 'gw-')),
      mllp: { port: 0 },
      http: { port: 0, authThrottle: { maxFailures: 5, windowMs: 60_000 } },
      // A FHIR target that is down: /health/ready has an error text that names host and port.
      fhir: { baseUrl: 'http://127.0.0.1:9/fhir' },
      log: { level: 'warn' },
    });
    gw = await startGateway(config, { logger: createLogger('warn', sink) });
  });
  after(async () => gw?.close());

  it('401 up to the limit, then 429 with Retry-After; logged once; counted', async () => {
    const url = `${gw.httpUrl}/lineage/verify`;
    for (let i = 0; i < 5; i++) assert.equal((await get(url, '127.0.0.1', `guess-${i}`)).status, 401);
    for (let i = 0; i < 20; i++) {
      const r = await get(url, '127.0.0.1', `guess-more-${i}`);
      assert.equal(r.status, 429, r.body);
      const wait = Number(r.headers['retry-after']);
      assert.ok(wait >= 1 && wait <= 60, `Retry-After ${r.headers['retry-after']}`);
      assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'GW_AUTH_THROTTLED');
    }
    // The guessing address is slowed whatever it sends, so a guess that happens to be right tells nothing.
    assert.equal((await get(url, '127.0.0.1', gw.adminToken)).status, 429);
    const alerts = lines.filter((l) => l.alert === 'auth-failures');
    assert.equal(alerts.length, 1, 'logged once per address and window');
    assert.equal(alerts[0]!.address, '127.0.0.1');
    const metrics = (await get(`${gw.httpUrl}/metrics`, '127.0.0.3')).body;
    assert.match(metrics, /gateway_http_auth_failures_total\{outcome="rejected"\} 5/);
    assert.match(metrics, /gateway_http_auth_failures_total\{outcome="throttled"\} 21/);
  });

  it('a valid token from another address is never slowed', async () => {
    const r = await get(`${gw.httpUrl}/lineage/verify`, '127.0.0.2', gw.adminToken);
    assert.equal(r.status, 200, r.body);
  });

  it('/health/ready shows error details only with a valid token', async () => {
    const open = await get(`${gw.httpUrl}/health/ready`, '127.0.0.4');
    assert.equal(open.status, 503);
    assert.doesNotMatch(open.body, /127\.0\.0\.1|:9\b|error|ECONNREFUSED|fetch failed/);
    const checks = (JSON.parse(open.body) as { checks: Record<string, { status: string }> }).checks;
    assert.equal(checks.fhir?.status, 'down');
    assert.equal(checks.database?.status, 'up');
    assert.deepEqual(Object.keys(checks.database!), ['status']);
    const authed = await get(`${gw.httpUrl}/health/ready`, '127.0.0.4', gw.adminToken);
    assert.equal(authed.status, 503);
    const c = (JSON.parse(authed.body) as { checks: Record<string, { status: string; error?: string }> })
      .checks;
    assert.ok(c.fhir?.error, authed.body);
    // A wrong token on the public route is a failed authentication too, and shows nothing more.
    const wrong = await get(`${gw.httpUrl}/health/ready`, '127.0.0.4', 'not-the-token');
    assert.equal(wrong.status, 503);
    assert.doesNotMatch(wrong.body, /error/);
  });
});

describe('auth throttle (pure)', () => {
  it('a window ends: the address may try again', () => {
    let t = 0;
    let reported = 0;
    const th = createAuthThrottle({
      maxFailures: 2,
      windowMs: 10_000,
      now: () => t,
      onThrottled: () => reported++,
    });
    th.failed('a');
    th.failed('a');
    assert.equal(th.retryAfter('a'), 10);
    assert.equal(th.retryAfter('b'), 0);
    t = 4_500;
    assert.equal(th.retryAfter('a'), 6);
    t = 10_000;
    assert.equal(th.retryAfter('a'), 0);
    th.failed('a');
    th.failed('a');
    assert.ok(th.retryAfter('a') > 0);
    assert.equal(reported, 2, 'once per address and window');
  });

  it('maxFailures 0 turns it off; the addresses remembered are bounded', () => {
    const off = createAuthThrottle({ maxFailures: 0, windowMs: 1000 });
    for (let i = 0; i < 100; i++) off.failed('a');
    assert.equal(off.retryAfter('a'), 0);
    const small = createAuthThrottle({ maxFailures: 1, windowMs: 60_000, maxAddresses: 2 });
    small.failed('a');
    small.failed('b');
    small.failed('c');
    assert.equal(small.retryAfter('a'), 0, 'the oldest was forgotten');
    assert.ok(small.retryAfter('c') > 0);
  });
});
