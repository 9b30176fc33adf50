import { GatewayError } from '../errors/codes.js';
import type { MshHeader } from '../hl7/header.js';

/**
 * What the inbox row of a message needs before the message may join a group commit. The inbox keys
 * a message by sender (MSH-3|MSH-4) and MSH-10 in one B-tree index, whose rows PostgreSQL caps at
 * about 2,700 bytes (a third of a page); and PostgreSQL text and jsonb cannot hold U+0000. A message
 * that breaks either can never be stored, so it is refused (AR, naming the field) before it can
 * make the commit it would share with other connections' messages fail.
 *
 * The limits are far above what HL7 allows (MSH-10 is 199 characters in v2.7+, HD 227) and keep
 * sender + MSH-10 under the index limit together.
 */
export const HEADER_FIELD_LIMITS: Readonly<Record<'MSH-3' | 'MSH-4' | 'MSH-10', number>> = Object.freeze({
  'MSH-3': 500,
  'MSH-4': 500,
  'MSH-10': 500,
});

/**
 * The field (segment name and HL7 field number) holding the first U+0000 of a message, if any. A
 * message with a NUL is refused whole: HL7 v2 text never holds one, and each field may end up in a
 * text or jsonb column (lineage, feature state, FHIR resources) that PostgreSQL cannot fill.
 */
export function nulLocation(text: string, fieldSep: string): { segment: string; field: number } | undefined {
  const at = text.indexOf('\u0000');
  if (at < 0) return undefined;
  let start = at;
  while (start > 0 && text[start - 1] !== '\r' && text[start - 1] !== '\n') start--;
  const before = text.slice(start, at);
  const name = /^[A-Z][A-Z0-9]{2}/.exec(before.replace(/^\uFEFF/, ''))?.[0];
  const segment = name ?? (start === 0 ? 'MSH' : 'segment');
  const seps = before.split(fieldSep).length - 1;
  // MSH-1 is the field separator itself, so MSH fields are one further along than their splits.
  return { segment, field: segment === 'MSH' ? seps + 1 : seps };
}

/** Throws the AR for a message whose inbox row cannot be stored; returns when it can. */
export function assertStorable(text: string, header: MshHeader): void {
  const nul = nulLocation(text, header.fieldSep);
  if (nul) {
    throw new GatewayError(
      'GW_HL7_UNSTORABLE',
      { location: nul },
      `${nul.segment}-${nul.field}`,
      'a NUL byte',
    );
  }
  const values: Record<keyof typeof HEADER_FIELD_LIMITS, string> = {
    'MSH-3': header.sendingApplication,
    'MSH-4': header.sendingFacility,
    'MSH-10': header.controlId,
  };
  for (const [field, limit] of Object.entries(HEADER_FIELD_LIMITS)) {
    const bytes = Buffer.byteLength(values[field as keyof typeof values], 'utf8');
    if (bytes > limit) {
      throw new GatewayError(
        'GW_HL7_FIELD_TOO_LONG',
        { location: { segment: 'MSH', field: Number(field.slice(4)) } },
        field,
        String(bytes),
        String(limit),
      );
    }
  }
}
