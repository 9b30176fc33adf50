import type { RowStatus } from './outbox-store.js';

/** How hard to try a destination. */
export interface RetryPolicy {
  maxAttempts: number;
  backoffMs: number;
  maxBackoffMs: number;
}

/** What an attempt came to (ack-outcome.ts): delivered, or not and whether to try again. */
export type Attempt =
  | { ok: true; code: string }
  | { ok: false; retry: boolean; reason: string; code?: string };

/** The row's status after attempt number `n`: sent, refused, given up after maxAttempts, or pending. */
export function statusAfter(r: Attempt, n: number, p: RetryPolicy): RowStatus {
  return r.ok ? 'sent' : !r.retry ? 'refused' : n >= p.maxAttempts ? 'gave-up' : 'pending';
}

/**
 * The wait before attempt `n + 1`: exponential from backoffMs, capped at maxBackoffMs, jittered to
 * between half and all of it (`random` in [0, 1)) so destinations coming back are not hit at once.
 */
export function backoffDelayMs(n: number, p: RetryPolicy, random: number = Math.random()): number {
  return Math.min(p.maxBackoffMs, p.backoffMs * 2 ** (n - 1)) * (0.5 + random / 2);
}
