import { createHash } from 'node:crypto';

/**
 * The one place where message content (MSH-3/MSH-4, PID-3.4, PV1-19, MSH-10, FHIR ids from a
 * sender) becomes part of a FHIR uri, id, reference or string the gateway writes. Whatever the
 * content holds (spaces, `&`, `#`, `'`, `|`, `^`, non-ASCII, control characters, thousands of
 * characters), what comes out is valid FHIR R4 and RFC 3986, and the same content always gives the
 * same result (identifiers stay searchable and idempotent). Ids the gateway chooses are hashes of
 * their source (deterministicId, builders.ts), never content.
 */

/** Characters kept as they are in a uri built from content: RFC 3986 unreserved and a few sub-delims. */
const KEEP = /[A-Za-z0-9\-._~:@!$*+,;=]/;

/** Longest encoded content part of a uri; longer parts keep a prefix and a hash of the whole. */
export const MAX_URI_PART = 200;

const hashOf = (s: string, hexChars = 32) => createHash('sha256').update(s).digest('hex').slice(0, hexChars);

/** Percent-encodes (UTF-8) every character outside the kept set; the result matches RFC 3986 pchar. */
export function encodeUriPart(value: string): string {
  let out = '';
  for (const ch of wellFormed(value)) {
    if (KEEP.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (out.length <= MAX_URI_PART) return out;
  // Cut before an escape that would be split, then name the whole by its hash.
  let cut = MAX_URI_PART - 34;
  const pct = out.lastIndexOf('%', cut);
  if (pct > cut - 3) cut = pct;
  return `${out.slice(0, cut)}~${hashOf(value)}`;
}

/** The inverse of encodeUriPart for parts that were not shortened; undefined when it cannot be undone. */
export function decodeUriPart(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

/** `prefix` (a uri the gateway owns, e.g. `urn:hl7v2:msh10:`) followed by content, encoded. */
export function contentUri(prefix: string, content: string): string {
  return `${prefix}${encodeUriPart(content)}`;
}

/** True when a uri from outside (a FHIR identifier system) can be written as it is. */
export function isWritableUri(uri: string): boolean {
  return (
    /^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$/.test(uri) && uri.length <= 2048 && !/[\u0000-\u001f\u007f]/.test(uri)
  );
}

/** Lone surrogates replaced (PostgreSQL jsonb and strict JSON parsers refuse them). */
function wellFormed(s: string): string {
  return s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/**
 * A FHIR `string` from content: control characters other than tab, CR and LF (which FHIR strings
 * may not hold; U+0000 PostgreSQL cannot store) and lone surrogates become U+FFFD, outer whitespace
 * is trimmed, and at most `max` characters are kept (FHIR's 1 MB by default: an identifier is never
 * cut; pass a smaller max for display texts). Undefined when nothing is left.
 */
export function fhirString(value: string, max = 1024 * 1024): string | undefined {
  let s = wellFormed(value)
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g, '\uFFFD')
    .trim();
  if (s.length > max) s = `${s.slice(0, max - 1)}…`;
  return s.length > 0 ? s : undefined;
}

/**
 * A literal reference (`Type/id`, or an absolute `…/Type/id` URL) from content, when it is one FHIR
 * can carry; undefined otherwise (the caller then references by identifier).
 */
export function literalReference(ref: string | undefined, type?: string): string | undefined {
  if (!ref) return undefined;
  const t = type ?? '[A-Z][A-Za-z]+';
  if (new RegExp(`^${t}/[A-Za-z0-9\\-.]{1,64}(/_history/[A-Za-z0-9\\-.]{1,64})?$`).test(ref)) return ref;
  if (
    /^https?:\/\/[^\s]+$/.test(ref) &&
    new RegExp(`/${t}/[A-Za-z0-9\\-.]{1,64}(/_history/[A-Za-z0-9\\-.]{1,64})?$`).test(ref)
  )
    return ref;
  // A urn:uuid names a resource only inside the Bundle it came in: not one the target can resolve.
  return undefined;
}

/**
 * The FHIR identifier system of an HL7 assigning authority (PID-3.4) or of a FHIR system: the
 * configured one (`patients.identifierSystems`), a FHIR system that stands for no authority as it is
 * (when it is a writable uri), else `patients.defaultSystemPrefix` + the authority, encoded.
 */
export function identifierSystemFor(
  assigner: string | undefined,
  m: { systems: Readonly<Record<string, string>>; defaultSystemPrefix: string },
): string {
  // Own keys only: an authority named `constructor` or `valueOf` is no configured one.
  if (assigner && Object.hasOwn(m.systems, assigner)) return m.systems[assigner]!;
  if (assigner && /^(https?|urn):/.test(assigner) && isWritableUri(assigner)) return assigner;
  return contentUri(m.defaultSystemPrefix, assigner ?? 'unknown');
}
