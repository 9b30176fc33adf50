import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const ALL_SCOPES = ['admin', 'read', 'ingest', 'infer', 'replay', 'models:approve'] as const;
export type Scope = (typeof ALL_SCOPES)[number];

export interface Principal {
  name: string;
  scopes: ReadonlySet<Scope>;
}

export interface AdminToken {
  token: string;
  /** Where it was read from or written to; undefined when given by the environment. */
  file?: string;
  generated: boolean;
}

/**
 * The admin token: GATEWAY_ADMIN_TOKEN when set; otherwise the one kept in DATA_DIR/admin-token,
 * generated (256 random bits, file mode 0600) at the first start.
 */
export function resolveAdminToken(configured: string | undefined, dataDir: string): AdminToken {
  if (configured) return { token: configured, generated: false };
  const file = join(dataDir, 'admin-token');
  if (existsSync(file)) return { token: readFileSync(file, 'utf8').trim(), file, generated: false };
  mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(32).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { token, file, generated: true };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Checks `Authorization: Bearer <token>` in constant time; undefined when not authenticated. */
export function createAuthenticator(adminToken: string) {
  const admin = digest(adminToken);
  const principal: Principal = { name: 'admin', scopes: new Set(ALL_SCOPES) };
  return (authorization: string | undefined): Principal | 'missing' | 'invalid' => {
    if (!authorization) return 'missing';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!m) return 'invalid';
    return timingSafeEqual(digest(m[1]!), admin) ? principal : 'invalid';
  };
}
