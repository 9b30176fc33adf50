import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { Hl7ParseError, parseHl7 } from '../../src/hl7/parser.js';
import { normalizeHl7 } from '../../src/normalize/hl7v2.js';

const DIR = fileURLToPath(new URL('../../fixtures/hl7v2/', import.meta.url));
const FIXTURES = readdirSync(DIR)
  .filter((f) => f.endsWith('.hl7'))
  .sort()
  .map((f) => readFileSync(join(DIR, f), 'utf8'));

const NASTY = [
  '|',
  '^',
  '~',
  '\\',
  '&',
  '#',
  '\r',
  '\n',
  '\r\n',
  '\uFEFF',
  'MSH',
  '\\X',
  '\\XZ\\',
  '""',
  '\u0000',
  'é',
];

/** One edit of a text: insert, delete, replace or duplicate a slice. */
const mutation = fc.tuple(
  fc.constantFrom('insert', 'delete', 'replace', 'duplicate'),
  fc.nat(),
  fc.integer({ min: 0, max: 40 }),
  fc.oneof(fc.constantFrom(...NASTY), fc.string({ maxLength: 6 })),
);

function mutate(text: string, edits: Array<[string, number, number, string]>): string {
  let s = text;
  for (const [kind, at, len, piece] of edits) {
    const i = s.length === 0 ? 0 : at % (s.length + 1);
    if (kind === 'insert') s = s.slice(0, i) + piece + s.slice(i);
    else if (kind === 'delete') s = s.slice(0, i) + s.slice(i + len);
    else if (kind === 'replace') s = s.slice(0, i) + piece + s.slice(i + piece.length);
    else s = s.slice(0, i) + s.slice(i, i + len) + s.slice(i);
  }
  return s;
}

test('parseHl7 + normalizeHl7 throw nothing but Hl7ParseError on mutated fixtures', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: FIXTURES.length - 1 }),
      fc.array(mutation, { minLength: 1, maxLength: 5 }),
      (which, edits) => {
        const text = mutate(FIXTURES[which]!, edits);
        try {
          const msg = parseHl7(text);
          const event = normalizeHl7(msg, { channel: 'fuzz', messageId: 'x' });
          assert.ok(Array.isArray(event.observations));
          for (const s of msg.segments) for (let f = 1; f <= s.fieldCount; f++) s.value(f, 2, 2, 2);
        } catch (err) {
          if (!(err instanceof Hl7ParseError)) throw err;
          assert.match(err.code, /^10[0-3]$/);
        }
      },
    ),
    { numRuns: 2000 },
  );
});
