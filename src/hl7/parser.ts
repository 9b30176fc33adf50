import { type Hl7Delimiters, readDelimiters } from './delimiters.js';
import { Hl7ParseError } from './errors.js';
import { findInGroups, parseGroupPath } from './group-path.js';
import { type Hl7Path, parseHl7Path } from './path.js';
import { Hl7Segment } from './segment.js';

export type { Hl7Delimiters } from './delimiters.js';
export { encodingCharacters, STANDARD_DELIMITERS } from './delimiters.js';
export type { Hl7ErrorCode } from './errors.js';
export { Hl7ParseError } from './errors.js';
export { decodeHl7Text, encodeHl7Text } from './escape.js';
export type { Hl7GroupPath } from './group-path.js';
export { allInGroup, parseGroupPath } from './group-path.js';
export type { Hl7Path } from './path.js';
export { parseHl7Path } from './path.js';
export { Hl7Repetition, Hl7Segment } from './segment.js';

/** A parsed HL7 v2 message: its delimiters and its segments in order (Z-segments included). */
export class Hl7Message {
  readonly delimiters: Hl7Delimiters;
  readonly segments: readonly Hl7Segment[];

  constructor(delimiters: Hl7Delimiters, segments: readonly Hl7Segment[]) {
    this.delimiters = delimiters;
    this.segments = segments;
  }

  /** The `occurrence`-th (1-based) segment named `name`. */
  segment(name: string, occurrence = 1): Hl7Segment | undefined {
    let seen = 0;
    for (const s of this.segments) if (s.name === name && ++seen === occurrence) return s;
    return undefined;
  }

  /** Every segment named `name`, in order. */
  all(name: string): Hl7Segment[] {
    return this.segments.filter((s) => s.name === name);
  }

  /**
   * Decoded value at a path such as `PID-3`, `PID-3.1`, `PID-3[2].4`, `OBX[3]-5.1`, `MSH-9.2` or
   * `PID-3.4.2`; undefined when absent or empty. Throws RangeError for a malformed path.
   */
  get(path: string | Hl7Path): string | undefined {
    if (typeof path === 'string' && path.includes('/')) return this.getInGroup(path);
    const p = typeof path === 'string' ? parseHl7Path(path) : path;
    return this.segment(p.segment, p.occurrence)?.value(p.field, p.component, p.subcomponent, p.repetition);
  }

  /**
   * Decoded value at a group-aware path (as HAPI's Terser): `OBR[2]/OBX[1]-5` is OBX-5 of the first
   * OBX under the second OBR; `ORC[2]/OBR/OBX[3]-3.1` nests. See group-path.ts.
   */
  getInGroup(path: string): string | undefined {
    const p = parseGroupPath(path);
    return findInGroups(this.segments, p.steps)?.value(p.field, p.component, p.subcomponent, p.repetition);
  }
}

const BOM = 0xfeff;

function isNameChar(c: number, first: boolean): boolean {
  return (c >= 65 && c <= 90) || (!first && c >= 48 && c <= 57);
}

/**
 * Parses one HL7 v2.x message (ER7 encoding). Accepts a UTF-8 BOM and blank lines before MSH,
 * segments ended by CR, LF or CRLF, and whatever delimiters MSH-1/MSH-2 declare. Throws
 * Hl7ParseError: 100 when the message does not start with MSH or a segment has no valid name,
 * 102 when MSH-1/MSH-2 do not declare usable delimiters.
 */
export function parseHl7(text: string): Hl7Message {
  let start = 0;
  if (text.charCodeAt(0) === BOM) start = 1;
  while (start < text.length) {
    const c = text.charCodeAt(start);
    if (c !== 13 && c !== 10 && c !== 32 && c !== 9) break;
    start++;
  }
  if (!text.startsWith('MSH', start)) {
    throw new Hl7ParseError('100', 'message does not start with an MSH segment');
  }
  const body = start === 0 ? text : text.slice(start);
  const lines = body.indexOf('\n') < 0 ? body.split('\r') : body.split(/\r\n|\n|\r/);
  const d = readDelimiters(lines[0]!);
  const segments: Hl7Segment[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '' || line.trim() === '') continue;
    if (
      line.length < 3 ||
      !isNameChar(line.charCodeAt(0), true) ||
      !isNameChar(line.charCodeAt(1), false) ||
      !isNameChar(line.charCodeAt(2), false) ||
      (line.length > 3 && line[3] !== d.field)
    ) {
      throw new Hl7ParseError('100', `segment ${i + 1} does not start with a valid segment name`);
    }
    segments.push(new Hl7Segment(line.slice(0, 3), line, d));
  }
  return new Hl7Message(d, segments);
}
