import { receivedAck } from '../../acks/received.js';
import type { Attempt } from './backoff.js';
import { ackCode } from './oru/message.js';

/**
 * What a destination's answer to an outbound message comes to for its row, by the rule of
 * acks/received.ts: `AA`/`CA` delivered; `AR`/`CR` refused (never retried); `AE`/`CE`, another
 * code or an answer without MSA an error to retry after a back-off.
 */
export function classifyAck(ack: string): Attempt {
  const code = ackCode(ack);
  const meaning = receivedAck(code);
  if (meaning === 'accepted') return { ok: true, code: code! };
  if (meaning === 'never') return { ok: false, retry: false, code: code!, reason: `refused (${code})` };
  return {
    ok: false,
    retry: true,
    reason: code ? `error (${code})` : 'no MSA in the answer',
    ...(code ? { code } : {}),
  };
}

/** A transport failure (no connection, time-out, closed): retried. */
export function transportFailure(err: unknown): Attempt {
  return { ok: false, retry: true, reason: (err as Error).message };
}
