import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { MessagePage, MessageRow } from '../messages/search.js';
import { apiError, callApi, resolveApi } from './api.js';
import { UsageError } from './usage-error.js';

const out = (s: string) => process.stdout.write(`${s}\n`);

const isoOrThrow = (name: string, v: string | undefined) => {
  if (v === undefined) return undefined;
  if (Number.isNaN(Date.parse(v))) throw new UsageError(`--${name} '${v}' is not an ISO 8601 date-time`);
  return new Date(v).toISOString();
};

/** One search row as a line: time, status, type, sender, MSH-10, id, last stage, outputs. */
export function formatMessageRow(m: MessageRow): string {
  const last = m.lineage.last ? m.lineage.last.stage : '-';
  const extra = m.lineage.outputs.length
    ? m.lineage.outputs.join(' ')
    : m.lineage.reason
      ? `reason: ${m.lineage.reason}`
      : '';
  return [
    m.receivedAt,
    m.status.padEnd(9),
    (m.messageType ?? '-').padEnd(9),
    m.sender.padEnd(16),
    m.controlId.padEnd(14),
    m.messageId,
    last.padEnd(8),
    extra,
  ]
    .join('  ')
    .trimEnd();
}

/**
 * `gateway messages search`: the running gateway's message search (POST /messages/search, scope
 * `read`; the patient identifier travels in the body, never a URL). `--patient -` reads it from
 * standard input so it stays out of the shell history. `--raw` (scope `phi:read`) prints each
 * message's text, and the gateway records the view.
 */
export async function runMessages(sub: string | undefined, args: string[]): Promise<number> {
  if (sub !== 'search') throw new UsageError(`unknown messages command '${sub ?? ''}'`);
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      'control-id': { type: 'string' },
      sender: { type: 'string' },
      type: { type: 'string' },
      status: { type: 'string', multiple: true },
      patient: { type: 'string' },
      model: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      all: { type: 'boolean' },
      raw: { type: 'boolean' },
      json: { type: 'boolean' },
      url: { type: 'string' },
      token: { type: 'string' },
    },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (values.limit !== undefined && !/^\d+$/.test(values.limit))
    throw new UsageError(`--limit '${values.limit}' is not a number`);
  const patient = values.patient === '-' ? readFileSync(0, 'utf8').trim() : values.patient;
  const filter = {
    ...(values['control-id'] ? { controlId: values['control-id'] } : {}),
    ...(values.sender ? { sender: values.sender } : {}),
    ...(values.type ? { type: values.type } : {}),
    ...(values.status?.length ? { status: values.status.flatMap((s) => s.split(',')) } : {}),
    ...(patient ? { patient } : {}),
    ...(values.model ? { model: values.model } : {}),
    ...(values.from ? { from: isoOrThrow('from', values.from) } : {}),
    ...(values.to ? { to: isoOrThrow('to', values.to) } : {}),
    ...(values.limit ? { limit: Number(values.limit) } : {}),
    ...(values.raw ? { raw: true } : {}),
  };
  const api = resolveApi(values.url, values.token);
  let cursor = values.cursor;
  let shown = 0;
  for (;;) {
    const { status, body } = await callApi(api, 'POST', '/messages/search', {
      ...filter,
      ...(cursor ? { cursor } : {}),
    });
    if (status !== 200) {
      process.stderr.write(`gateway messages search: ${apiError(status, body)}\n`);
      return 1;
    }
    const page = body as MessagePage & { items: Array<MessageRow & { raw?: string | null }> };
    for (const m of page.items) {
      if (values.json) out(JSON.stringify(m));
      else {
        out(formatMessageRow(m));
        if (values.raw)
          out(
            m.raw == null
              ? '    (raw text pruned)'
              : m.raw.replace(/\r\n?|\n/g, '\n    ').replace(/^/, '    '),
          );
      }
    }
    shown += page.items.length;
    cursor = page.nextCursor ?? undefined;
    if (!cursor) break;
    if (!values.all) {
      process.stderr.write(`more: --cursor ${cursor} (or --all)\n`);
      break;
    }
  }
  if (shown === 0 && !values.json) process.stderr.write('no message matched\n');
  return 0;
}
