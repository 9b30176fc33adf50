import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { GatewayError } from '../errors/codes.js';
import { configSchema, type GatewayConfig } from './schema.js';

/** GW_CONFIG_INVALID: the config file or environment is invalid (exit 2). */
export class ConfigError extends GatewayError {
  constructor(
    readonly file: string,
    readonly issues: Array<{ path: string; line?: number; message: string }>,
  ) {
    super(
      'GW_CONFIG_INVALID',
      file,
      issues
        .map((i) => `  ${i.path || '(root)'}${i.line ? ` (line ${i.line})` : ''}: ${i.message}`)
        .join('\n'),
    );
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (!next || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

/** Environment variables of the CONTRACT, each overriding one key of the file. */
const ENV_KEYS: Array<[string, string[], 'string' | 'port' | 'json' | 'keys']> = [
  ['HOST', ['host'], 'string'],
  ['MLLP_PORT', ['mllp', 'port'], 'port'],
  ['HTTP_PORT', ['http', 'port'], 'port'],
  ['DATA_DIR', ['dataDir'], 'string'],
  ['DATABASE_URL', ['databaseUrl'], 'string'],
  ['REDIS_URL', ['redisUrl'], 'string'],
  ['FHIR_BASE_URL', ['fhir', 'baseUrl'], 'string'],
  ['GATEWAY_ADMIN_TOKEN', ['adminToken'], 'string'],
  ['GATEWAY_ADMIN_TOKEN_SHA256', ['adminTokenSha256'], 'string'],
  ['GATEWAY_TOKENS_FILE', ['tokensFile'], 'string'],
  ['LOG_LEVEL', ['log', 'level'], 'string'],
  ['DATABASE_SCHEMA', ['databaseSchema'], 'string'],
  ['GATEWAY_TOKENS', ['tokens'], 'json'],
  ['GATEWAY_ENCRYPTION_KEY', ['encryption', 'key'], 'string'],
  ['GATEWAY_ENCRYPTION_KEY_ID', ['encryption', 'keyId'], 'string'],
  ['GATEWAY_ENCRYPTION_PREVIOUS_KEYS', ['encryption', 'previousKeys'], 'keys'],
];

/** Indexes of the entries of a `tokens` list that carry the token itself. */
function plaintextTokens(tokens: unknown): number[] {
  if (!Array.isArray(tokens)) return [];
  return tokens.flatMap((t, i) => (t && typeof t === 'object' && 'token' in t ? [i] : []));
}

/** `id=base64,id2=base64` -> { id: base64, ... } */
function parseKeyList(v: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const part of v.split(',').filter((p) => p.trim())) {
    const i = part.indexOf('=');
    if (i <= 0) return undefined;
    out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

function formatIssues(issues: z.core.$ZodIssue[], lineOf: (path: PropertyKey[]) => number | undefined) {
  return issues.flatMap((i) => {
    // An unknown key is reported at the key itself, so the line points at the typo.
    const keys = i.code === 'unrecognized_keys' ? i.keys : [undefined];
    return keys.map((k) => {
      const path = k === undefined ? i.path : [...i.path, k];
      return { path: path.map(String).join('.'), line: lineOf(path), message: i.message };
    });
  });
}

/**
 * Loads the YAML file (GATEWAY_CONFIG, else ./gateway.yaml if present, else defaults), applies the
 * environment on top, validates once against the strict schema and returns a frozen result.
 * A bad file throws ConfigError naming the file, the key path, the line and why.
 */
export function loadConfig(env: Env = process.env, cwd = process.cwd()): GatewayConfig & { source: string } {
  const explicit = env.GATEWAY_CONFIG;
  const file = explicit ? resolve(cwd, explicit) : resolve(cwd, 'gateway.yaml');
  let raw: Record<string, unknown> = {};
  let source = 'built-in defaults';
  let lineOf: (path: PropertyKey[]) => number | undefined = () => undefined;
  if (explicit && !existsSync(file)) throw new ConfigError(file, [{ path: '', message: 'file not found' }]);
  if (existsSync(file)) {
    source = file;
    const counter = new LineCounter();
    const doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter: counter, prettyErrors: false });
    if (doc.errors.length > 0) {
      throw new ConfigError(
        file,
        doc.errors.map((e) => ({ path: '', line: counter.linePos(e.pos[0]).line, message: e.message })),
      );
    }
    const value = doc.toJS() ?? {};
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new ConfigError(file, [{ path: '', message: 'expected a mapping of keys at the top level' }]);
    }
    raw = value as Record<string, unknown>;
    lineOf = (path) => {
      for (let n = path.length; n > 0; n--) {
        const node = doc.getIn(path.slice(0, n) as unknown[], true) as { range?: [number] } | undefined;
        const pair = n > 0 ? doc.getIn(path.slice(0, n - 1) as unknown[], true) : undefined;
        const range = node?.range ?? (pair as { range?: [number] } | undefined)?.range;
        if (range) return counter.linePos(range[0]).line;
      }
      return undefined;
    };
  }
  const envIssues: Array<{ path: string; message: string }> = [];
  for (const [name, path, kind] of ENV_KEYS) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    if (kind === 'port') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) {
        envIssues.push({ path: `$${name}`, message: `expected a port number, got '${v}'` });
        continue;
      }
      setPath(raw, path, n);
    } else if (kind === 'json') {
      try {
        setPath(raw, path, JSON.parse(v));
      } catch {
        // The value may hold secrets: say where, not what.
        envIssues.push({ path: `$${name}`, message: 'expected JSON' });
      }
    } else if (kind === 'keys') {
      const keys = parseKeyList(v);
      if (keys) setPath(raw, path, keys);
      else envIssues.push({ path: `$${name}`, message: 'expected id=base64key[,id=base64key...]' });
    } else setPath(raw, path, v);
  }
  if (envIssues.length > 0) throw new ConfigError('environment', envIssues);
  // Scoped tokens are kept as hashes only: a token in clear in a file or the environment is refused.
  const clear = plaintextTokens(raw.tokens);
  if (clear.length > 0) {
    const where = env.GATEWAY_TOKENS ? 'environment ($GATEWAY_TOKENS)' : source;
    throw new ConfigError(
      where,
      clear.map((i) => ({
        path: `tokens.${i}.token`,
        ...(env.GATEWAY_TOKENS ? {} : { line: lineOf(['tokens', i, 'token']) }),
        message: "store the token's SHA-256 as `sha256` (printf %s TOKEN | sha256sum), not the token",
      })),
    );
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(source, formatIssues(parsed.error.issues, lineOf));
  return deepFreeze({ ...parsed.data, source });
}
