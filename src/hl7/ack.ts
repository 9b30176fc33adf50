import { randomUUID } from 'node:crypto';
import type { MshHeader } from './header.js';

export type AckCode = 'AA' | 'AE' | 'AR' | 'CA' | 'CE' | 'CR';

export interface AckOptions {
  code: AckCode;
  /** The received message's header; undefined when it could not be read at all. */
  header: MshHeader | undefined;
  /** Our own application/facility, used where the sender named no receiver. */
  application: string;
  facility: string;
  /** For AE/AR: HL7 table 0357 code and a readable text without message content. */
  error?: {
    hl7Code: string;
    text: string;
    location?: { segment: string; field: number };
    /** ERR-4 (HL7 table 0516): E error (default), W warning, F fatal. */
    severity?: 'E' | 'W' | 'F';
  };
  now?: Date;
  controlId?: string;
  /** MSH-15/MSH-16 of the ACK itself (an application ACK asks for a commit ACK: `AL`, `NE`). */
  ackTypes?: { accept: string; application: string };
}

const ERROR_NAMES: Record<string, string> = {
  '100': 'Segment sequence error',
  '101': 'Required field missing',
  '102': 'Data type error',
  '103': 'Table value not found',
  '104': 'Value too long',
  '200': 'Unsupported message type',
  '201': 'Unsupported event code',
  '202': 'Unsupported processing id',
  '203': 'Unsupported version id',
  '204': 'Unknown key identifier',
  '205': 'Duplicate key identifier',
  '206': 'Application record locked',
  '207': 'Application internal error',
};

/** HL7 DTM `YYYYMMDDHHMMSS.SSS+ZZZZ` in UTC. */
export function hl7Timestamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(
    d.getUTCMinutes(),
  )}${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}+0000`;
}

/** Versions from 2.5 on carry the error in ERR-3 (CWE); earlier ones in ERR-1 (ELD). */
function usesErr3(version: string): boolean {
  const m = /^2\.(\d+)/.exec(version);
  return m ? Number(m[1]) >= 5 : true;
}

/** Replaces delimiter characters in our own free text so it cannot break the ACK's structure. */
function safeText(text: string, reserved: string): string {
  let out = '';
  for (const c of text) out += reserved.includes(c) || c === '\r' || c === '\n' ? ' ' : c;
  return out;
}

/**
 * Builds an ACK for a received message: MSH with sender and receiver swapped, the same version and
 * delimiters, `MSH-9 = ACK^<trigger>^ACK`, a fresh MSH-10; MSA with the code and the received MSH-10;
 * ERR (HL7 table 0357) when the code is not a success. Segments end with CR.
 */
export function buildAck(o: AckOptions): string {
  const h = o.header;
  const fs = h?.fieldSep ?? '|';
  const enc = h?.encodingChars ?? '^~\\&';
  const cs = enc[0] ?? '^';
  const ss = enc[3] ?? '&';
  const version = h?.version || '2.5';
  const reserved = fs + enc;
  const msh = [
    'MSH',
    enc,
    h?.receivingApplication || o.application,
    h?.receivingFacility || o.facility,
    h?.sendingApplication ?? '',
    h?.sendingFacility ?? '',
    hl7Timestamp(o.now ?? new Date()),
    '',
    `ACK${cs}${h?.triggerEvent ?? ''}${cs}ACK`,
    o.controlId ?? randomUUID().replace(/-/g, '').slice(0, 20),
    h?.processingId || 'P',
    version,
    ...(o.ackTypes ? ['', '', o.ackTypes.accept, o.ackTypes.application] : []),
  ].join(fs);
  const text = o.error ? safeText(o.error.text, reserved) : '';
  const msa = ['MSA', o.code, h?.controlId ?? ''];
  if (o.error) msa.push(text);
  const segments = [msh, msa.join(fs)];
  if (o.error) {
    const name = ERROR_NAMES[o.error.hl7Code] ?? 'Application internal error';
    if (usesErr3(version)) {
      segments.push(
        [
          'ERR',
          '',
          // ERR-2 (ERL): segment id, sequence, field position
          o.error.location ? `${o.error.location.segment}${cs}1${cs}${o.error.location.field}` : '',
          `${o.error.hl7Code}${cs}${name}${cs}HL70357`,
          o.error.severity ?? 'E',
          '',
          '',
          '',
          text,
        ].join(fs),
      );
    } else {
      // ERR-1 (ELD): segment id, sequence, field position, code
      const at = o.error.location
        ? `${o.error.location.segment}${cs}1${cs}${o.error.location.field}`
        : `${cs}${cs}`;
      segments.push(['ERR', `${at}${cs}${o.error.hl7Code}${ss}${name}${ss}HL70357`].join(fs));
    }
  }
  return `${segments.join('\r')}\r`;
}
