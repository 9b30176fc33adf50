import { parseArgs } from 'node:util';
import { apiError, callApi, resolveApi } from './api.js';
import { UsageError } from './usage-error.js';

const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);

interface Started {
  replayId: string | null;
  matched: number;
  queued: string[];
  skipped: Array<{ messageId: string; code: string; reason: string }>;
  truncated: boolean;
}

interface Progress {
  total: number;
  done: number;
  pending: number;
  byStatus: Record<string, number>;
}

/** `[########------------]  8/20` — pure, for the TTY progress line. */
export function progressBar(done: number, total: number, width = 24): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(done).padStart(String(total).length)}/${total}`;
}

const summary = (p: Progress) =>
  Object.entries(p.byStatus)
    .filter(([s]) => s !== 'received')
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');

const isoOrThrow = (name: string, v: string | undefined) => {
  if (v === undefined) return undefined;
  if (Number.isNaN(Date.parse(v))) throw new UsageError(`--${name} '${v}' is not an ISO 8601 date-time`);
  return new Date(v).toISOString();
};

/**
 * `gateway replay`: asks the running gateway (POST /replay, scope `replay`) to process stored
 * messages again, by id, time range, model or status; then follows the progress (a bar on a TTY).
 * Exit 0 when every replayed message ended processed or ignored and none was skipped.
 */
export async function runReplay(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      id: { type: 'string', multiple: true },
      from: { type: 'string' },
      to: { type: 'string' },
      model: { type: 'string' },
      status: { type: 'string', multiple: true },
      limit: { type: 'string' },
      'dry-run': { type: 'boolean' },
      'no-wait': { type: 'boolean' },
      url: { type: 'string' },
      token: { type: 'string' },
      timeout: { type: 'string' },
    },
  });
  const ids = [...(values.id ?? []), ...positionals];
  const filter = {
    ...(ids.length ? { messageIds: ids } : {}),
    ...(values.from ? { from: isoOrThrow('from', values.from) } : {}),
    ...(values.to ? { to: isoOrThrow('to', values.to) } : {}),
    ...(values.model ? { model: values.model } : {}),
    ...(values.status?.length ? { status: values.status.flatMap((s) => s.split(',')) } : {}),
    ...(values.limit ? { limit: Number(values.limit) } : {}),
    ...(values['dry-run'] ? { dryRun: true } : {}),
  };
  if (!filter.messageIds && !filter.from && !filter.to && !filter.model && !filter.status)
    throw new UsageError('replay needs message ids, --from/--to, --model or --status');
  const api = resolveApi(values.url, values.token);
  const { status, body } = await callApi(api, 'POST', '/replay', filter);
  const started = body as Started & { error?: unknown };
  if (status !== 200 && status !== 202 && status !== 409) {
    err(`gateway replay: ${apiError(status, body)}`);
    return 1;
  }
  for (const s of started.skipped ?? []) err(`skipped ${s.messageId}: ${s.code}: ${s.reason}`);
  if (status === 409) {
    err(`gateway replay: ${apiError(status, body)}`);
    return 1;
  }
  if (values['dry-run']) {
    out(`would replay ${started.queued.length} of ${started.matched} matching message(s)`);
    for (const id of started.queued) out(`  ${id}`);
    return 0;
  }
  if (started.truncated) err('more messages matched than one replay takes; run it again for the rest');
  if (!started.replayId) {
    out(`nothing to replay (${started.matched} matching)`);
    return started.skipped.length > 0 ? 1 : 0;
  }
  out(`replay ${started.replayId}: ${started.queued.length} message(s) queued`);
  if (values['no-wait']) return started.skipped.length > 0 ? 1 : 0;

  const tty = process.stderr.isTTY === true;
  const deadline = Date.now() + Number(values.timeout ?? 600_000);
  let p: Progress;
  for (;;) {
    const r = await callApi(api, 'GET', `/replay/${started.replayId}`);
    if (r.status !== 200) {
      err(`gateway replay: ${apiError(r.status, r.body)}`);
      return 1;
    }
    p = r.body as Progress;
    if (tty) process.stderr.write(`\r${progressBar(p.done, p.total)}  ${summary(p)}\u001b[K`);
    if (p.pending === 0) break;
    if (Date.now() > deadline) {
      if (tty) process.stderr.write('\n');
      err(
        `gateway replay: still ${p.pending} message(s) pending; follow with GET /replay/${started.replayId}`,
      );
      return 1;
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  if (tty) process.stderr.write('\n');
  out(`replayed ${p.total} message(s): ${summary(p)}`);
  const bad = Object.entries(p.byStatus).some(([s, n]) => s === 'failed' && n > 0);
  return bad || started.skipped.length > 0 ? 1 : 0;
}
