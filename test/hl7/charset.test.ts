import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { declaredCharset, decodeHl7Bytes } from '../../src/hl7/charset.js';
import { parseHl7 } from '../../src/hl7/parser.js';

const msh = (charset: string) =>
  `MSH|^~\\&|LAB|HOSP|GW|HOSP|20240301||ORU^R01|C1|P|2.5.1|||||${charset === '' ? '' : `|${charset}`}`;

describe('MSH-18 character sets', () => {
  it('reads MSH-18 from the raw bytes (first repetition, BOM and blank lines before MSH)', () => {
    assert.equal(declaredCharset(Buffer.from(`${msh('8859/1')}\rPID|1`, 'latin1')), '8859/1');
    assert.equal(declaredCharset(Buffer.from(`\uFEFF\r\n${msh('UNICODE UTF-8~8859/1')}\r`)), 'UNICODE UTF-8');
    assert.equal(declaredCharset(Buffer.from(`${msh('')}\rPID|1|||||||||||||||||||X`)), '');
    assert.equal(declaredCharset(Buffer.from('PID|1')), '');
  });

  it('decodes 8859/1 as Latin-1: é and ü survive into the parsed values', () => {
    const text = `${msh('8859/1')}\rPID|1||7^^^H^MR||Müller^Renée\r`;
    const decoded = decodeHl7Bytes(Buffer.from(text, 'latin1'));
    assert.equal(decoded.encoding, 'latin1');
    assert.equal(parseHl7(decoded.text).get('PID-5.2'), 'Renée');
    assert.equal(parseHl7(decoded.text).get('PID-5.1'), 'Müller');
  });

  it('decodes UNICODE UTF-8 and, without MSH-18, valid UTF-8', () => {
    const text = `${msh('UNICODE UTF-8')}\rPID|1||7||Zoë^李\r`;
    assert.equal(parseHl7(decodeHl7Bytes(Buffer.from(text, 'utf8')).text).get('PID-5.2'), '李');
    const plain = `${msh('')}\rPID|1||7||Zoë\r`;
    assert.equal(parseHl7(decodeHl7Bytes(Buffer.from(plain, 'utf8')).text).get('PID-5.2'), undefined);
    assert.equal(parseHl7(decodeHl7Bytes(Buffer.from(plain, 'utf8')).text).get('PID-5.1'), 'Zoë');
  });

  it('reads 8-bit bytes without MSH-18, or under a wrong ASCII label, as windows-1252 instead of mangling them', () => {
    const text = `${msh('')}\rPID|1||7||Gonzál\r`;
    const d = decodeHl7Bytes(Buffer.from(text, 'latin1'));
    assert.equal(d.encoding, 'windows-1252');
    assert.match(d.text, /Gonzál/);
    const ascii = decodeHl7Bytes(Buffer.from(`${msh('ASCII')}\rPID|1||7||Gonzál\r`, 'latin1'));
    assert.match(ascii.text, /Gonzál/);
  });

  it('decodes other ISO 8859 parts through TextDecoder (8859/2: Polish ł)', () => {
    const bytes = Buffer.concat([
      Buffer.from(`${msh('8859/2')}\rPID|1||7||`, 'latin1'),
      Buffer.from([0xb3]),
      Buffer.from('\r'),
    ]);
    assert.match(decodeHl7Bytes(bytes).text, /\|ł\r$/);
  });
});
