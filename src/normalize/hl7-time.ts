/**
 * HL7 v2 timestamps (TS/DTM/DT: `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`) to ISO 8601.
 *
 * - A date stays a date at the precision sent: `2024` -> `2024`, `202403` -> `2024-03`,
 *   `20240301` -> `2024-03-01` (no time zone: FHIR `date`).
 * - A time is written to the second (FHIR `dateTime` needs seconds): `202403011015` ->
 *   `2024-03-01T10:15:00+00:00`; fractional seconds are kept as sent.
 * - The offset is the one sent (`-0500` -> `-05:00`), else `defaultTimezone`.
 * Returns undefined for anything that is not a valid timestamp.
 */
const TS =
  /^(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?)?)?)?)?(Z|[+-]\d{4})?$/;

const OFFSET = /^(?:Z|([+-])(\d{2}):?(\d{2}))$/;

/** `+05:30`, `-0500` or `Z` -> `+05:30`, `-05:00`, `+00:00`; throws RangeError otherwise. */
export function normalizeOffset(offset: string): string {
  const m = OFFSET.exec(offset);
  if (!m) throw new RangeError('time zone offset must look like +HH:MM');
  if (m[1] === undefined) return '+00:00';
  const h = Number(m[2]);
  const min = Number(m[3]);
  if (h > 14 || min > 59) throw new RangeError('time zone offset out of range');
  return `${m[1]}${m[2]}:${m[3]}`;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export function hl7TimeToIso(value: string | undefined, defaultTimezone = '+00:00'): string | undefined {
  if (value === undefined) return undefined;
  const m = TS.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = y!;
  if (mo === undefined) return year;
  if (Number(mo) < 1 || Number(mo) > 12) return undefined;
  if (d === undefined) return `${year}-${mo}`;
  if (Number(d) < 1 || Number(d) > daysIn(Number(year), Number(mo))) return undefined;
  const date = `${year}-${mo}-${d}`;
  if (h === undefined) return date;
  if (Number(h) > 23 || Number(mi ?? 0) > 59 || Number(s ?? 0) > 59) return undefined;
  let offset: string;
  try {
    offset = normalizeOffset(zone ?? defaultTimezone);
  } catch {
    if (zone !== undefined) return undefined;
    throw new RangeError('defaultTimezone must look like +HH:MM');
  }
  const fraction = frac === undefined ? '' : `.${frac}`;
  return `${date}T${h}:${mi ?? '00'}:${s ?? '00'}${fraction}${offset}`;
}

/** The date part of an HL7 timestamp (birth dates): `19480215` or `194802151030` -> `1948-02-15`. */
export function hl7DateToIso(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d{4,8})/.exec(value.trim());
  if (!m || m[1]!.length % 2 !== 0) return undefined;
  return hl7TimeToIso(m[1]!);
}
