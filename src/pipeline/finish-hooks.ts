import type { Queryable } from '../db/database.js';
import type { LineageEntryInput } from '../lineage/chain.js';
import type { LineageOutput } from '../lineage/store.js';
import type { ClinicalEvent } from '../normalize/event.js';
import type { MonitoredInput } from './monitored-input.js';

/** How a message's processing ended, as the hooks that write with it see it. */
export interface FinishedMessage {
  messageId: string;
  status: 'processed' | 'ignored' | 'failed';
  reason: string | null;
  /** Failed: the step (parse, map, infer, write, retries) and HL7 table 0357 code when one fits. */
  failedAt?: string;
  errorCode?: string;
  stages: readonly LineageEntryInput[];
  outputs: readonly LineageOutput[];
  /** Set once the message was normalized. */
  event?: ClinicalEvent;
  /** The raw bytes, when this run opened them. */
  bytes?: Buffer;
  /** Per mapping the message fed: its input vector and the scores made (model monitoring). */
  monitored?: readonly MonitoredInput[];
}

/**
 * Called inside the transaction that records a message's outcome (so what it writes commits with
 * it, exactly once), then `committed()` after that transaction committed.
 */
export interface FinishHook {
  write(tx: Queryable, finished: FinishedMessage): Promise<void>;
  committed(): void;
}

/** Several hooks as one (each writes in the same transaction, in order); undefined for none. */
export function finishHooks(hooks: readonly FinishHook[]): FinishHook | undefined {
  if (hooks.length === 0) return undefined;
  return {
    async write(tx, finished) {
      for (const h of hooks) await h.write(tx, finished);
    },
    committed() {
      for (const h of hooks) h.committed();
    },
  };
}
