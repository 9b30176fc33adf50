import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseHl7 } from '../../src/hl7/parser.js';
import { hl7DateToIso, hl7TimeToIso, normalizeOffset } from '../../src/normalize/hl7-time.js';
import { codingSystemUri, normalizeHl7 } from '../../src/normalize/hl7v2.js';

const SRC = { channel: 'test', messageId: 'm1' };
const MSH = 'MSH|^~\\&|APP|FAC|GW|HOSP|20240301101500||ORU^R01^ORU_R01|C9|P|2.5.1';

function obx(...obxSegments: string[]) {
  const text = [MSH, 'PID|1||M1^^^H^MR', 'OBR|1||F|x^y^LN|||20240301100000', ...obxSegments].join('\r');
  return normalizeHl7(parseHl7(text), SRC).observations;
}

describe('HL7 timestamps', () => {
  test('precision is kept; times get seconds and an offset', () => {
    assert.equal(hl7TimeToIso('2024'), '2024');
    assert.equal(hl7TimeToIso('202403'), '2024-03');
    assert.equal(hl7TimeToIso('20240301'), '2024-03-01');
    assert.equal(hl7TimeToIso('2024030110'), '2024-03-01T10:00:00+00:00');
    assert.equal(hl7TimeToIso('202403011015'), '2024-03-01T10:15:00+00:00');
    assert.equal(hl7TimeToIso('20240301101530'), '2024-03-01T10:15:30+00:00');
    assert.equal(hl7TimeToIso('20240301101530.1234'), '2024-03-01T10:15:30.1234+00:00');
    assert.equal(hl7TimeToIso('20240301101530.5-0500'), '2024-03-01T10:15:30.5-05:00');
    assert.equal(hl7TimeToIso('202403011015+0530'), '2024-03-01T10:15:00+05:30');
  });

  test('the default time zone applies only when none is sent', () => {
    assert.equal(hl7TimeToIso('20240301101530', '-05:00'), '2024-03-01T10:15:30-05:00');
    assert.equal(hl7TimeToIso('20240301101530+0100', '-05:00'), '2024-03-01T10:15:30+01:00');
    assert.equal(hl7TimeToIso('20240301', '-05:00'), '2024-03-01');
    assert.throws(() => hl7TimeToIso('20240301101530', 'Europe/Paris'), RangeError);
    assert.equal(normalizeOffset('Z'), '+00:00');
    assert.equal(normalizeOffset('-0330'), '-03:30');
  });

  test('invalid timestamps are undefined', () => {
    for (const bad of [
      '',
      '24',
      '20241301',
      '20240230',
      '20240301250000',
      '2024030110156',
      '2024-03-01',
      'x',
      '20240301+25',
    ]) {
      assert.equal(hl7TimeToIso(bad), undefined, bad);
    }
    assert.equal(hl7TimeToIso('20240229'), '2024-02-29');
    assert.equal(hl7TimeToIso(undefined), undefined);
  });

  test('birth dates keep the date part only', () => {
    assert.equal(hl7DateToIso('19480215'), '1948-02-15');
    assert.equal(hl7DateToIso('194802151030'), '1948-02-15');
    assert.equal(hl7DateToIso('1948'), '1948');
    assert.equal(hl7DateToIso('19480'), undefined);
  });
});

