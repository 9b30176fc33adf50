import { isUtf8 } from 'node:buffer';

/**
 * MSH-18 character sets (HL7 table 0211) -> WHATWG encoding labels Node's TextDecoder knows.
 * The first repetition of MSH-18 is the character set of the whole message.
 */
const CHARSETS: Readonly<Record<string, string>> = Object.freeze({
  ASCII: 'ascii',
  'ISO IR6': 'ascii',
  '8859/1': 'latin1',
  'ISO IR100': 'latin1',
  '8859/2': 'iso-8859-2',
  '8859/3': 'iso-8859-3',
  '8859/4': 'iso-8859-4',
  '8859/5': 'iso-8859-5',
  '8859/6': 'iso-8859-6',
  '8859/7': 'iso-8859-7',
  '8859/8': 'iso-8859-8',
  '8859/9': 'iso-8859-9',
  '8859/15': 'iso-8859-15',
  'UNICODE UTF-8': 'utf8',
  'ISO IR192': 'utf8',
  'UTF-8': 'utf8',
  'UNICODE UTF-16': 'utf-16le',
  'ISO IR87': 'shift_jis',
  'ISO IR159': 'shift_jis',
  GB: 'gb18030',
  'GB 18030-2000': 'gb18030',
  'KS X 1001': 'euc-kr',
  'CNS 11643-1992': 'big5',
  BIG5: 'big5',
});

export interface DecodedHl7 {
  text: string;
  /** The encoding used: from MSH-18, else UTF-8 (or windows-1252 when the bytes are not UTF-8). */
  encoding: string;
  /** MSH-18 as sent ('' when absent). */
  declared: string;
}

/** MSH-18 read from the raw bytes (every HL7 character set is ASCII-compatible up to MSH-18). */
export function declaredCharset(raw: Buffer): string {
  let start = raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? 3 : 0;
  while (start < raw.length && (raw[start] === 13 || raw[start] === 10 || raw[start] === 32)) start++;
  if (raw[start] !== 0x4d || raw[start + 1] !== 0x53 || raw[start + 2] !== 0x48) return '';
  const fs = raw[start + 3];
  if (fs === undefined) return '';
  let field = 2; // MSH-1 is the separator itself; MSH-2 starts right after it
  let i = start + 4;
  let from = -1;
  for (; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === 13 || c === 10) break;
    if (c === fs) {
      field++;
      if (field === 18) from = i + 1;
      else if (field === 19) break;
    }
  }
  if (from < 0) return '';
  const value = raw.subarray(from, i).toString('latin1');
  const rep = raw[start + 5]; // MSH-2's second character: the repetition separator
  const first = rep === undefined ? value : value.split(String.fromCharCode(rep))[0]!;
  return first.trim();
}

/** The TextDecoder label for an MSH-18 value; undefined when unknown. */
export function encodingFor(charset: string): string | undefined {
  return CHARSETS[charset.toUpperCase()];
}

/**
 * Decodes a message's bytes into text before parsing, by the character set MSH-18 declares. Without
 * MSH-18 (or with a value we do not know) the bytes are read as UTF-8, or as windows-1252 when they
 * are not valid UTF-8 (the usual case of an 8-bit sender that forgot MSH-18), so no byte is lost.
 */
export function decodeHl7Bytes(raw: Buffer): DecodedHl7 {
  const declared = declaredCharset(raw);
  const enc = declared ? encodingFor(declared) : undefined;
  if (enc === 'utf8' || (!enc && isUtf8(raw)))
    return { text: raw.toString('utf8'), encoding: 'utf8', declared };
  if (enc === 'latin1') return { text: raw.toString('latin1'), encoding: 'latin1', declared };
  if (enc === 'ascii') {
    // ASCII declared but 8-bit bytes sent: read them as windows-1252 rather than mangle them.
    return { text: new TextDecoder('windows-1252').decode(raw), encoding: 'ascii', declared };
  }
  const label = enc ?? 'windows-1252';
  try {
    return { text: new TextDecoder(label).decode(raw), encoding: label, declared };
  } catch {
    return { text: raw.toString('latin1'), encoding: 'latin1', declared };
  }
}

/** Encodes text for a message whose MSH-18 is `charset` (used for what we send). */
export function encodeForCharset(text: string, charset: string): Buffer {
  const enc = charset ? encodingFor(charset) : 'utf8';
  if (enc === 'latin1' || enc === 'ascii') return Buffer.from(text, 'latin1');
  return Buffer.from(text, 'utf8');
}
