import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { createHttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/observability/logger.js';
import { makeTestPki } from '../helpers/certs.js';
import { predictions, sendMllp, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const newToken = () => randomBytes(24).toString('base64url');
const get = (url: string, token?: string, headers: Record<string, string> = {}) =>
  fetch(url, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
const until = async (check: () => Promise<boolean>, what: string, ms = 5000) => {
  const end = Date.now() + ms;
  while (!(await check())) {
    assert.ok(Date.now() < end, what);
    await new Promise((r) => setTimeout(r, 50));
  }
};

/** One gateway for the checks below: the admin token as a hash, a tokens file, CORS and limits. */
describe('HTTP security of a running gateway', () => {
  const admin = newToken();
  const dir = mkdtempSync(join(tmpdir(), 'gw-tokens-'));
  const file = join(dir, 'tokens.yaml');
  const [oldT, newT] = [newToken(), newToken()];
  const write = (entries: Array<[string, string]>) =>
    writeFileSync(
      file,
      `tokens:\n${entries.map(([n, t]) => `  - name: ${n}\n    sha256: ${sha(t)}\n    scopes: [read]\n`).join('')}`,
    );
  let t: TestGateway;
  before(async () => {
    write([['reader-2026-11', oldT]]);
    t = await startTestGateway({
      database: 'pglite',
      config: {
        adminTokenSha256: sha(admin),
        tokensFile: file,
        http: {
          port: 0,
          bodyLimits: { '/ingest/fhir': 2048 },
          cors: { origins: ['https://console.hospital.example'] },
        },
      },
    });
  });
  after(() => t.dispose());

  it('GATEWAY_ADMIN_TOKEN_SHA256: the hash authenticates, nothing is written to DATA_DIR, results are written', async () => {
    const config = loadConfig({ GATEWAY_ADMIN_TOKEN_SHA256: sha(admin) }, mkdtempSync(join(tmpdir(), 'gw-')));
    assert.equal(config.adminTokenSha256, sha(admin));
    assert.equal((await get(`${t.gw.httpUrl}/lineage/verify`, admin)).status, 200);
    assert.equal((await get(`${t.gw.httpUrl}/lineage/verify`, newToken())).status, 401);
    assert.equal(existsSync(join(t.dataDir, 'admin-token')), false, 'no token generated or kept');
    // The gateway writes to its embedded store with a token of its own, not the admin's.
    assert.equal(msaCode(await sendMllp(t.gw.mllpPort, vitalsOru({ controlId: 'SHA-1', mrn: 'SH1' }))), 'AA');
    await t.gw.idle();
    assert.equal((await predictions(t.gw.httpUrl, admin, 'vitals-deterioration', 'SH1')).length, 1);
  });

  it('tokensFile: a changed file takes effect at once; an invalid one keeps the tokens in force', async () => {
    const status = async (token: string) => (await get(`${t.gw.httpUrl}/lineage/verify`, token)).status;
    assert.equal(await status(oldT), 200);
    assert.equal(await status(newT), 401);
    // Rotation: both for a while, then the old one goes. SIGHUP (reloadTokens) reads it at once.
    write([
      ['reader-2026-11', oldT],
      ['reader-2026-12', newT],
    ]);
    assert.equal(t.gw.reloadTokens(), true);
    assert.equal(await status(newT), 200);
    assert.equal(await status(oldT), 200);
    write([['reader-2026-12', newT]]);
    await until(async () => (await status(oldT)) === 401, 'the file is re-read when it changes', 10_000);
    assert.equal(await status(newT), 200);
    // A broken file (half-written, or a token in clear) changes nothing.
    writeFileSync(file, `tokens:\n  - name: bad\n    token: ${newToken()}\n    scopes: [read]\n`);
    assert.equal(t.gw.reloadTokens(), false);
    assert.equal(await status(newT), 200, 'the tokens in force stay');
  });

  it('sets CSP and the other security headers', async () => {
    const res = await get(`${t.gw.httpUrl}/health/live`);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /style-src 'self' 'unsafe-inline'/);
    assert.match(csp, /img-src 'self' data:/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /script-src[^;]*unsafe-inline/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.ok(res.headers.get('strict-transport-security'));
  });

  it('CORS: the configured origin only', async () => {
    const preflight = (origin: string) =>
      fetch(`${t.gw.httpUrl}/lineage/verify`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'GET' },
      });
    const ok = await preflight('https://console.hospital.example');
    assert.ok(ok.status < 300, `preflight answered ${ok.status}`);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://console.hospital.example');
    assert.equal((await preflight('https://evil.example')).headers.get('access-control-allow-origin'), null);
    const other = await get(`${t.gw.httpUrl}/lineage/verify`, admin, { origin: 'https://evil.example' });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });

  it('a route of its own body limit answers 413 above it; other routes keep theirs', async () => {
    const big = JSON.stringify({
      resourceType: 'Bundle',
      type: 'collection',
      entry: [],
      pad: 'x'.repeat(4096),
    });
    const res = await fetch(`${t.gw.httpUrl}/ingest/fhir`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/fhir+json' },
      body: big,
    });
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { resourceType: string }).resourceType, 'OperationOutcome');
    const hl7 = await fetch(`${t.gw.httpUrl}/hl7`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/hl7-v2' },
      body: vitalsOru({ controlId: 'LIMIT-1', mrn: 'L1' }).padEnd(4096, '\r'),
    });
    assert.notEqual(hl7.status, 413);
  });
});

