/**
 * Slows token guessing: failed authentications are counted per client address in a fixed window;
 * beyond `maxFailures`, every request from that address is answered 429 (with the seconds left in
 * the window) until the window ends, before any token is checked. Addresses that authenticate are
 * never counted, so a valid token from another address is never slowed. Pure apart from the clock.
 */

export interface AuthThrottleOptions {
  /** Failed authentications allowed per address and window; 0 turns the throttle off. */
  maxFailures: number;
  windowMs: number;
  /** Called once per address and window, when it goes over the limit. */
  onThrottled?(address: string, failures: number): void;
  now?: () => number;
  /** Addresses remembered at most (the oldest windows are forgotten first). */
  maxAddresses?: number;
}

interface Window {
  start: number;
  failures: number;
  reported: boolean;
}

export interface AuthThrottle {
  /** Seconds to wait when the address is over the limit now, else 0. */
  retryAfter(address: string): number;
  /** Counts a failed authentication from the address. */
  failed(address: string): void;
}

export function createAuthThrottle(o: AuthThrottleOptions): AuthThrottle {
  const now = o.now ?? Date.now;
  const max = o.maxAddresses ?? 100_000;
  const windows = new Map<string, Window>();
  const current = (address: string): Window | undefined => {
    const w = windows.get(address);
    if (w && now() - w.start >= o.windowMs) {
      windows.delete(address);
      return undefined;
    }
    return w;
  };
  return {
    retryAfter(address) {
      if (o.maxFailures <= 0) return 0;
      const w = current(address);
      if (!w || w.failures < o.maxFailures) return 0;
      if (!w.reported) {
        w.reported = true;
        o.onThrottled?.(address, w.failures);
      }
      return Math.max(1, Math.ceil((w.start + o.windowMs - now()) / 1000));
    },
    failed(address) {
      if (o.maxFailures <= 0) return;
      let w = current(address);
      if (!w) {
        // Map order is insertion order: the first keys are the oldest windows.
        while (windows.size >= max) windows.delete(windows.keys().next().value as string);
        w = { start: now(), failures: 0, reported: false };
        windows.set(address, w);
      }
      w.failures++;
    },
  };
}
