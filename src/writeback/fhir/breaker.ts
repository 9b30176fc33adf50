/**
 * A circuit breaker around the FHIR writer. Closed: writes go through; after `failureThreshold`
 * transient failures in a row it opens. Open: no write is tried until `cooldownMs` has passed; then
 * half-open: one probe write goes through, and its outcome closes or re-opens the circuit. While it
 * is not closed, callers are told to wait (CircuitOpenError carries how long), never to fail.
 */
export type CircuitState = 'closed' | 'open' | 'half-open';

import { GatewayError } from '../../errors/codes.js';
import { retryClass } from '../../errors/retry.js';

export interface CircuitBreakerOptions {
  failureThreshold: number;
  cooldownMs: number;
  now?: () => number;
  onStateChange?(state: CircuitState): void;
}

/** The write was not tried (or failed while the circuit opened): try again after `retryAfterMs`. */
export class CircuitOpenError extends GatewayError {
  override name = 'CircuitOpenError';
  declare readonly retryAfterMs: number;
  constructor(retryAfterMs: number, cause?: unknown) {
    super(
      'GW_FHIR_UNAVAILABLE',
      { retryAfterMs, ...(cause === undefined ? {} : { cause }) },
      String(Math.round(retryAfterMs)),
    );
  }
}

export interface CircuitBreaker {
  readonly state: CircuitState;
  /**
   * Runs fn when the circuit allows; `isTransient` tells which errors count as the server failing
   * (others, such as a 4xx refusal, pass through and count as an answer).
   */
  run<T>(fn: () => Promise<T>, isTransient: (err: unknown) => boolean): Promise<T>;
}

export function createCircuitBreaker(o: CircuitBreakerOptions): CircuitBreaker {
  const now = o.now ?? Date.now;
  let state: CircuitState = 'closed';
  let failures = 0;
  let openedAt = 0;
  let probing = false;
  const set = (s: CircuitState) => {
    if (s === state) return;
    state = s;
    o.onStateChange?.(s);
  };
  // Waiters spread over a quarter of the cool-down so they do not all come back at once.
  const jitter = () => Math.random() * o.cooldownMs * 0.25;
  const remaining = () => Math.max(0, openedAt + o.cooldownMs - now());
  const open = () => {
    openedAt = now();
    failures = 0;
    set('open');
  };

  return {
    get state() {
      if (state === 'open' && remaining() === 0) set('half-open');
      return state;
    },
    async run(fn, isTransient) {
      if (state === 'open' && remaining() === 0) set('half-open');
      if (state === 'open') throw new CircuitOpenError(remaining() + jitter());
      const probe = state === 'half-open';
      if (probe) {
        if (probing) throw new CircuitOpenError(o.cooldownMs * 0.1 + jitter());
        probing = true;
      }
      try {
        const out = await fn();
        failures = 0;
        set('closed');
        return out;
      } catch (err) {
        if (!isTransient(err)) {
          // The server answered: it is up, whatever it thought of the request.
          failures = 0;
          if (probe) set('closed');
          throw err;
        }
        if (probe) open();
        else if (state === 'closed' && ++failures >= o.failureThreshold) open();
        if (state !== 'closed') throw new CircuitOpenError(remaining() + jitter(), err);
        throw err;
      } finally {
        if (probe) probing = false;
      }
    },
  };
}

/** No answer, a time-out, a rate limit or a 5xx: the FHIR server is failing, not refusing. */
export function isTransientFhirError(err: unknown): boolean {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' && retryClass(err) !== 'never';
}

/** The writer's transactions go through the breaker. */
export function guardWriter<
  W extends {
    write(b: B): Promise<unknown>;
    writeMany?(b: readonly B[]): Promise<unknown>;
    transaction(b: B): Promise<unknown>;
  },
  B,
>(writer: W, breaker: CircuitBreaker): W {
  const many = writer.writeMany?.bind(writer);
  return {
    ...writer,
    write: (b: B) => breaker.run(() => writer.write(b), isTransientFhirError),
    ...(many ? { writeMany: (b: readonly B[]) => breaker.run(() => many(b), isTransientFhirError) } : {}),
    transaction: (b: B) => breaker.run(() => writer.transaction(b), isTransientFhirError),
  };
}
