/**
 * Who may call the HTTP API, and over what: the bearer tokens in force (admin token or its hash,
 * scoped tokens from the config and from `tokensFile`, re-read without a restart) and the HTTPS
 * files (re-read on renewal). Called once from app.ts.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Server as TlsServer } from 'node:tls';
import type { GatewayConfig } from '../config/schema.js';
import { watchTlsFiles } from '../mllp/tls.js';
import type { Logger } from '../observability/logger.js';
import { createAuthenticator, type ScopedTokenConfig } from '../security/auth.js';
import type { HttpServerOptions } from './server.js';
import { watchTokensFile } from './tokens-file.js';

export interface TokenAccess {
  authenticate: HttpServerOptions['authenticate'];
  /** Reads `tokensFile` again (SIGHUP); false when it is invalid and the tokens in force stay. */
  reload(): boolean;
  close(): void;
}

/**
 * `self` is the token the gateway's own calls carry (to its embedded FHIR store): the admin token,
 * or, when only its hash is configured, a per-process internal token with every scope.
 */
export function createTokenAccess(
  config: GatewayConfig,
  base: string,
  self: { token: string; internal?: true },
  logger: Logger,
): TokenAccess {
  let fileTokens: ScopedTokenConfig[] = [];
  const build = () =>
    createAuthenticator(config.adminTokenSha256 ? { sha256: config.adminTokenSha256 } : self.token, [
      ...(self.internal ? [{ name: 'gateway', token: self.token, scopes: ['admin' as const] }] : []),
      ...config.tokens,
      ...fileTokens,
    ]);
  let current = build();
  // Rotation without restart: a new set of hashes takes effect for the next request.
  const watch = config.tokensFile
    ? watchTokensFile(
        resolve(base, config.tokensFile),
        (tokens) => {
          fileTokens = tokens;
          current = build();
        },
        logger,
      )
    : undefined;
  return {
    authenticate: (header) => current(header),
    reload: () => watch?.reload() ?? true,
    close: () => watch?.close(),
  };
}

/** The HTTPS options of createHttpServer from `http.tls`, paths relative to `base`. */
export function httpsOptions(config: GatewayConfig, base: string): Pick<HttpServerOptions, 'tls'> {
  const tls = config.http.tls;
  if (!tls) return {};
  return {
    tls: {
      cert: readFileSync(resolve(base, tls.cert)),
      key: readFileSync(resolve(base, tls.key)),
      ...(tls.ca ? { ca: readFileSync(resolve(base, tls.ca)) } : {}),
      requestCert: tls.requestClientCert || tls.requireClientCert,
      rejectUnauthorized: tls.requireClientCert,
    },
  };
}

/** Swaps the HTTPS server's certificate when the files change; returns the function that stops. */
export function watchHttpsFiles(
  config: GatewayConfig,
  base: string,
  server: unknown,
  logger: Logger,
): () => void {
  const tls = config.http.tls;
  if (!tls) return () => {};
  const files = {
    ...tls,
    cert: resolve(base, tls.cert),
    key: resolve(base, tls.key),
    ...(tls.ca ? { ca: resolve(base, tls.ca) } : {}),
  };
  return watchTlsFiles(files, (ctx) => (server as TlsServer).setSecureContext(ctx), logger, 'http');
}
