import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Hl7ParseError, parseHl7, parseHl7Path } from '../../src/hl7/parser.js';

const ORU = [
  'MSH|^~\\&|LAB|HOSP|GW|HOSP|20240301101500||ORU^R01^ORU_R01|C123|P|2.5.1',
  'PID|1||MRN1^^^HOSP^MR~NI9^^^NAT&1.2.3&ISO^NI||Doe^Jane^Q||19800102|F',
  'PV1|1|I|5W^501^A',
  'OBR|1||F1|85353-1^Vitals^LN|||20240301101000',
  'OBX|1|NM|8867-4^Heart rate^LN||72|/min^^UCUM|||||F',
  'OBX|2|NM|9279-1^Resp rate^LN||16|/min^^UCUM|||||F',
  'ZXT|1|custom^data',
].join('\r');

describe('parseHl7: structure and paths', () => {
  const m = parseHl7(ORU);

  test('MSH numbering follows the standard', () => {
    assert.equal(m.get('MSH-1'), '|');
    assert.equal(m.get('MSH-2'), '^~\\&');
    assert.equal(m.get('MSH-3'), 'LAB');
    assert.equal(m.get('MSH-9'), 'ORU');
    assert.equal(m.get('MSH-9.2'), 'R01');
    assert.equal(m.get('MSH-9.3'), 'ORU_R01');
    assert.equal(m.get('MSH-10'), 'C123');
    assert.equal(m.get('MSH-12'), '2.5.1');
    assert.equal(m.segment('MSH')?.fieldCount, 12);
  });

  test('repetitions, components and subcomponents', () => {
    assert.equal(m.get('PID-3'), 'MRN1');
    assert.equal(m.get('PID-3.4'), 'HOSP');
    assert.equal(m.get('PID-3[2].1'), 'NI9');
    assert.equal(m.get('PID-3[2].4'), 'NAT');
    assert.equal(m.get('PID-3[2].4.2'), '1.2.3');
    assert.equal(m.get('PID-3[2].4.3'), 'ISO');
    assert.equal(m.get('PID-3[3].1'), undefined);
    const reps = m.segment('PID')!.repetitions(3);
    assert.equal(reps.length, 2);
    assert.deepEqual(reps[1]!.subcomponents(4), ['NAT', '1.2.3', 'ISO']);
    assert.deepEqual(reps[0]!.components(), ['MRN1', '', '', 'HOSP', 'MR']);
  });

  test('segment occurrences and Z-segments', () => {
    assert.equal(m.get('OBX[2]-3.1'), '9279-1');
    assert.equal(m.get('OBX[2]-5'), '16');
    assert.equal(m.get('OBX[3]-5'), undefined);
    assert.equal(m.all('OBX').length, 2);
    assert.equal(m.get('ZXT-2.2'), 'data');
    assert.deepEqual(
      m.segments.map((s) => s.name),
      ['MSH', 'PID', 'PV1', 'OBR', 'OBX', 'OBX', 'ZXT'],
    );
  });

  test('absent and empty values are undefined', () => {
    assert.equal(m.get('PID-2'), undefined);
    assert.equal(m.get('PID-99'), undefined);
    assert.equal(m.get('EVN-1'), undefined);
    assert.equal(m.segment('PID')!.value(5, 9), undefined);
  });

  test('paths are validated', () => {
    assert.deepEqual(parseHl7Path('OBX[3]-5[2].1.2'), {
      segment: 'OBX',
      occurrence: 3,
      field: 5,
      repetition: 2,
      component: 1,
      subcomponent: 2,
    });
    for (const bad of ['PID', 'PID-0', 'pid-3', 'PID-3.0', 'PID[0]-3', 'PID-3..1']) {
      assert.throws(() => parseHl7Path(bad), RangeError, bad);
    }
  });
});

