import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { createAuthenticator, hasScope, requiredScope } from '../../src/security/auth.js';
import { createRawCipher, isSealed, parseKey, RawCipherError } from '../../src/security/raw-cipher.js';

const key = (id: string) => parseKey(id, randomBytes(32).toString('base64'));
const body = Buffer.from('MSH|^~\\&|LAB|HOSP|||20240301||ORU^R01|X1|P|2.5.1\rPID|1||MRN1\r');

describe('raw bodies at rest (AES-256-GCM)', () => {
  it('seals with the current key, names it, and opens again', () => {
    const c = createRawCipher(key('k1'));
    const sealed = c.seal(body);
    assert.ok(isSealed(sealed));
    assert.equal(sealed.subarray(5, 7).toString('ascii'), 'k1');
    assert.equal(sealed.indexOf(Buffer.from('MRN1')), -1, 'no clear text in the sealed body');
    assert.notDeepEqual(c.seal(body), sealed, 'a fresh IV every time');
    assert.deepEqual(c.open(sealed), body);
  });

  it('opens bodies sealed with a previous key after a rotation, and refuses unknown keys', () => {
    const k1 = key('k1');
    const old = createRawCipher(k1).seal(body);
    const rotated = createRawCipher(key('k2'), [k1]);
    assert.deepEqual(rotated.open(old), body);
    assert.equal(rotated.seal(body).subarray(5, 7).toString('ascii'), 'k2');
    assert.throws(() => createRawCipher(key('k2')).open(old), /key 'k1', which is not configured/);
  });

  it('detects one flipped byte, and a body moved to another key id', () => {
    const c = createRawCipher(key('k1'));
    const sealed = c.seal(body);
    for (const at of [sealed.length - 1, 20, 7]) {
      const bad = Buffer.from(sealed);
      bad[at]! ^= 1;
      assert.throws(() => c.open(bad), RawCipherError);
    }
  });

  it('passes bodies stored in clear (no key configured, or older rows) through', () => {
    const c = createRawCipher(undefined);
    assert.equal(c.currentKeyId, undefined);
    assert.deepEqual(c.seal(body), body);
    assert.deepEqual(createRawCipher(key('k1')).open(body), body);
  });

  it('config: a key must be 32 bytes of base64; the error does not echo it', () => {
    const short = randomBytes(16).toString('base64');
    const r = configSchema.safeParse({ encryption: { key: short } });
    assert.equal(r.success, false);
    assert.ok(!JSON.stringify(r.error?.issues).includes(short));
    assert.match(JSON.stringify(r.error?.issues), /32 bytes/);
    assert.equal(
      configSchema.safeParse({ encryption: { key: randomBytes(32).toString('base64') } }).success,
      true,
    );
  });
});

describe('scoped bearer tokens', () => {
  const admin = 'a'.repeat(32);
  const replayToken = 'r'.repeat(32);
  const readToken = 'q'.repeat(32);
  const auth = createAuthenticator(admin, [
    { name: 'ops', token: replayToken, scopes: ['replay', 'read'] },
    { name: 'viewer', sha256: createHash('sha256').update(readToken).digest('hex'), scopes: ['read'] },
  ]);

  it('finds the principal by token or by its SHA-256, and refuses the rest', () => {
    const ops = auth(`Bearer ${replayToken}`);
    assert.ok(typeof ops === 'object' && ops.name === 'ops');
    const viewer = auth(`Bearer ${readToken}`);
    assert.ok(typeof viewer === 'object' && viewer.name === 'viewer');
    assert.equal(auth('Bearer nope-nope-nope-nope'), 'invalid');
    assert.equal(auth(undefined), 'missing');
    const a = auth(`Bearer ${admin}`);
    assert.ok(typeof a === 'object' && hasScope(a, 'replay') && hasScope(a, 'ingest'));
    assert.ok(typeof viewer === 'object' && !hasScope(viewer, 'replay'));
  });

  it('maps routes to scopes', () => {
    assert.equal(requiredScope('POST', '/replay'), 'replay');
    assert.equal(requiredScope('GET', '/replay/abc'), 'replay');
    assert.equal(requiredScope('POST', '/hl7'), 'ingest');
    assert.equal(requiredScope('GET', '/dead-letters?all=true'), 'read');
    assert.equal(requiredScope('POST', '/fhir'), 'admin');
  });
});
