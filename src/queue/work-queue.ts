import { retryClass } from '../errors/retry.js';
/**
 * Work waiting to be processed: ids of stored messages. Two implementations with one interface: an
 * in-process queue (default) and BullMQ over Redis (REDIS_URL), which lets several gateway
 * processes share the work.
 */
export interface WorkQueue {
  readonly kind: 'in-process' | 'bullmq';
  /**
   * Queues messages once each: a message already queued is skipped. `again` (a tag, or one per
   * message) lets a message queued before be queued anew, once per tag: a replay (its replay id),
   * or the sweeper finding one left `received` (the time it last changed).
   */
  enqueue(
    messageIds: string[],
    opts?: {
      again?: string | ((messageId: string) => string);
      /** W3C trace context per message, carried with the job (BullMQ: in its data) to the worker. */
      traceparents?: ReadonlyMap<string, string>;
    },
  ): Promise<void>;
  /**
   * Starts workers; the handler throws to ask for a retry (one attempt used), or throws an error
   * with `retryAfterMs` to be run again after that long without using an attempt (deferral()).
   */
  start(handler: (messageId: string, attempt: number, traceparent?: string) => Promise<void>): void;
  /** Messages waiting or being processed (approximate for BullMQ, refreshed every second). */
  backlog(): number;
  ping(): Promise<void>;
  /** Stops taking work and waits for what is in flight. */
  close(): Promise<void>;
}

export interface QueueOptions {
  concurrency: number;
  maxAttempts: number;
  /** Called once a message has failed its last attempt. */
  onGiveUp(messageId: string, err: unknown): Promise<void>;
  /** Base back-off between attempts, doubled each time, with jitter. */
  backoffMs?: number;
  /** Longest back-off. */
  maxBackoffMs?: number;
}

/**
 * Delay before attempt `attempt + 1`: exponential (base * 2^(attempt-1)), capped, with full +-50 %
 * jitter so that messages failing together do not come back together. Pure given `random`.
 */
export function retryDelay(attempt: number, baseMs = 500, maxMs = 60_000, random = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp * (0.5 + random()));
}

/**
 * How long to wait when the handler asked to be deferred: an error of retry class `wait`
 * (errors/retry.ts: circuit open, model overloaded) with `retryAfterMs`.
 */
export function deferral(err: unknown): number | undefined {
  if (retryClass(err) !== 'wait') return undefined;
  const ms = (err as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}
