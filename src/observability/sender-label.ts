/** The label of senders beyond the limit, and of a message whose MSH could not be read. */
export const OTHER_SENDER = 'other';
export const UNKNOWN_SENDER = 'unknown';

/**
 * Bounded cardinality for the per-sender series (the `sender` label, `MSH-3|MSH-4` as the
 * duplicate check keys it): the first `max` senders seen by this process get series of their own,
 * any later one counts as "other", so a misconfigured or hostile sender cannot grow /metrics without
 * end. Values are system names (application and facility), never patient data.
 */
export function senderLabels(max: number): (sender: string | undefined) => string {
  const known = new Set<string>();
  return (sender) => {
    if (!sender) return UNKNOWN_SENDER;
    const s = sender.length > 64 ? sender.slice(0, 64) : sender;
    if (known.has(s)) return s;
    if (known.size >= max) return OTHER_SENDER;
    known.add(s);
    return s;
  };
}