describe('configuration refused at start', () => {
  it('a token in clear in the config file or GATEWAY_TOKENS, naming the key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, `tokens:\n  - name: mirth\n    scopes: [ingest]\n    token: ${newToken()}\n`);
    assert.throws(
      () => loadConfig({ GATEWAY_CONFIG: file }, dir),
      (e: unknown) =>
        e instanceof ConfigError && e.file === file && /tokens\.0\.token \(line 4\).*SHA-256/.test(e.message),
    );
    const elsewhere = mkdtempSync(join(tmpdir(), 'gw-'));
    const env = JSON.stringify([{ name: 'mirth', token: newToken(), scopes: ['ingest'] }]);
    assert.throws(() => loadConfig({ GATEWAY_TOKENS: env }, elsewhere), /environment.*tokens\.0\.token/s);
    const hashed = JSON.stringify([{ name: 'mirth', sha256: sha(newToken()), scopes: ['ingest'] }]);
    assert.equal(loadConfig({ GATEWAY_TOKENS: hashed }, elsewhere).tokens.length, 1);
    assert.throws(
      () => loadConfig({ GATEWAY_ADMIN_TOKEN: newToken(), GATEWAY_ADMIN_TOKEN_SHA256: sha('x') }, elsewhere),
      /adminTokenSha256: give the admin token or its SHA-256, not both/,
    );
  });

  it('a body limit for a route that does not exist', async () => {
    const app = createHttpServer({
      bodyLimitBytes: 1 << 20,
      bodyLimits: { '/ingest/fhirr': 2048 },
      logger: createLogger('silent'),
      authenticate: () => 'missing',
    });
    app.post('/ingest/fhir', async () => ({}));
    await assert.rejects(async () => app.ready(), /http\.bodyLimits: no route \/ingest\/fhirr/);
  });
});

describe('HTTPS built in (http.tls)', () => {
  it('serves HTTPS and presents a renewed certificate without a restart', async () => {
    const pki = makeTestPki();
    const cert = join(pki.dir, 'http.pem');
    const key = join(pki.dir, 'http.key');
    copyFileSync(pki.serverCert, cert);
    copyFileSync(pki.serverKey, key);
    const t = await startTestGateway({
      database: 'pglite',
      config: {
        http: { port: 0, tls: { cert, key, reloadCheckMs: 100 } },
        fhir: { baseUrl: 'http://127.0.0.1:9/fhir' },
      },
    });
    const peer = (path: string) =>
      new Promise<{ status: number; cn: string }>((resolve, reject) => {
        const req = request(`${t.gw.httpUrl}${path}`, { ca: [readFileSync(pki.ca)], agent: false }, (res) => {
          const cn = String(
            (res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN ?? '',
          );
          res.resume();
          resolve({ status: res.statusCode ?? 0, cn });
        });
        req.once('error', reject);
        req.end();
      });
    const peerHeaders = (path: string) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const req = request(
          `${t.gw.httpUrl}${path}`,
          { ca: [readFileSync(pki.ca)], agent: false, headers: { origin: 'https://evil.example' } },
          (res) => {
            res.resume();
            resolve(res.headers);
          },
        );
        req.once('error', reject);
        req.end();
      });
    try {
      assert.match(t.gw.httpUrl, /^https:\/\//);
      const plain = await peerHeaders('/health/live');
      assert.equal(plain['access-control-allow-origin'], undefined, 'CORS is off by default');
      assert.deepEqual(await peer('/health/live'), { status: 200, cn: 'gateway-a' });
      pki.issueServer('gateway-b', cert, key);
      const end = Date.now() + 5000;
      let now = await peer('/health/live');
      while (now.cn !== 'gateway-b' && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 100));
        now = await peer('/health/live');
      }
      assert.deepEqual(now, { status: 200, cn: 'gateway-b' }, 'new connections get the renewed certificate');
    } finally {
      await t.dispose();
    }
    assert.throws(
      () => loadConfig({ GATEWAY_CONFIG: writeYaml(`http:\n  tls:\n    cert: ${cert}\n    key: ${key}\n`) }),
      /http\.tls \(line \d+\): HTTPS needs an external FHIR server/,
    );
  });
});

function writeYaml(text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'gw-')), 'gateway.yaml');
  writeFileSync(f, text);
  return f;
}
