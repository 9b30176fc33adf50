import type { Hl7Delimiters } from './delimiters.js';
import { decodeHl7Text } from './escape.js';

/** Piece `n` (1-based) of `s` split on `sep`, without building the array; '' when absent. */
export function nthPiece(s: string, sep: string, n: number): string {
  if (sep === '') return n === 1 ? s : '';
  let start = 0;
  for (let i = 1; i < n; i++) {
    const at = s.indexOf(sep, start);
    if (at < 0) return '';
    start = at + 1;
  }
  const end = s.indexOf(sep, start);
  return end < 0 ? s.slice(start) : s.slice(start, end);
}

function splitOn(s: string, sep: string): string[] {
  return sep === '' || s === '' ? [s] : s.split(sep);
}

/** One repetition of a field: its raw text and decoded components and subcomponents. */
export class Hl7Repetition {
  readonly raw: string;
  readonly #d: Hl7Delimiters;

  constructor(raw: string, delimiters: Hl7Delimiters) {
    this.raw = raw;
    this.#d = delimiters;
  }

  /** Decoded text of component `component`, subcomponent `sub` (1-based); undefined when empty. */
  value(component = 1, sub = 1): string | undefined {
    const c = nthPiece(this.raw, this.#d.component, component);
    const s = nthPiece(c, this.#d.subcomponent, sub);
    return s === '' ? undefined : decodeHl7Text(s, this.#d);
  }

  /** The whole repetition decoded as one text (delimiters the sender did not escape kept as sent). */
  text(): string {
    return decodeHl7Text(this.raw, this.#d);
  }

  /** Decoded text of every component (subcomponent delimiters kept as sent, escapes decoded). */
  components(): string[] {
    return splitOn(this.raw, this.#d.component).map((c) => decodeHl7Text(c, this.#d));
  }

  /** Decoded subcomponents of one component. */
  subcomponents(component = 1): string[] {
    const c = nthPiece(this.raw, this.#d.component, component);
    return splitOn(c, this.#d.subcomponent).map((s) => decodeHl7Text(s, this.#d));
  }
}

/**
 * One segment. Fields are split on first use only; values are decoded (escape sequences resolved)
 * on each read. Field numbers follow the standard: for MSH, field 1 is the field separator and
 * field 2 the encoding characters.
 */
export class Hl7Segment {
  readonly name: string;
  /** The segment text as received, without the segment terminator. */
  readonly raw: string;
  readonly delimiters: Hl7Delimiters;
  #fields: string[] | undefined;

  constructor(name: string, raw: string, delimiters: Hl7Delimiters) {
    this.name = name;
    this.raw = raw;
    this.delimiters = delimiters;
  }

  #split(): string[] {
    if (this.#fields) return this.#fields;
    const parts = this.raw.split(this.delimiters.field);
    if (this.name === 'MSH') parts.splice(1, 0, this.delimiters.field);
    this.#fields = parts;
    return parts;
  }

  /** Number of the last field present (MSH counts MSH-1). */
  get fieldCount(): number {
    return this.#split().length - 1;
  }

  /** Raw (undecoded) text of field `n`, all repetitions; '' when absent. */
  field(n: number): string {
    if (n < 1) return '';
    return this.#split()[n] ?? '';
  }

  #isLiteral(n: number): boolean {
    return this.name === 'MSH' && (n === 1 || n === 2);
  }

  /**
   * Decoded text at field `field`, component, subcomponent and repetition (all 1-based);
   * undefined when absent or empty.
   */
  value(field: number, component = 1, sub = 1, repetition = 1): string | undefined {
    const raw = this.field(field);
    if (raw === '') return undefined;
    if (this.#isLiteral(field)) return component === 1 && sub === 1 && repetition === 1 ? raw : undefined;
    const d = this.delimiters;
    const rep = nthPiece(raw, d.repetition, repetition);
    const comp = nthPiece(rep, d.component, component);
    const s = nthPiece(comp, d.subcomponent, sub);
    return s === '' ? undefined : decodeHl7Text(s, d);
  }

  /** The repetitions of field `n`; [] when the field is empty. */
  repetitions(n: number): Hl7Repetition[] {
    const raw = this.field(n);
    if (raw === '') return [];
    if (this.#isLiteral(n))
      return [new Hl7Repetition(raw, { ...this.delimiters, component: '', subcomponent: '', escape: '' })];
    return splitOn(raw, this.delimiters.repetition).map((r) => new Hl7Repetition(r, this.delimiters));
  }
}