describe('parseHl7: delimiters', () => {
  test('non-standard delimiters declared in MSH-1/MSH-2', () => {
    const m = parseHl7(
      'MSH#@*$%#APP#FAC#####ADT@A01#X1#P#2.4\rPID#1##A1@@@H@MR*B2@@@N%x%y@PI##Doe@J $F$ $S$ $R$ $T$ $E$',
    );
    assert.deepEqual(m.delimiters, {
      field: '#',
      component: '@',
      repetition: '*',
      escape: '$',
      subcomponent: '%',
      truncation: '',
    });
    assert.equal(m.get('MSH-1'), '#');
    assert.equal(m.get('MSH-2'), '@*$%');
    assert.equal(m.get('MSH-9.2'), 'A01');
    assert.equal(m.get('PID-3[2].4.3'), 'y');
    assert.equal(m.get('PID-5.2'), 'J # @ * % $');
  });

  test('2.7+ MSH-2 with a truncation character', () => {
    const m = parseHl7('MSH|^~\\&#|A|B|||20240101||ADT^A08|X|P|2.8\rNTE|1||cut\\P\\ here#');
    assert.equal(m.delimiters.truncation, '#');
    assert.equal(m.get('MSH-2'), '^~\\&#');
    assert.equal(m.get('NTE-3'), 'cut# here#');
  });

  test('CR, LF, CRLF, mixed, BOM, leading and trailing blank lines give the same segments', () => {
    const segs = ['MSH|^~\\&|A|B|||20240101||ORU^R01|X|P|2.5', 'PID|1||M1', 'OBX|1|NM|1-1^x^LN||5'];
    const variants = [
      segs.join('\r'),
      `${segs.join('\n')}\n`,
      `${segs.join('\r\n')}\r\n\r\n`,
      `\uFEFF${segs.join('\r\n')}\r\n`,
      `\uFEFF\r\n${segs.join('\r')}\r\r\n\n`,
      `${segs[0]}\r\n${segs[1]}\n${segs[2]}\r`,
    ];
    for (const v of variants) {
      const m = parseHl7(v);
      assert.deepEqual(
        m.segments.map((s) => s.raw),
        segs,
        JSON.stringify(v),
      );
      assert.equal(m.get('OBX-5'), '5');
    }
  });
});

describe('parseHl7: errors', () => {
  const code = (text: string) => {
    try {
      parseHl7(text);
    } catch (err) {
      assert.ok(err instanceof Hl7ParseError);
      assert.ok(!err.message.includes('Secret'), 'error text must not carry message content');
      return err.code;
    }
    return 'no error';
  };

  test('no MSH -> 100', () => {
    assert.equal(code(''), '100');
    assert.equal(code('PID|1||Secret'), '100');
    assert.equal(code('\uFEFF\r\n'), '100');
    assert.equal(code('XMSH|^~\\&|'), '100');
  });

  test('broken delimiters -> 102', () => {
    assert.equal(code('MSH'), '102');
    assert.equal(code('MSHA^~\\&|Secret'), '102');
    assert.equal(code('MSH ^~\\&|Secret'), '102');
    assert.equal(code('MSH|^|Secret'), '102');
    assert.equal(code('MSH|^^\\&|Secret'), '102');
    assert.equal(code('MSH|^~\\&#!|Secret'), '102');
    assert.equal(code('MSH||Secret'), '102');
    assert.equal(code('MSH|^~|\\&|Secret'), 'no error');
    assert.equal(code('MSH|a~\\&|Secret'), '102');
  });

  test('a segment without a valid name -> 100', () => {
    assert.equal(code('MSH|^~\\&|A\rP|Secret'), '100');
    assert.equal(code('MSH|^~\\&|A\rpid|1|Secret'), '100');
    assert.equal(code('MSH|^~\\&|A\rPIDX|Secret'), '100');
    assert.equal(code('MSH|^~\\&|A\rPID'), 'no error');
  });

  test('error messages carry no content', () => {
    try {
      parseHl7('MSH|^~\\&|A\rSecret|data');
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(err instanceof Hl7ParseError);
      assert.equal(err.name, 'Hl7ParseError');
      assert.doesNotMatch(err.message, /Secret|data/);
    }
  });
});
