import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../config/load.js';

/** Where the running gateway answers and which token to show it. */
export interface ApiTarget {
  base: string;
  token: string;
}

/**
 * The gateway's HTTP API (--url, else http://HOST:HTTP_PORT) and a token: --token, else
 * GATEWAY_TOKEN (a scoped token), else the admin token (GATEWAY_ADMIN_TOKEN or DATA_DIR/admin-token).
 */
export function resolveApi(url?: string, token?: string): ApiTarget {
  const config = loadConfig();
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const base = (url ?? `http://${host}:${config.http.port}`).replace(/\/$/, '');
  let t = token ?? process.env.GATEWAY_TOKEN ?? config.adminToken;
  const file = join(resolve(config.dataDir), 'admin-token');
  if (!t && existsSync(file)) t = readFileSync(file, 'utf8').trim();
  if (!t)
    throw new Error(
      `no token: pass --token, set GATEWAY_TOKEN or GATEWAY_ADMIN_TOKEN, or start the gateway once to create ${file}`,
    );
  return { base, token: t };
}

/** One JSON request; answers the status and the parsed body (null when none). */
export async function callApi(
  api: ApiTarget,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  let res: Response;
  try {
    res = await fetch(`${api.base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${api.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (e) {
    throw new Error(`cannot reach the gateway at ${api.base}: ${(e as Error).message}`);
  }
  return { status: res.status, body: await res.json().catch(() => null) };
}

/** The `{error:{code,message}}` of a failed call, as one line. */
export function apiError(status: number, body: unknown): string {
  const e = (body as { error?: { code?: string; message?: string } } | null)?.error;
  return e ? `${e.code}: ${e.message}` : `gateway answered ${status}`;
}
