import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ageIn, extractFeatures, triggersScoring } from '../../src/features/extract.js';
import { loadMappings, type Mapping } from '../../src/features/mapping.js';
import { num, oru } from './helpers.js';

const { mappings } = loadMappings('mappings');
const aki = mappings.find((m) => m.model === 'aki-risk') as Mapping;
const vitals = mappings.find((m) => m.model === 'vitals-deterioration') as Mapping;

describe('extractFeatures', () => {
  it('matches LOINC and local codes and converts units', () => {
    const event = oru([
      { code: '2160-0', value: num(1.1), unit: 'mg/dL' },
      {
        code: 'CREAT',
        system: 'HOSP-LAB',
        value: num(88.4),
        unit: 'umol/L',
        effectiveAt: '2024-06-01T11:00:00Z',
      },
      { code: '2823-3', value: num(4.1), unit: 'mEq/L' },
      { code: '2951-2', value: num(139), unit: 'mmol/L' },
      { code: '9999-9', value: num(1), unit: 'mg/dL' },
    ]);
    const { values, rejected } = extractFeatures(event, aki);
    assert.deepEqual(rejected, []);
    assert.deepEqual(
      values.map((v) => [v.feature, v.sourceRef]),
      [
        ['creatinine', '1'],
        ['creatinine', '2'],
        ['potassium', '3'],
        ['sodium', '4'],
        ['age', 'PID-7'],
      ],
    );
    const local = values[1]!;
    assert.ok(Math.abs(local.value - 1) < 1e-4);
    assert.equal(local.unit, 'mg/dL');
    assert.equal(local.sourceUnit, 'umol/L');
    assert.equal(local.sourceValue, 88.4);
    assert.equal(local.observedAt, '2024-06-01T11:00:00.000Z');
    assert.equal(values[0]?.sourceUnit, undefined);
    assert.equal(values[2]?.value, 4.1);
    assert.equal(values[2]?.sourceUnit, 'mEq/L');
  });

  it('converts [degF] body temperature and keeps FHIR references', () => {
    const event = oru([
      { code: '8310-5', value: num(98.6), unit: '[degF]', sourceReference: 'Observation/t1' },
    ]);
    const [temp] = extractFeatures(event, vitals).values;
    assert.equal(temp?.feature, 'body_temperature');
    assert.ok(Math.abs(temp!.value - 37) < 1e-9);
    assert.equal(temp?.sourceReference, 'Observation/t1');
  });

  it('rejects out-of-range, cancelled, non-numeric, unaccepted units and missing units, without values', () => {
    const event = oru([
      { code: '8867-4', value: num(400), unit: '/min' },
      { code: '8867-4', value: num(80), unit: '/min', status: 'X' },
      { code: '8867-4', value: num(80), unit: '/min', status: 'entered-in-error' },
      { code: '8480-6', value: { kind: 'text', value: 'see note' }, unit: 'mm[Hg]' },
      { code: '8480-6', value: num(120), unit: 'kPa' },
      { code: '9279-1', value: num(18) },
      { code: '59408-5', value: { kind: 'numeric', value: 90, comparator: '>' }, unit: '%' },
      { code: '8310-5', value: num(37.2), unit: 'Cel', status: 'final' },
    ]);
    const { values, rejected } = extractFeatures(event, vitals);
    assert.deepEqual(
      values.map((v) => v.feature),
      ['body_temperature', 'age'],
    );
    assert.deepEqual(
      rejected.map((r) => [r.feature, r.ref]),
      [
        ['heart_rate', '1'],
        ['heart_rate', '2'],
        ['heart_rate', '3'],
        ['systolic_bp', '4'],
        ['systolic_bp', '5'],
        ['respiratory_rate', '6'],
        ['spo2', '7'],
      ],
    );
    assert.match(rejected[0]!.reason, /outside valid range \[20, 300\] \/min/);
    assert.match(rejected[1]!.reason, /status not accepted/);
    assert.match(rejected[4]!.reason, /unit kPa not accepted/);
    for (const r of rejected) {
      assert.doesNotMatch(r.reason, /400|12345|see note|\b120\b|\b18\b|\b90\b/);
    }
  });

  it('honours per-feature statuses (preliminary creatinine is not used)', () => {
    const event = oru([
      { code: '2160-0', value: num(1.1), unit: 'mg/dL', status: 'P' },
      { code: '3094-0', value: num(20), unit: 'mg/dL', status: 'P' },
    ]);
    const { values, rejected } = extractFeatures(event, aki);
    assert.deepEqual(
      values.map((v) => v.feature),
      ['urea_nitrogen', 'age'],
    );
    assert.deepEqual(
      rejected.map((r) => r.feature),
      ['creatinine'],
    );
  });

  it('computes age from the birth date at the observation time', () => {
    const before = oru([
      { code: '8867-4', value: num(80), unit: '/min', effectiveAt: '2024-05-19T23:00:00Z' },
    ]);
    const after = oru([
      { code: '8867-4', value: num(80), unit: '/min', effectiveAt: '2024-05-20T08:00:00Z' },
    ]);
    const age = (e: typeof before) => extractFeatures(e, vitals).values.find((v) => v.feature === 'age');
    assert.equal(age(before)?.value, 63);
    assert.equal(age(before)?.observedAt, '2024-05-19T23:00:00.000Z');
    assert.equal(age(after)?.value, 64);
    const noObs = oru([], { occurredAt: '2024-06-01T00:00:00Z' });
    assert.equal(age(noObs)?.value, 64);
    const child = oru([], { patient: { identifiers: [], birthDate: '2015-01-01' } });
    assert.match(extractFeatures(child, vitals).rejected[0]!.reason, /age: value outside valid range/);
    const unknown = oru([], { patient: { identifiers: [] } });
    assert.deepEqual(extractFeatures(unknown, vitals), { values: [], rejected: [] });
    assert.equal(ageIn('mo', 2024, 1, 31, new Date('2024-03-30T00:00:00Z')), 1);
    assert.equal(ageIn('d', 2024, 1, 1, new Date('2024-01-08T00:00:00Z')), 7);
  });

  it('falls back to the message time when an observation has none', () => {
    const event = oru([{ code: '8867-4', value: num(80), unit: '/min', effectiveAt: undefined }]);
    assert.equal(extractFeatures(event, vitals).values[0]?.observedAt, '2024-06-01T10:05:00.000Z');
  });
});

