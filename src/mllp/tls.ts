import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Logger } from '../observability/logger.js';
import { errorInfo } from '../observability/logger.js';

/** TLS for an MLLP listener or client: PEM file paths. */
export interface MllpTlsFiles {
  cert: string;
  key: string;
  /** CA bundle clients (or, for a client, the server) are verified against. */
  ca?: string;
  /** Ask clients for a certificate (mutual TLS) ... */
  requestClientCert?: boolean;
  /** ... and refuse the connection without a valid one. */
  requireClientCert?: boolean;
  /** How often the files are checked for changes, ms. */
  reloadCheckMs?: number;
}

export function readTlsContext(f: MllpTlsFiles): SecureContext {
  return createSecureContext({
    cert: readFileSync(f.cert),
    key: readFileSync(f.key),
    ...(f.ca ? { ca: readFileSync(f.ca) } : {}),
  });
}

/**
 * Loads the certificate, key and CA now and again whenever one of the files changes (a renewed
 * certificate, a rotated CA), without a restart: `apply` swaps the context of the running server, so
 * new handshakes use the new files and open connections carry on. A half-written or mismatched set
 * is logged and the previous context kept. Returns a function that stops watching.
 */
export function watchTlsFiles(
  f: MllpTlsFiles,
  apply: (ctx: { cert: Buffer; key: Buffer; ca?: Buffer }) => void,
  logger: Logger,
  listener: 'mllp' | 'http' = 'mllp',
): () => void {
  const load = () => ({
    cert: readFileSync(f.cert),
    key: readFileSync(f.key),
    ...(f.ca ? { ca: readFileSync(f.ca) } : {}),
  });
  apply(load());
  const files = [f.cert, f.key, ...(f.ca ? [f.ca] : [])];
  const interval = f.reloadCheckMs ?? 5000;
  const onChange = (cur: { mtimeMs: number }, prev: { mtimeMs: number }) => {
    if (cur.mtimeMs === prev.mtimeMs) return;
    try {
      const ctx = load();
      createSecureContext(ctx); // throws when key and certificate do not match
      apply(ctx);
      logger.info({ files: files.length, listener }, `${listener} tls files reloaded`);
    } catch (err) {
      logger.error(
        { err: errorInfo(err), listener },
        `${listener} tls reload failed; keeping the previous certificate`,
      );
    }
  };
  for (const file of files) watchFile(file, { interval, persistent: false }, onChange);
  return () => {
    for (const file of files) unwatchFile(file, onChange);
  };
}
