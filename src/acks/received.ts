import type { RetryClass } from '../errors/codes.js';

/**
 * What an ACK we received (for an ORU or an application ACK we sent) means for the outbox: `AA`/`CA`
 * accepted; `AR`/`CR` a refusal, never sent again; `AE`/`CE`, another code or none: back off and
 * send again.
 */
export function receivedAck(code: string | undefined): 'accepted' | RetryClass {
  if (code === 'AA' || code === 'CA') return 'accepted';
  if (code === 'AR' || code === 'CR') return 'never';
  return 'backoff';
}