describe('triggersScoring', () => {
  it('triggers on listed message types and feature updates, never on age alone', () => {
    const hr = oru([{ code: '8867-4', value: num(80), unit: '/min' }]);
    assert.equal(triggersScoring(hr, vitals, extractFeatures(hr, vitals).values), true);
    const onlyAge = oru([]);
    assert.equal(triggersScoring(onlyAge, vitals, extractFeatures(onlyAge, vitals).values), false);
    const adt = oru([{ code: '8867-4', value: num(80), unit: '/min' }], {
      source: { channel: 'mllp', messageId: 'm', controlId: 'c', messageType: 'ADT^A08' },
    });
    assert.equal(triggersScoring(adt, vitals, extractFeatures(adt, vitals).values), false);
    const full = oru([{ code: '8867-4', value: num(80), unit: '/min' }], {
      source: { channel: 'mllp', messageId: 'm', controlId: 'c', messageType: 'ORU^R01^ORU_R01' },
    });
    assert.equal(triggersScoring(full, vitals, extractFeatures(full, vitals).values), true);
  });

  it('triggers aki-risk only on creatinine or urea nitrogen', () => {
    const k = oru([{ code: '2823-3', value: num(4), unit: 'mmol/L' }]);
    assert.equal(triggersScoring(k, aki, extractFeatures(k, aki).values), false);
    const cr = oru([{ code: '2160-0', value: num(1), unit: 'mg/dL' }]);
    assert.equal(triggersScoring(cr, aki, extractFeatures(cr, aki).values), true);
  });
});
