import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { jwks, loadSigningKey } from '../sources/keys.js';
import { UsageError } from './usage-error.js';

/**
 * `gateway subscriptions create|status` (through the running gateway's API: the CLI never opens
 * the database) and `gateway keys` (the public JWKS of the SMART signing key, read from its file).
 */

const out = (s: string) => process.stdout.write(`${s}\n`);

function target(url: string | undefined) {
  const config = loadConfig();
  const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
  const base = (url ?? `http://${host}:${config.http.port}`).replace(/\/$/, '');
  let token = config.adminToken ?? process.env.GATEWAY_ADMIN_TOKEN;
  const file = join(resolve(config.dataDir), 'admin-token');
  if (!token && existsSync(file)) token = readFileSync(file, 'utf8').trim();
  if (!token)
    throw new Error(`no token: set GATEWAY_ADMIN_TOKEN or start the gateway once to create ${file}`);
  return { base, token };
}

async function call(base: string, token: string, method: string, path: string, body?: unknown) {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  } catch (e) {
    throw new Error(`cannot reach the gateway at ${base}: ${(e as Error).message}`);
  }
  return { status: res.status, body: (await res.json().catch(() => null)) as Record<string, unknown> | null };
}

export async function runSubscriptions(sub: string | undefined, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      source: { type: 'string' },
      topic: { type: 'string' },
      filter: { type: 'string' },
      endpoint: { type: 'string' },
      payload: { type: 'string' },
      heartbeat: { type: 'string' },
      header: { type: 'string' },
      reason: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const { base, token } = target(values.url);
  if (sub === 'create') {
    if (!values.source) throw new UsageError('subscriptions create needs --source NAME (config sources)');
    if (!values.topic) throw new UsageError('subscriptions create needs --topic URL (the SubscriptionTopic)');
    const heartbeat = values.heartbeat === undefined ? undefined : Number(values.heartbeat);
    if (heartbeat !== undefined && !(Number.isInteger(heartbeat) && heartbeat > 0))
      throw new UsageError(`invalid --heartbeat '${values.heartbeat}' (seconds)`);
    const payload = values.payload ?? 'id-only';
    if (!['empty', 'id-only', 'full-resource'].includes(payload))
      throw new UsageError(`invalid --payload '${payload}' (empty, id-only or full-resource)`);
    const r = await call(base, token, 'POST', '/subscriptions', {
      source: values.source,
      topic: values.topic,
      ...(values.filter ? { filter: values.filter } : {}),
      endpoint: values.endpoint ?? `${base}/ingest/fhir/subscription`,
      payload,
      ...(heartbeat ? { heartbeatSeconds: heartbeat } : {}),
      ...(values.header ? { header: values.header } : {}),
      ...(values.reason ? { reason: values.reason } : {}),
    });
    if (r.status !== 201) {
      const e = r.body?.error as { message?: string } | undefined;
      process.stderr.write(`gateway: subscription not created: HTTP ${r.status}: ${e?.message ?? ''}\n`);
      return 1;
    }
    out(
      values.json
        ? JSON.stringify(r.body)
        : `created Subscription/${r.body?.subscription} on ${r.body?.source}: ${r.body?.url}`,
    );
    return 0;
  }
  if (sub === 'status') {
    const r = await call(base, token, 'GET', '/subscriptions');
    if (r.status !== 200) throw new Error(`gateway answered ${r.status}`);
    const list = (r.body?.subscriptions ?? []) as Array<Record<string, unknown>>;
    if (values.json) {
      out(JSON.stringify(list, null, 2));
      return 0;
    }
    if (list.length === 0) out('no subscriptions');
    for (const s of list)
      out(
        [
          `${s.source}\tSubscription/${s.subscription}`,
          `status=${s.status ?? '-'}`,
          `lastEvent=${s.lastEventNumber}`,
          `eventsSinceStart=${s.eventsSinceStart ?? '-'}`,
          `lastHeartbeat=${s.lastHeartbeatAt ?? '-'}`,
          `lastNotification=${s.lastNotificationAt ?? '-'}`,
          `heartbeatPeriod=${s.heartbeatSeconds ?? '-'}s`,
          `heartbeatMissing=${s.heartbeatAlerted ? 'yes' : 'no'}`,
          `gaps=${s.gaps}`,
          `replays=${s.replays}`,
        ].join('\t'),
      );
    return 0;
  }
  throw new UsageError(`unknown subscriptions command '${sub ?? ''}'`);
}

/** `gateway keys`: the JWKS to register with the EHR (the private key never leaves its file). */
export function runKeys(): number {
  const config = loadConfig();
  const key = loadSigningKey({
    dataDir: resolve(config.dataDir),
    ...(config.smart.privateKeyFile ? { file: resolve(config.smart.privateKeyFile) } : {}),
    alg: config.smart.alg,
  });
  out(JSON.stringify(jwks(key), null, 2));
  return 0;
}