describe('normalizeHl7', () => {
  test('header, patient, encounter', () => {
    const text = [
      MSH,
      'PID|1||A1^^^HOSP^MR~B2^^^NAT&1.2&ISO^NI~^^^X^AN||Doe^J||19480215|F',
      'PV1|1|I|5W^501^A||||||||||||||||VN1^^^HOSP',
    ].join('\n');
    const e = normalizeHl7(parseHl7(text), SRC, { defaultTimezone: '-05:00' });
    assert.deepEqual(e.source, {
      channel: 'test',
      messageId: 'm1',
      controlId: 'C9',
      messageType: 'ORU^R01',
      sendingApplication: 'APP',
      sendingFacility: 'FAC',
      version: '2.5.1',
    });
    assert.equal(e.occurredAt, '2024-03-01T10:15:00-05:00');
    assert.deepEqual(e.patient, {
      identifiers: [
        { value: 'A1', assigner: 'HOSP', type: 'MR' },
        { value: 'B2', assigner: 'NAT', type: 'NI' },
      ],
      birthDate: '1948-02-15',
      sex: 'F',
    });
    assert.deepEqual(e.encounter, {
      identifier: 'VN1',
      assigner: 'HOSP',
      patientClass: 'I',
      location: '5W^501^A',
    });
    assert.deepEqual(e.observations, []);
  });

  test('a message without PID or PV1', () => {
    const e = normalizeHl7(parseHl7('MSH|^~\\&|A||||20240301||ADT|X|P|2.3'), SRC);
    assert.equal(e.source.messageType, 'ADT');
    assert.deepEqual(e.patient, { identifiers: [] });
    assert.equal(e.encounter, undefined);
  });

  test('NM values', () => {
    const o = obx(
      'OBX|1|NM|8867-4^HR^LN||72|/min',
      'OBX|2|NM|8867-4^HR^LN||-0.5',
      'OBX|3|NM|8867-4^HR^LN||abc',
      'OBX|4|NM|8867-4^HR^LN||',
      'OBX|5|NM|8867-4^HR^LN||>=90',
      'OBX|6|NM|8867-4^HR^LN||""',
    );
    assert.deepEqual(o[0]!.value, { kind: 'numeric', value: 72 });
    assert.deepEqual(o[1]!.value, { kind: 'numeric', value: -0.5 });
    assert.equal(o[2]!.value, undefined);
    assert.equal(o[3]!.value, undefined);
    assert.equal('value' in o[3]!, false);
    assert.deepEqual(o[4]!.value, { kind: 'numeric', value: 90, comparator: '>=' });
    assert.equal(o[5]!.value, undefined);
    assert.equal(o.length, 6, 'observations without a value are kept');
  });

  test('SN values', () => {
    const v = obx(
      'OBX|1|SN|x^x^LN||<^5',
      'OBX|2|SN|x^x^LN||^5',
      'OBX|3|SN|x^x^LN||>=^1.5',
      'OBX|4|SN|x^x^LN||=^7',
      'OBX|5|SN|x^x^LN||^1^:^128',
      'OBX|6|SN|x^x^LN||^10^-^20',
      'OBX|7|SN|x^x^LN||<>^3',
      'OBX|8|SN|x^x^LN||^abc',
    ).map((o) => o.value);
    assert.deepEqual(v, [
      { kind: 'numeric', value: 5, comparator: '<' },
      { kind: 'numeric', value: 5 },
      { kind: 'numeric', value: 1.5, comparator: '>=' },
      { kind: 'numeric', value: 7 },
      { kind: 'text', value: '1:128' },
      { kind: 'text', value: '10-20' },
      { kind: 'text', value: '<>3' },
      undefined,
    ]);
  });

  test('text, coded and datetime values', () => {
    const v = obx(
      'OBX|1|ST|x^x^LN||a \\F\\ b^c',
      'OBX|2|FT|x^x^LN||l1\\.br\\l2',
      'OBX|3|CWE|x^x^LN||LA6626-1^Alert^LN',
      'OBX|4|CE|x^x^LN||^Only text',
      'OBX|5|TS|x^x^LN||202403011015+0100',
      'OBX|6|DT|x^x^LN||20240301',
      'OBX|7|DTM|x^x^LN||garbage',
      'OBX|8|CNE|x^x^LN||Y^Yes^HL70136',
    ).map((o) => o.value);
    assert.deepEqual(v, [
      { kind: 'text', value: 'a | b^c' },
      { kind: 'text', value: 'l1\nl2' },
      { kind: 'coded', code: 'LA6626-1', display: 'Alert', system: 'http://loinc.org' },
      { kind: 'text', value: 'Only text' },
      { kind: 'datetime', value: '2024-03-01T10:15:00+01:00' },
      { kind: 'datetime', value: '2024-03-01' },
      undefined,
      { kind: 'coded', code: 'Y', display: 'Yes', system: 'http://terminology.hl7.org/CodeSystem/v2-0136' },
    ]);
  });

  test('code, system, unit, status, flags, times', () => {
    const [a, b, ...rest] = obx(
      'OBX|1|NM|8867-4^Heart rate^LN||72|/min^beats^UCUM||H~A|||F|||20240301095900',
      'OBX||NM|^^^LOCAL1^Local thing^99LOC||1|^mg/dL|||||P',
    );
    assert.deepEqual(a, {
      ref: '1',
      code: '8867-4',
      system: 'http://loinc.org',
      display: 'Heart rate',
      valueType: 'NM',
      value: { kind: 'numeric', value: 72 },
      unit: '/min',
      status: 'F',
      effectiveAt: '2024-03-01T09:59:00+00:00',
      flags: ['H', 'A'],
    });
    assert.equal(b!.ref, '2', 'index when OBX-1 is empty');
    assert.equal(b!.code, 'LOCAL1');
    assert.equal(b!.system, '99LOC');
    assert.equal(b!.display, 'Local thing');
    assert.equal(b!.unit, 'mg/dL', 'OBX-6.2 when OBX-6.1 is empty');
    assert.equal(b!.effectiveAt, '2024-03-01T10:00:00+00:00', 'OBR-7 when OBX-14 is empty');
    assert.deepEqual(rest, []);
  });

  test('effective time falls back to MSH-7 without OBR', () => {
    const e = normalizeHl7(parseHl7(`${MSH}\rOBX|1|NM|x^x^LN||1`), SRC);
    assert.equal(e.observations[0]!.effectiveAt, '2024-03-01T10:15:00+00:00');
  });

  test('coding systems', () => {
    assert.equal(codingSystemUri('LN'), 'http://loinc.org');
    assert.equal(codingSystemUri('SCT'), 'http://snomed.info/sct');
    assert.equal(codingSystemUri('SNM'), 'http://snomed.info/sct');
    assert.equal(codingSystemUri('UCUM'), 'http://unitsofmeasure.org');
    assert.equal(codingSystemUri('HOSP-LAB'), 'HOSP-LAB');
    assert.equal(codingSystemUri(undefined), undefined);
  });
});
