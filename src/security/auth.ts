import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** `phi:read`: raw message text (GET /messages?raw=true); each view is recorded. */
export const ALL_SCOPES = [
  'admin',
  'read',
  'ingest',
  'infer',
  'replay',
  'models:approve',
  'phi:read',
] as const;
/** Per-model scopes (issue 5): `model:<name>:<action>`, `*` for every model. */
export const MODEL_ACTIONS = ['infer', 'read', 'approve', 'admin'] as const;
export type ModelAction = (typeof MODEL_ACTIONS)[number];
export type ModelScope = `model:${string}:${ModelAction}`;
export const MODEL_SCOPE = /^model:([a-z][a-z0-9-]*|\*):(infer|read|approve|admin)$/;
export type Scope = (typeof ALL_SCOPES)[number] | ModelScope;

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
  // Hex, not base64url: a token that starts with '-' reads as an option after `--token`.
  const token = randomBytes(32).toString('hex');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { token, file, generated: true };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** A configured token (config `tokens`, env GATEWAY_TOKENS): the token or its SHA-256 hex. */
export interface ScopedTokenConfig {
  name: string;
  token?: string | undefined;
  sha256?: string | undefined;
  scopes: readonly Scope[];
}

/**
 * Checks `Authorization: Bearer <token>` against the admin token (every scope; the token or its
 * SHA-256) and the scoped
 * tokens, comparing SHA-256 digests in constant time; undefined when not authenticated.
 */
export function createAuthenticator(
  adminToken: string | { sha256: string },
  tokens: readonly ScopedTokenConfig[] = [],
) {
  const known: Array<{ digest: Buffer; principal: Principal }> = [
    {
      digest: typeof adminToken === 'string' ? digest(adminToken) : Buffer.from(adminToken.sha256, 'hex'),
      principal: { name: 'admin', scopes: new Set(ALL_SCOPES) },
    },
    ...tokens.map((t) => ({
      digest: t.sha256 ? Buffer.from(t.sha256, 'hex') : digest(t.token ?? ''),
      principal: { name: t.name, scopes: new Set(t.scopes) },
    })),
  ];
  return (authorization: string | undefined): Principal | 'missing' | 'invalid' => {
    if (!authorization) return 'missing';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!m) return 'invalid';
    const d = digest(m[1]!);
    let found: Principal | undefined;
    // Every candidate is compared, so the time taken does not tell which one matched.
    for (const k of known) if (timingSafeEqual(d, k.digest) && !found) found = k.principal;
    return found ?? 'invalid';
  };
}

/** True when the principal holds the scope (`admin` holds every scope). */
export function hasScope(p: Principal | undefined, scope: Scope): boolean {
  return !!p && (p.scopes.has('admin') || p.scopes.has(scope));
}

/** What each model action needs among the global scopes. */
const GLOBAL_FOR: Record<ModelAction, Scope> = {
  read: 'read',
  infer: 'infer',
  approve: 'models:approve',
  admin: 'admin',
};

/**
 * True when the principal may do `action` on `model`: the global scope (`read`, `infer`,
 * `models:approve`, `admin`), or `model:<model>:<action>` / `model:*:<action>`. A model's `admin`
 * also covers its `read` and `infer`, never `approve` (approval stays a separate duty).
 */
export function hasModelScope(p: Principal | undefined, model: string, action: ModelAction): boolean {
  if (!p) return false;
  if (hasScope(p, GLOBAL_FOR[action])) return true;
  const names = [model, '*'];
  const actions: ModelAction[] = action === 'read' || action === 'infer' ? [action, 'admin'] : [action];
  return names.some((n) => actions.some((a) => p.scopes.has(`model:${n}:${a}`)));
}

/** Routes that check per-model scopes themselves (and audit each denial). */
export function checkedByRoute(url: string): boolean {
  const path = url.split('?')[0]!;
  return path === '/models' || path.startsWith('/models/') || path.startsWith('/v2/');
}

/**
 * The scope a request needs: `replay` for /replay, `ingest` to send messages in, `read` for any
 * other GET (and the message search sent as POST), `admin` for any other change (writes to the embedded FHIR store included).
 */
export function requiredScope(method: string, url: string): Scope {
  const path = url.split('?')[0]!;
  if (path === '/replay' || path.startsWith('/replay/')) return 'replay';
  if (method === 'POST' && (path === '/hl7' || path === '/ingest' || path.startsWith('/ingest/')))
    return 'ingest';
  if (method === 'GET' || method === 'HEAD') return 'read';
  if (method === 'POST' && path === '/messages/search') return 'read';
  return 'admin';
}
