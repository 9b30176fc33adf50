import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ERROR_CODES, type ErrorCode } from '../../src/errors/codes.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The rows of README's `### Error codes` table: code(s), HTTP status, ACK code, ERR code, retry class. */
function readmeRows() {
  const start = README.indexOf('### Error codes\n');
  assert.ok(start >= 0, 'README has a "### Error codes" section');
  const end = README.indexOf('\n#', start + 10);
  const section = README.slice(start, end < 0 ? undefined : end);
  const rows = new Map<string, { status: number; ack: string; hl7: string; retry: string }>();
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const [codes = '', http = '', ack = '', retry = ''] = line
      .split('|')
      .slice(1)
      .map((c) => c.trim());
    const m = /^(AR|AE), ERR (\d{3})$/.exec(ack);
    assert.ok(m, `README row ${codes}: ACK cell "${ack}" is "AR|AE, ERR nnn"`);
    for (const [, code] of codes.matchAll(/`([A-Z][A-Z0-9_]+)`/g)) {
      assert.ok(!rows.has(code!), `${code} is listed once in the README`);
      rows.set(code!, { status: Number(http), ack: m[1]!, hl7: m[2]!, retry });
    }
  }
  return rows;
}

test("README's error table and errors/codes.ts hold the same codes, statuses, ACKs and retry classes", () => {
  const rows = readmeRows();
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    const row = rows.get(code);
    assert.ok(row, `${code} is in errors/codes.ts but not in the README's error table`);
    const d = ERROR_CODES[code];
    assert.deepEqual(
      row,
      { status: d.status, ack: d.ack, hl7: d.hl7, retry: d.retry },
      `README row of ${code}`,
    );
  }
  for (const code of rows.keys())
    assert.ok(code in ERROR_CODES, `${code} is in the README but not in errors/codes.ts`);
});

function* sources(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* sources(p);
    else if (/\.(ts|js|mjs)$/.test(name)) yield p;
  }
}

test('every code-looking string literal in src/ is a code of the table', () => {
  const src = new URL('../../src/', import.meta.url).pathname;
  const unknown: string[] = [];
  let seen = 0;
  for (const file of sources(src)) {
    const text = readFileSync(file, 'utf8');
    // A code starts a string or template literal (`'GW_X'`, `` `GW_X: …` ``); identifiers such as
    // MODEL_SCOPE are not literals.
    for (const m of text.matchAll(/['"`]((?:GW|MODEL)_[A-Z0-9_]+)/g)) {
      seen++;
      if (!(m[1]! in ERROR_CODES)) unknown.push(`${file.slice(src.length)}: ${m[1]}`);
    }
  }
  assert.ok(seen > 20, 'the scan finds the codes used in src/');
  assert.deepEqual(unknown, [], 'codes used in src/ but missing from errors/codes.ts');
});

test('every template is free of message content placeholders beyond %s and names no patient field', () => {
  for (const [code, d] of Object.entries(ERROR_CODES)) {
    assert.ok(d.text.length > 0, code);
    assert.doesNotMatch(d.text, /PID-|patient name|%[^s]/i, code);
  }
});
