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
