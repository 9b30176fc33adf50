import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { jwks, loadSigningKey } from '../sources/keys.js';
import { type ApiTarget, callApi, resolveApi } from './api.js';
import { UsageError } from './usage-error.js';

/**
 * `gateway subscriptions create|status` (through the running gateway's API: the CLI never opens
 * the database) and `gateway keys` (the public JWKS of the SMART signing key, read from its file).
 */

const out = (s: string) => process.stdout.write(`${s}\n`);

async function call(api: ApiTarget, method: 'GET' | 'POST', path: string, body?: unknown) {
  const r = await callApi(api, method, path, body);
  return { status: r.status, body: r.body as Record<string, unknown> | null };
}

export async function runSubscriptions(sub: string | undefined, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
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
  const api = resolveApi(values.url, values.token);
  const base = api.base;
  if (sub === 'create') {
    if (!values.source) throw new UsageError('subscriptions create needs --source NAME (config sources)');
    if (!values.topic) throw new UsageError('subscriptions create needs --topic URL (the SubscriptionTopic)');
    const heartbeat = values.heartbeat === undefined ? undefined : Number(values.heartbeat);
    if (heartbeat !== undefined && !(Number.isInteger(heartbeat) && heartbeat > 0))
      throw new UsageError(`invalid --heartbeat '${values.heartbeat}' (seconds)`);
    const payload = values.payload ?? 'id-only';
    if (!['empty', 'id-only', 'full-resource'].includes(payload))
      throw new UsageError(`invalid --payload '${payload}' (empty, id-only or full-resource)`);
    const r = await call(api, 'POST', '/subscriptions', {
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
    const r = await call(api, 'GET', '/subscriptions');
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
