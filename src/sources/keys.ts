import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The gateway's signing key for SMART Backend Services (private_key_jwt client assertions):
 * the PEM file named in config (`smart.privateKeyFile`), else DATA_DIR/smart-key.pem generated at
 * the first start (RSA 2048 for RS384, P-384 for ES384, mode 0600). Its public half is published
 * as a JWKS (GET /.well-known/jwks.json, `gateway keys`) for the EHR's app registration.
 */

export type SigningAlg = 'RS384' | 'ES384';

export interface SigningKey {
  alg: SigningAlg;
  /** RFC 7638 thumbprint of the public key (base64url SHA-256). */
  kid: string;
  privateKey: KeyObject;
  publicJwk: JsonWebKey;
  file: string;
}

/** RFC 7638 JWK thumbprint over the required members in lexicographic order. */
export function jwkThumbprint(jwk: JsonWebKey): string {
  const members =
    jwk.kty === 'RSA'
      ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
      : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

function algOf(key: KeyObject): SigningAlg {
  if (key.asymmetricKeyType === 'rsa') return 'RS384';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1') return 'ES384';
  throw new Error('the SMART signing key must be RSA (RS384) or EC P-384 (ES384)');
}

export function loadSigningKey(opts: { dataDir: string; file?: string; alg?: SigningAlg }): SigningKey {
  const file = opts.file ?? join(opts.dataDir, 'smart-key.pem');
  if (!existsSync(file)) {
    if (opts.file) throw new Error(`SMART private key file not found: ${opts.file}`);
    mkdirSync(opts.dataDir, { recursive: true });
    const { privateKey } =
      (opts.alg ?? 'RS384') === 'ES384'
        ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  const privateKey = createPrivateKey(readFileSync(file));
  const alg = algOf(privateKey);
  if (opts.alg && opts.alg !== alg)
    throw new Error(`the SMART key in ${file} is for ${alg}, not ${opts.alg}`);
  const publicJwk = createPublicKey(privateKey).export({ format: 'jwk' });
  return { alg, kid: jwkThumbprint(publicJwk), privateKey, publicJwk, file };
}

/** The JWKS of the public key, as an EHR fetches it (`jwks_uri`) or an admin uploads it. */
export function jwks(key: SigningKey): { keys: JsonWebKey[] } {
  return { keys: [{ ...key.publicJwk, kid: key.kid, alg: key.alg, use: 'sig', key_ops: ['verify'] }] };
}
