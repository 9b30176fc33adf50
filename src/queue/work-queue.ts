/**
 * Work waiting to be processed: ids of stored messages. Two implementations with one interface: an
 * in-process queue (default) and BullMQ over Redis (REDIS_URL), which lets several gateway
 * processes share the work.
 */
export interface WorkQueue {
  readonly kind: 'in-process' | 'bullmq';
  enqueue(messageIds: string[]): Promise<void>;
  /** Starts workers; the handler throws to ask for a retry. */
  start(handler: (messageId: string, attempt: number) => Promise<void>): void;
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
  /** Base back-off between attempts, doubled each time. */
  backoffMs?: number;
}
