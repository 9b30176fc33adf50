import { stripPreamble } from './header.js';

export interface SplitBatch {
  messages: string[];
  /** True when the body was wrapped in FHS/BHS (an HL7 batch file). */
  enveloped: boolean;
}

const ENVELOPE = new Set(['FHS', 'BHS', 'BTS', 'FTS']);

/**
 * Splits an HL7 v2 body into its messages: a batch (`FHS`/`BHS` … `BTS`/`FTS`) or messages simply
 * written one after another. Each message starts at an MSH; segments are rejoined with CR. Text
 * before the first MSH that is not an envelope segment is kept as a message of its own so that it
 * gets its own AR.
 */
export function splitMessages(body: string): SplitBatch {
  const lines = stripPreamble(body).split(/\r\n|\r|\n/);
  const messages: string[] = [];
  let current: string[] = [];
  let enveloped = false;
  const flush = () => {
    if (current.length > 0) messages.push(`${current.join('\r')}\r`);
    current = [];
  };
  for (const line of lines) {
    if (line.trim() === '') continue;
    const name = line.slice(0, 3);
    if (ENVELOPE.has(name)) {
      enveloped = true;
      flush();
      continue;
    }
    if (name === 'MSH') flush();
    current.push(line);
  }
  flush();
  return { messages, enveloped };
}

export interface BatchHeaders {
  /** FHS and BHS segments as received (undefined when absent). */
  fhs?: string;
  bhs?: string;
}

/** The FHS/BHS segments of a batch body, to answer with a batch ACK. */
export function batchHeaders(body: string): BatchHeaders {
  const out: BatchHeaders = {};
  for (const line of stripPreamble(body).split(/\r\n|\r|\n/)) {
    const name = line.slice(0, 3);
    if (name === 'FHS' && !out.fhs) out.fhs = line;
    else if (name === 'BHS' && !out.bhs) out.bhs = line;
    else if (name === 'MSH') break;
  }
  return out;
}

/**
 * A batch acknowledgment (HL7 v2 chapter 2.10.3): FHS (when one was received) and BHS with sender
 * and receiver swapped and the received control ids referenced in FHS-12/BHS-12, then the ACK of
 * each message, then BTS (message count) and FTS.
 */
export function buildBatchAck(
  received: BatchHeaders,
  acks: readonly string[],
  o: { application: string; facility: string; timestamp: string; controlId: string },
): string {
  const header = (name: 'FHS' | 'BHS', seg: string | undefined) => {
    const fs = seg?.[3] ?? '|';
    const f = seg ? seg.split(fs) : [];
    const enc = f[1] || '^~\\&';
    return [
      name,
      enc,
      f[4] || o.application,
      f[5] || o.facility,
      f[2] ?? '',
      f[3] ?? '',
      o.timestamp,
      '',
      '',
      '',
      o.controlId,
      f[10] ?? '',
    ].join(fs);
  };
  const lines: string[] = [];
  if (received.fhs) lines.push(header('FHS', received.fhs));
  lines.push(header('BHS', received.bhs ?? received.fhs));
  const body = acks.map((a) => a.replace(/\r$/, '')).join('\r');
  const fs = (received.bhs ?? received.fhs)?.[3] ?? '|';
  const tail = [`BTS${fs}${acks.length}`];
  if (received.fhs) tail.push(`FTS${fs}1`);
  return `${[...lines, ...(body ? [body] : []), ...tail].join('\r')}\r`;
}
