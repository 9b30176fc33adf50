/**
 * Which failures end a message's run for good (pure), by the gateway's one retry decision
 * (errors/retry.ts): retrying cannot mend refused content, a parse error, a model input check or
 * data the database refused; anything else (a server away, a time-out, a bug) is tried again.
 */
import { isDataError, retryClass } from '../errors/retry.js';

/** How an error ends a run: permanent (failed now, with a reason fit to record) or transient. */
export function classify(err: unknown): { permanent: false } | { permanent: true; reason: string } {
  if (retryClass(err) !== 'never') return { permanent: false };
  // A database's text about refused data may quote the data: only its SQLSTATE is kept.
  const reason = isDataError(err)
    ? `the database refused this message's data (SQLSTATE ${(err as { code: string }).code})`
    : err instanceof Error
      ? err.message
      : String(err);
  return { permanent: true, reason };
}
