import { GatewayError } from '../errors/codes.js';

/** The MSH fields the listener needs before (and whatever) the full parse: enough to ACK any frame. */
export interface MshHeader {
  fieldSep: string;
  /** MSH-2 as sent (component, repetition, escape, subcomponent[, truncation]). */
  encodingChars: string;
  sendingApplication: string;
  sendingFacility: string;
  receivingApplication: string;
  receivingFacility: string;
  /** MSH-9.1 and MSH-9.2. */
  messageType: string;
  triggerEvent: string;
  controlId: string;
  processingId: string;
  version: string;
  acceptAckType: string;
  applicationAckType: string;
}

const BOM = '\uFEFF';

/** Strips a UTF-8 BOM and leading blank lines. */
export function stripPreamble(text: string): string {
  let s = text.startsWith(BOM) ? text.slice(1) : text;
  let i = 0;
  while (i < s.length && (s[i] === '\r' || s[i] === '\n' || s[i] === ' ' || s[i] === '\t')) i++;
  if (i > 0) s = s.slice(i);
  return s;
}

/**
 * Reads the MSH segment of a message. Throws GatewayError (AR) when there is no MSH, the delimiters
 * are unusable, or MSH-10 is empty; `partial` returns what could be read instead of throwing for the
 * last two, so an ACK can still echo what the sender gave.
 */
export function readHeader(text: string): MshHeader {
  const s = stripPreamble(text);
  if (!s.startsWith('MSH') || s.length < 8) throw new GatewayError('GW_HL7_NO_MSH');
  const fieldSep = s[3]!;
  if (/[A-Za-z0-9\r\n\s]/.test(fieldSep)) throw new GatewayError('GW_HL7_BAD_DELIMITERS');
  let end = s.length;
  for (let i = 4; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 13 || c === 10) {
      end = i;
      break;
    }
  }
  const fields = s.slice(0, end).split(fieldSep);
  const enc = fields[1] ?? '';
  const encSet = new Set(enc);
  if (
    enc.length < 2 ||
    enc.length > 5 ||
    encSet.size !== enc.length ||
    encSet.has(fieldSep) ||
    /[A-Za-z0-9\s]/.test(enc)
  ) {
    throw new GatewayError('GW_HL7_BAD_DELIMITERS');
  }
  const comp = enc[0]!;
  const f = (n: number) => fields[n - 1] ?? '';
  const first = (n: number) => f(n).split(comp)[0] ?? '';
  return {
    fieldSep,
    encodingChars: enc,
    sendingApplication: f(3),
    sendingFacility: f(4),
    receivingApplication: f(5),
    receivingFacility: f(6),
    messageType: first(9),
    triggerEvent: f(9).split(comp)[1] ?? '',
    controlId: f(10),
    processingId: first(11),
    version: first(12),
    acceptAckType: f(15),
    applicationAckType: f(16),
  };
}

/** Like readHeader but never throws: undefined when there is no usable MSH. */
export function tryReadHeader(text: string): MshHeader | undefined {
  try {
    return readHeader(text);
  } catch {
    return undefined;
  }
}

/** The key duplicates are detected by: the sending application and facility (MSH-3, MSH-4). */
export function senderKey(h: MshHeader): string {
  return `${h.sendingApplication}|${h.sendingFacility}`;
}
