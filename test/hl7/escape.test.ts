import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  decodeHl7Text,
  encodeHl7Text,
  type Hl7Delimiters,
  parseHl7,
  STANDARD_DELIMITERS,
} from '../../src/hl7/parser.js';

const D = STANDARD_DELIMITERS;
const ODD: Hl7Delimiters = {
  field: '#',
  component: '@',
  repetition: '*',
  escape: '$',
  subcomponent: '%',
  truncation: '!',
};

describe('escape sequences', () => {
  test('delimiter escapes', () => {
    assert.equal(decodeHl7Text('a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f', D), 'a|b^c&d~e\\f');
    assert.equal(decodeHl7Text('a$F$b$S$c$T$d$R$e$E$f$P$', ODD), 'a#b@c%d*e$f!');
  });

  test('hex escapes are UTF-8 bytes', () => {
    assert.equal(decodeHl7Text('\\X41\\', D), 'A');
    assert.equal(decodeHl7Text('Zo\\XC3AB\\ \\XE282AC\\5', D), 'Zoë €5');
    assert.equal(decodeHl7Text('\\X0D0A\\', D), '\r\n');
    assert.equal(decodeHl7Text('\\x41\\', D), '\\x41\\', 'lower-case x is not an escape');
    assert.equal(decodeHl7Text('\\X4\\', D), '\\X4\\', 'odd hex digits kept as sent');
    assert.equal(decodeHl7Text('\\XZZ\\', D), '\\XZZ\\');
  });

  test('formatting: .br is a newline, highlighting and other commands dropped', () => {
    assert.equal(decodeHl7Text('line1\\.br\\line2', D), 'line1\nline2');
    assert.equal(decodeHl7Text('\\H\\Bold\\N\\ text', D), 'Bold text');
    assert.equal(decodeHl7Text('a\\.in+4\\b\\.ce\\c\\.sk2\\d', D), 'abcd');
    assert.equal(decodeHl7Text('\\C2842\\x\\M2442\\', D), 'x');
    assert.equal(decodeHl7Text('\\Zlocal\\', D), '\\Zlocal\\', 'not hex: kept as sent');
  });

  test('malformed sequences are kept as sent', () => {
    assert.equal(decodeHl7Text('C:\\temp', D), 'C:\\temp');
    assert.equal(decodeHl7Text('\\\\', D), '\\\\');
    assert.equal(decodeHl7Text('a\\Q\\b\\F\\', D), 'a\\Q\\b|');
    assert.equal(decodeHl7Text('\\P\\', D), '\\P\\', 'no truncation character declared');
    assert.equal(decodeHl7Text('no escapes', D), 'no escapes');
  });

  test('encode', () => {
    assert.equal(encodeHl7Text('a|b^c&d~e\\f', D), 'a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f');
    assert.equal(encodeHl7Text('x\ny\rz', D), 'x\\.br\\y\\X0D\\z');
    assert.equal(encodeHl7Text('a#b@c%d*e$f!', ODD), 'a$F$b$S$c$T$d$R$e$E$f$P$');
    assert.equal(encodeHl7Text('plain', D), 'plain');
  });

  test('encode/decode round trip (property)', () => {
    const chars = fc.constantFrom(...'ab |^~\\&#@*$%!\r\nXé€.'.split(''));
    const text = fc.array(chars, { maxLength: 40 }).map((a) => a.join(''));
    fc.assert(
      fc.property(text, fc.constantFrom(D, ODD), (v, d) => {
        assert.equal(decodeHl7Text(encodeHl7Text(v, d), d), v);
      }),
      { numRuns: 1000 },
    );
  });

  test('an encoded value survives a trip through a message', () => {
    const value = 'Temp | HR ^ 5 & 6 ~ C:\\x\nnext line';
    const m = parseHl7(`MSH|^~\\&|A|B|||20240101||ORU^R01|X|P|2.5\rOBX|1|TX|x||${encodeHl7Text(value, D)}`);
    assert.equal(m.get('OBX-5'), value);
    assert.equal(m.segment('OBX')!.fieldCount, 5);
  });
});
