import { GatewayError, type RetryClass } from './codes.js';

const CLASSES = new Set<unknown>(['never', 'backoff', 'wait']);

/** HTTP status of an upstream answer (0: none came back): 4xx is a refusal, except time-out and rate limit. */
export function retryForStatus(status: number): RetryClass {
  return status >= 400 && status < 500 && status !== 408 && status !== 429 ? 'never' : 'backoff';
}

/**
 * A PostgreSQL SQLSTATE: connection exceptions (08), operator intervention (57P: shutdown, crash,
 * cannot connect now) and insufficient resources (53) are the database being away: wait. A
 * serialization failure or deadlock (40001, 40P01): back off and run again. Data exceptions (22),
 * integrity violations (23, but the duplicate key 23505, which callers sort out themselves) and
 * program limits (54): the row can never be stored, never retry. Anything else: back off.
 */
export function retryForSqlState(code: string): RetryClass {
  if (code.startsWith('08') || code.startsWith('57P') || code.startsWith('53')) return 'wait';
  if (code === '40001' || code === '40P01') return 'backoff';
  if (code.startsWith('22') || code.startsWith('54') || (code.startsWith('23') && code !== '23505'))
    return 'never';
  return 'backoff';
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * The one retry decision of the gateway: what to do with a failure, whoever threw it. The pipeline,
 * the work queue, the outbox and the FHIR writer all ask here.
 * - a GatewayError (or any error carrying a `retry` class, such as the HL7 parser's): its class;
 * - a PostgreSQL error: by SQLSTATE (retryForSqlState);
 * - an error with an HTTP `status` (an upstream answer, 0 for none): retryForStatus;
 * - a RangeError (pure code on this message's data, e.g. an invalid time): never;
 * - anything else (a network error, a time-out, a bug): back off.
 */
export function retryClass(err: unknown): RetryClass {
  if (err instanceof GatewayError) return err.retry;
  if (err === null || typeof err !== 'object') return 'backoff';
  const e = err as { retry?: unknown; code?: unknown; status?: unknown };
  if (CLASSES.has(e.retry)) return e.retry as RetryClass;
  if (err instanceof RangeError) return 'never';
  if (typeof e.code === 'string' && SQLSTATE.test(e.code) && /\d/.test(e.code.slice(0, 2))) {
    return retryForSqlState(e.code);
  }
  if (typeof e.status === 'number') return retryForStatus(e.status);
  return 'backoff';
}

/**
 * A PostgreSQL deadlock or serialization failure (40P01, 40001; retry class backoff): a transaction
 * that had no effect outside the database may simply run again at once.
 */
export function isSerializationFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40001' || code === '40P01';
}

/** A PostgreSQL error caused by a row's data (never retried): see retryForSqlState. */
export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && SQLSTATE.test(code) && retryForSqlState(code) === 'never';
}
