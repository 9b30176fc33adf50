import type { Hl7Delimiters } from './delimiters.js';

/**
 * HL7 v2 escape sequences (v2.5.1 chapter 2.7). Decoding turns the delimiter escapes back into the
 * characters they stand for, `\Xhh..\` into the UTF-8 text of those bytes and `\.br\` into a
 * newline; highlighting (`\H\`, `\N\`) and other formatting commands are dropped. Anything that is
 * not a well-formed escape sequence is kept as sent, so decoding never fails.
 */
export function decodeHl7Text(value: string, d: Hl7Delimiters): string {
  const esc = d.escape;
  if (esc === '' || value.indexOf(esc) < 0) return value;
  let out = '';
  let i = 0;
  while (i < value.length) {
    const start = value.indexOf(esc, i);
    if (start < 0) break;
    const end = value.indexOf(esc, start + 1);
    if (end < 0) break;
    out += value.slice(i, start);
    const seq = value.slice(start + 1, end);
    const decoded = decodeSequence(seq, d);
    if (decoded === undefined) {
      // Not an escape sequence: keep the escape character and rescan from the next one.
      out += esc;
      i = start + 1;
      continue;
    }
    out += decoded;
    i = end + 1;
  }
  return out + value.slice(i);
}

function decodeSequence(seq: string, d: Hl7Delimiters): string | undefined {
  switch (seq) {
    case 'F':
      return d.field;
    case 'S':
      return d.component;
    case 'T':
      return d.subcomponent;
    case 'R':
      return d.repetition;
    case 'E':
      return d.escape;
    case 'P':
      return d.truncation || undefined;
    case 'H':
    case 'N':
      return '';
    case '.br':
      return '\n';
    case '.sp':
      return '\n';
    case '':
      return undefined;
  }
  const head = seq[0];
  if (head === 'X') return decodeHex(seq.slice(1));
  // Other formatting commands (.in, .ti, .sk, .ce, .fi, .nf) and character-set switches
  // (\C..\, \M..\) and locally defined escapes (\Z..\) carry no text of their own.
  if (head === '.' && /^\.(?:sp|in|ti|sk)[+-]?\d*$|^\.(?:ce|fi|nf)$/.test(seq)) return '';
  if ((head === 'C' || head === 'M' || head === 'Z') && /^[CMZ][0-9A-Fa-f]*$/.test(seq) && seq.length > 1)
    return '';
  return undefined;
}

function decodeHex(hex: string): string | undefined {
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9A-Fa-f]+$/.test(hex)) return undefined;
  return Buffer.from(hex, 'hex').toString('utf8');
}

/**
 * Escapes text for an HL7 v2 field, component or subcomponent: every delimiter becomes its escape
 * sequence, a line feed `\.br\` and a carriage return `\X0D\`, so that
 * `decodeHl7Text(encodeHl7Text(v, d), d) === v` for any v.
 */
export function encodeHl7Text(value: string, d: Hl7Delimiters): string {
  if (d.escape === '') return value;
  let out = '';
  let last = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    const rep = encodeChar(c, d);
    if (rep === undefined) continue;
    out += value.slice(last, i) + rep;
    last = i + 1;
  }
  return last === 0 ? value : out + value.slice(last);
}

function encodeChar(c: string, d: Hl7Delimiters): string | undefined {
  const e = d.escape;
  if (c === '\n') return `${e}.br${e}`;
  if (c === '\r') return `${e}X0D${e}`;
  if (c === e) return `${e}E${e}`;
  if (c === d.field) return `${e}F${e}`;
  if (c === d.component) return `${e}S${e}`;
  if (c === d.subcomponent) return `${e}T${e}`;
  if (c === d.repetition) return `${e}R${e}`;
  if (c === d.truncation) return `${e}P${e}`;
  return undefined;
}
