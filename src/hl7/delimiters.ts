import { Hl7ParseError } from './errors.js';

/** The delimiters a message declares in MSH-1 and MSH-2. Absent ones are ''. */
export interface Hl7Delimiters {
  field: string;
  component: string;
  repetition: string;
  escape: string;
  subcomponent: string;
  /** v2.7+: the fifth MSH-2 character, e.g. '#'. */
  truncation: string;
}

export const STANDARD_DELIMITERS: Readonly<Hl7Delimiters> = Object.freeze({
  field: '|',
  component: '^',
  repetition: '~',
  escape: '\\',
  subcomponent: '&',
  truncation: '',
});

const UNUSABLE = /[A-Za-z0-9\s]/;

/**
 * Reads MSH-1 and MSH-2 from the start of an MSH segment. MSH-2 must hold 2 to 5 distinct characters
 * (component, repetition, escape, subcomponent, truncation), none a letter, digit, blank or the field
 * separator. Throws Hl7ParseError 102 otherwise.
 */
export function readDelimiters(msh: string): Hl7Delimiters {
  const field = msh[3];
  if (field === undefined || UNUSABLE.test(field)) {
    throw new Hl7ParseError('102', 'MSH-1 does not declare a usable field separator');
  }
  let end = msh.indexOf(field, 4);
  if (end < 0) end = msh.length;
  const enc = msh.slice(4, end);
  if (enc.length < 2 || enc.length > 5 || new Set(enc).size !== enc.length || UNUSABLE.test(enc)) {
    throw new Hl7ParseError('102', 'MSH-2 does not declare usable encoding characters');
  }
  return {
    field,
    component: enc[0]!,
    repetition: enc[1]!,
    escape: enc[2] ?? '',
    subcomponent: enc[3] ?? '',
    truncation: enc[4] ?? '',
  };
}

/** MSH-2 as it would be written for these delimiters. */
export function encodingCharacters(d: Hl7Delimiters): string {
  return d.component + d.repetition + d.escape + d.subcomponent + d.truncation;
}
