import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { splitMessages } from '../../src/hl7/batch.js';
import { decodeHl7Bytes } from '../../src/hl7/charset.js';
import { parseHl7 } from '../../src/hl7/parser.js';
import { normalizeHl7 } from '../../src/normalize/hl7v2.js';

const DIR = fileURLToPath(new URL('../../fixtures/hl7v2/', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const fixtures = readdirSync(DIR)
  .filter((f) => f.endsWith('.hl7'))
  .sort();

test('there are golden fixtures', () => {
  assert.ok(fixtures.length >= 49, `expected at least 49 fixtures in ${DIR}`);
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
        'regenerate with: UPDATE_GOLDEN=1 node --import tsx --test test/hl7/golden.test.ts (and review the diff)',
    );
  });
}
