import { createPublicKey, type JsonWebKey, randomBytes, verify } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Database } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open.js';
import { registerFhirRoutes } from '../../src/fhir-server/routes.js';
import { createFhirStore, type FhirStore } from '../../src/fhir-server/store.js';

/**
 * A stand-in EHR for tests: a SMART Backend Services token endpoint that really verifies the
 * client assertion (RS384/ES384 signature against the client's JWKS URL, iss/sub, aud, exp, jti
 * once) and the embedded FHIR R4 store behind a bearer check of the tokens it issued.
 */

export interface SourceServer {
  url: string;
  fhirUrl: string;
  tokenUrl: string;
  store: FhirStore;
  /** Token requests with a valid assertion / refused. */
  tokensIssued: number;
  tokensRefused: number;
  /** FHIR requests refused for a missing or unknown bearer token. */
  unauthorized: number;
  close(): Promise<void>;
}

const b64json = (s: string) =>
  JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Record<string, unknown>;

export async function startSourceServer(o: {
  clientId: string;
  /** Where the client's public keys are (resolved at each token request). */
  jwksUrl: () => string;
}): Promise<SourceServer> {
  const db: Database = await openDatabase({ dataDir: mkdtempSync(join(tmpdir(), 'src-')) });
  const store = createFhirStore(db);
  const app: FastifyInstance = Fastify({ logger: false });
  const tokens = new Set<string>();
  const jtis = new Set<string>();
  const state = { tokensIssued: 0, tokensRefused: 0, unauthorized: 0 };
  let url = '';

  async function checkAssertion(form: Record<string, string>): Promise<string | undefined> {
    if (form.grant_type !== 'client_credentials') return 'unsupported_grant_type';
    if (form.client_assertion_type !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
      return 'invalid_client';
    const [h, p, s] = (form.client_assertion ?? '').split('.');
    if (!h || !p || !s) return 'invalid_client';
    const header = b64json(h);
    const payload = b64json(p);
    if (header.alg !== 'RS384' && header.alg !== 'ES384') return 'invalid_client';
    const set = (await (await fetch(o.jwksUrl())).json()) as { keys: Array<JsonWebKey & { kid?: string }> };
    const jwk = set.keys.find((k) => k.kid === header.kid);
    if (!jwk) return 'invalid_client';
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    const ok = verify(
      'sha384',
      Buffer.from(`${h}.${p}`),
      header.alg === 'ES384' ? { key, dsaEncoding: 'ieee-p1363' } : key,
      Buffer.from(s, 'base64url'),
    );
    if (!ok) return 'invalid_client';
    const now = Math.floor(Date.now() / 1000);
    if (payload.iss !== o.clientId || payload.sub !== o.clientId) return 'invalid_client';
    if (payload.aud !== `${url}/auth/token`) return 'invalid_client';
    if (typeof payload.exp !== 'number' || payload.exp < now || payload.exp > now + 300)
      return 'invalid_client';
    if (typeof payload.jti !== 'string' || jtis.has(payload.jti)) return 'invalid_client';
    jtis.add(payload.jti);
    return undefined;
  }

  app.register(async (scope) => {
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string' },
      (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    scope.post('/auth/token', async (req, reply) => {
      const error = await checkAssertion(req.body as Record<string, string>);
      if (error) {
        state.tokensRefused++;
        return reply.status(401).send({ error });
      }
      state.tokensIssued++;
      const token = randomBytes(24).toString('base64url');
      tokens.add(token);
      return { access_token: token, token_type: 'bearer', expires_in: 300, scope: 'system/*.read' };
    });
  });
  app.register(async (scope) => {
    scope.addHook('onRequest', async (req, reply) => {
      const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
      if (!m || !tokens.has(m[1]!)) {
        state.unauthorized++;
        return reply
          .status(401)
          .send({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] });
      }
    });
    registerFhirRoutes(scope, store, { prefix: '/fhir', baseUrl: () => `${url}/fhir` });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return {
    url,
    fhirUrl: `${url}/fhir`,
    tokenUrl: `${url}/auth/token`,
    store,
    get tokensIssued() {
      return state.tokensIssued;
    },
    get tokensRefused() {
      return state.tokensRefused;
    },
    get unauthorized() {
      return state.unauthorized;
    },
    async close() {
      await app.close();
      await db.close();
    },
  };
}
