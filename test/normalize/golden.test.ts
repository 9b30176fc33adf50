import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { splitMessages } from '../../src/hl7/batch.js';
import { decodeHl7Bytes } from '../../src/hl7/charset.js';
import { readHeader } from '../../src/hl7/header.js';
import { parseHl7 } from '../../src/hl7/parser.js';
import { normalizeHl7 } from '../../src/normalize/hl7v2.js';

const DIR = fileURLToPath(new URL('../../fixtures/hl7v2/', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const fixtures = readdirSync(DIR)
  .filter((f) => f.endsWith('.hl7'))
  .sort();

test('the fixtures cover the message types and versions the gateway serves, each with its golden file', () => {
  // What the fixtures hold, not how many there are: every .hl7 has its normalization golden file
  // (and no golden file is left without its fixture), and together they span HL7 v2.3 to v2.8
  // and the message types a sender sends (results, orders, ADT, scheduling, vaccination, ...).
  const goldens = readdirSync(DIR).filter((f) => /^[^.]+\.expected\.json$/.test(f));
  assert.deepEqual(
    goldens.map((f) => f.replace('.expected.json', '.hl7')),
    fixtures,
    'each fixture has <name>.expected.json beside it, and each golden file its fixture',
  );
  const headers = fixtures.flatMap((f) =>
    splitMessages(decodeHl7Bytes(readFileSync(join(DIR, f))).text).messages.map((m) => {
      const h = readHeader(m);
      return { type: h.messageType, version: h.version };
    }),
  );
  const types = new Set(headers.map((h) => h.type));
  for (const t of ['ORU', 'ADT', 'ORM', 'OML', 'SIU', 'VXU', 'MDM', 'DFT', 'PPR'])
    assert.ok(types.has(t), `an ${t} fixture`);
  const versions = new Set(headers.map((h) => h.version));
  for (const v of ['2.3', '2.3.1', '2.4', '2.5', '2.5.1', '2.6', '2.8'])
    assert.ok(versions.has(v), `a v${v} fixture`);
});

/** A file with one message normalizes to one event; a batch or concatenated file to an array. */
function normalizeFile(bytes: Buffer, name: string): unknown {
  const text = decodeHl7Bytes(bytes).text;
  const { messages, enveloped } = splitMessages(text);
  const events = messages.map((m, i) =>
    normalizeHl7(parseHl7(m), {
      channel: 'fixture',
      messageId: messages.length > 1 || enveloped ? `${name}#${i + 1}` : name,
    }),
  );
  return events.length === 1 && !enveloped ? events[0] : events;
}

for (const file of fixtures) {
  const name = basename(file, '.hl7');
  test(`golden: ${name}`, () => {
    const actual = JSON.parse(JSON.stringify(normalizeFile(readFileSync(join(DIR, file)), name))) as unknown;
    const goldenPath = join(DIR, `${name}.expected.json`);
    if (UPDATE) {
      writeFileSync(goldenPath, `${JSON.stringify(actual, null, 2)}\n`);
      return;
    }
    let expected: unknown;
    try {
      expected = JSON.parse(readFileSync(goldenPath, 'utf8'));
    } catch {
      assert.fail(`missing golden file ${goldenPath}; create it with: UPDATE_GOLDEN=1 npm test`);
    }
    assert.deepEqual(
      actual,
      expected,
      `${name}: normalizeHl7 output drifted from ${name}.expected.json. If the change is intended, ` +
        'regenerate with: UPDATE_GOLDEN=1 node --import tsx --test test/normalize/golden.test.ts (and review the diff)',
    );
  });
}
