/**
 * Which failures end a message's run for good (pure): retrying cannot mend refused content, a parse
 * error, a model input check or data the database refused; anything else (a server away, a
 * time-out, a bug) is tried again by the queue.
 */
import { Hl7ParseError } from '../hl7/parser.js';
import { isDataError } from '../inbox/storable.js';
import { ModelInputError } from '../models/runtime/loader.js';
import { PermanentFailure } from './prediction.js';

/** How an error ends a run: permanent (failed now, with a reason fit to record) or transient. */
export function classify(err: unknown): { permanent: false } | { permanent: true; reason: string } {
  if (
    !(
      err instanceof PermanentFailure ||
      err instanceof Hl7ParseError ||
      isRefusal(err) ||
      isDeterministic(err) ||
      isDataError(err)
    )
  )
    return { permanent: false };
  // A database's text about refused data may quote the data: only its SQLSTATE is kept.
  const reason = isDataError(err)
    ? `the database refused this message's data (SQLSTATE ${(err as { code: string }).code})`
    : err instanceof Error
      ? err.message
      : String(err);
  return { permanent: true, reason };
}

/** Errors of pure code on this message's data (model input checks, invalid times): the same every time. */
function isDeterministic(err: unknown): boolean {
  return err instanceof ModelInputError || err instanceof RangeError;
}

/** The FHIR server refused the content (4xx other than time-out and rate limit): retrying will not help. */
function isRefusal(err: unknown): boolean {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 408 && status !== 429;
}
