/**
 * The webhook outbox (monitor_outbox): alert and retrain-requested notifications, posted as JSON
 * until the receiver answers 2xx, with back-off, across restarts and processes (rows are claimed
 * with a lease, `for update skip locked`). Headers come from the config at send time, so secrets
 * are never stored in the table.
 */
import type { Database } from '../db/database.js';
import type { Logger } from '../observability/logger.js';

export interface WebhookConfig {
  name: string;
  url: string;
  headers: Record<string, string>;
}

export interface OutboxSender {
  /** Sends what is due now (also called by the loop). */
  flush(): Promise<number>;
  wake(): void;
  close(): Promise<void>;
}

export function startOutboxSender(o: {
  db: Database;
  logger: Logger;
  webhooks: () => readonly WebhookConfig[];
  maxAttempts: number;
  backoffMs: number;
  timeoutMs: number;
  pollMs: number;
}): OutboxSender {
  let closed = false;
  let running: Promise<number> | undefined;
  let timer: NodeJS.Timeout | undefined;

  async function sendDue(): Promise<number> {
    const claimed = await o.db.query<{
      id: string;
      webhook: string;
      url: string;
      payload: unknown;
      attempts: number;
    }>(
      `update monitor_outbox set next_attempt_at = now() + make_interval(secs => $1::float8 / 1000 + 5)
        where id in (select id from monitor_outbox where status = 'pending' and next_attempt_at <= now()
                      order by id limit 20 for update skip locked)
        returning id, webhook, url, payload, attempts`,
      [o.timeoutMs],
    );
    let sent = 0;
    for (const row of claimed.rows.sort((a, b) => Number(a.id) - Number(b.id))) {
      const hook = o.webhooks().find((w) => w.name === row.webhook);
      let error: string | undefined;
      try {
        const res = await fetch(hook?.url ?? row.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(hook?.headers ?? {}) },
          body: typeof row.payload === 'string' ? row.payload : JSON.stringify(row.payload),
          signal: AbortSignal.timeout(o.timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (!res.ok) error = `receiver answered ${res.status}`;
      } catch (err) {
        error = (err as Error).message;
      }
      const attempts = Number(row.attempts) + 1;
      if (!error) {
        sent++;
        await o.db.query(
          `update monitor_outbox set status = 'sent', attempts = $2, sent_at = now(), last_error = null where id = $1`,
          [row.id, attempts],
        );
      } else {
        const last = attempts >= o.maxAttempts;
        const delay = Math.min(o.backoffMs * 2 ** (attempts - 1), 3_600_000);
        await o.db.query(
          `update monitor_outbox set status = $2, attempts = $3, last_error = $4,
             next_attempt_at = now() + make_interval(secs => $5::float8 / 1000) where id = $1`,
          [row.id, last ? 'failed' : 'pending', attempts, error.slice(0, 500), delay],
        );
        (last ? o.logger.error : o.logger.warn).call(
          o.logger,
          { webhook: row.webhook, attempts, err: error },
          last ? 'webhook gave up' : 'webhook will be retried',
        );
      }
    }
    return sent;
  }

  const flush = () => {
    if (closed) return Promise.resolve(0);
    running ??= sendDue()
      .catch((err) => {
        o.logger.warn({ err: (err as Error).message }, 'webhook outbox');
        return 0;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const loop = () => {
    timer = setTimeout(async () => {
      await flush();
      if (!closed) loop();
    }, o.pollMs);
    timer.unref();
  };
  loop();
  return {
    flush,
    wake: () => void flush(),
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
