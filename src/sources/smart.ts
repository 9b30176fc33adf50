import { randomUUID, sign } from 'node:crypto';
import { GatewayError } from '../errors/codes.js';
import { retryForStatus } from '../errors/retry.js';
import type { SigningKey } from './keys.js';

/**
 * SMART Backend Services (OAuth 2.0 client credentials, `private_key_jwt`): a client assertion
 * JWT signed RS384/ES384 is exchanged at the token endpoint for an access token, kept until
 * shortly before it expires.
 */

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** A signed client assertion (RFC 7523) for one token request. */
export function clientAssertion(
  key: SigningKey,
  clientId: string,
  tokenUrl: string,
  now = Date.now(),
): string {
  const header = { alg: key.alg, typ: 'JWT', kid: key.kid };
  const iat = Math.floor(now / 1000);
  const payload = { iss: clientId, sub: clientId, aud: tokenUrl, jti: randomUUID(), iat, exp: iat + 300 };
  const input = `${b64url(header)}.${b64url(payload)}`;
  const signature = sign(
    'sha384',
    Buffer.from(input),
    key.alg === 'ES384' ? { key: key.privateKey, dsaEncoding: 'ieee-p1363' } : key.privateKey,
  );
  return `${input}.${signature.toString('base64url')}`;
}

/** GW_SOURCE_FAILED at the token endpoint: `status` is its answer (0: none). */
export class TokenError extends GatewayError {
  override name = 'TokenError';
  constructor(message: string, status: number) {
    super('GW_SOURCE_FAILED', { status, retry: retryForStatus(status) }, message);
  }
}

export interface TokenProvider {
  /** A valid access token: the cached one, or a new one from the token endpoint. */
  token(): Promise<string>;
  /** Forget the cached token (the server answered 401). */
  invalidate(): void;
  /** Token requests made so far (tests, metrics). */
  readonly requests: number;
}

export interface SmartAuthOptions {
  tokenUrl: string;
  clientId: string;
  scope: string;
  key: SigningKey;
  timeoutMs: number;
  /** Renew this long before `expires_in` runs out. */
  skewMs?: number;
  now?: () => number;
}

export function createTokenProvider(o: SmartAuthOptions): TokenProvider {
  const now = o.now ?? Date.now;
  let cached: { token: string; until: number } | undefined;
  let inflight: Promise<string> | undefined;
  let requests = 0;

  async function fetchToken(): Promise<string> {
    requests++;
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      scope: o.scope,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: clientAssertion(o.key, o.clientId, o.tokenUrl, now()),
    });
    let res: Response;
    try {
      res = await fetch(o.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        signal: AbortSignal.timeout(o.timeoutMs),
      });
    } catch (err) {
      throw new TokenError(`token endpoint unreachable: ${(err as Error).message}`, 0);
    }
    const json = (await res.json().catch(() => ({}))) as {
      access_token?: string;
      expires_in?: number;
      error?: string;
    };
    if (!res.ok || typeof json.access_token !== 'string')
      throw new TokenError(
        `token endpoint answered ${res.status}${json.error ? ` (${json.error})` : ''}`,
        res.status,
      );
    const ttlMs = (typeof json.expires_in === 'number' ? json.expires_in : 300) * 1000;
    cached = { token: json.access_token, until: now() + Math.max(0, ttlMs - (o.skewMs ?? 30_000)) };
    return json.access_token;
  }

  return {
    async token() {
      if (cached && now() < cached.until) return cached.token;
      inflight ??= fetchToken().finally(() => {
        inflight = undefined;
      });
      return inflight;
    },
    invalidate() {
      cached = undefined;
    },
    get requests() {
      return requests;
    },
  };
}
