import type { Attempt } from './backoff.js';
import { ackCode } from './oru/message.js';

/**
 * What a destination's answer to an outbound message means: `AA`/`CA` delivered; `AR`/`CR` refused
 * (never retried); `AE`/`CE` or an answer without MSA an error to retry.
 */
export function classifyAck(ack: string): Attempt {
  const code = ackCode(ack);
  if (code === 'AA' || code === 'CA') return { ok: true, code };
  if (code === 'AR' || code === 'CR') return { ok: false, retry: false, code, reason: `refused (${code})` };
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
