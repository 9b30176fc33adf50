/**
 * Scoped tokens in a file of their own (`tokensFile`, e.g. a mounted Kubernetes Secret), so that
 * tokens are rotated without a restart: the file is re-read when it changes (polled, as the TLS
 * files are) and on SIGHUP. Hashes only: an entry with the token itself is refused. A file that
 * cannot be read or is invalid is logged (file, key, why; never a value) and the tokens already in
 * force stay; a file that does not exist (an optional Secret not created) means no tokens from it.
 */
import { existsSync, readFileSync, unwatchFile, watchFile } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../config/load.js';
import { scopedToken } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { ScopedTokenConfig } from '../security/auth.js';

const fileSchema = z.union([z.array(scopedToken), z.object({ tokens: z.array(scopedToken) }).strict()]);

/** Reads and validates the file; throws ConfigError naming the file and the key. */
export function readTokensFile(file: string): ScopedTokenConfig[] {
  if (!existsSync(file)) return [];
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, 'utf8')) ?? [];
  } catch (err) {
    throw new ConfigError(file, [
      { path: '', message: `not YAML or JSON: ${(err as Error).message.split('\n')[0]}` },
    ]);
  }
  const list = Array.isArray(raw) ? raw : (raw as { tokens?: unknown })?.tokens;
  if (Array.isArray(list)) {
    const clear = list.flatMap((t, i) => (t && typeof t === 'object' && 'token' in t ? [i] : []));
    if (clear.length > 0)
      throw new ConfigError(
        file,
        clear.map((i) => ({
          path: `tokens.${i}.token`,
          message: "hashes only: give the token's SHA-256 as `sha256`",
        })),
      );
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success)
    throw new ConfigError(
      file,
      parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
    );
  const tokens = Array.isArray(parsed.data) ? parsed.data : parsed.data.tokens;
  const names = tokens.map((t) => t.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new ConfigError(file, [{ path: 'tokens', message: `token name '${twice}' given twice` }]);
  return tokens;
}

export interface TokensFileWatch {
  /** Reads the file again now (SIGHUP); answers whether the new set is in force. */
  reload(): boolean;
  close(): void;
}

/**
 * Reads the file now (an invalid file at start stops start-up, as an invalid config does) and
 * calls `apply` with each valid new set after a change.
 */
export function watchTokensFile(
  file: string,
  apply: (tokens: ScopedTokenConfig[]) => void,
  logger: Logger,
  intervalMs = 5000,
): TokensFileWatch {
  apply(readTokensFile(file));
  if (!existsSync(file)) logger.warn({ file }, 'tokens file not found: no tokens from it until it appears');
  const reload = () => {
    try {
      const tokens = readTokensFile(file);
      apply(tokens);
      logger.info({ file, tokens: tokens.length }, 'tokens file reloaded');
      return true;
    } catch (err) {
      const issues =
        err instanceof ConfigError ? err.issues : [{ path: '', message: (err as Error).message }];
      logger.error({ file, issues }, 'tokens file invalid; keeping the tokens in force');
      return false;
    }
  };
  const onChange = (cur: { mtimeMs: number; ino: number }, prev: { mtimeMs: number; ino: number }) => {
    // A Kubernetes Secret volume swaps a symlink: the inode changes, the mtime may not.
    if (cur.mtimeMs !== prev.mtimeMs || cur.ino !== prev.ino) reload();
  };
  watchFile(file, { interval: intervalMs, persistent: false }, onChange);
  return { reload, close: () => unwatchFile(file, onChange) };
}
