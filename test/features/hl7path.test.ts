import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extractFeatures } from '../../src/features/extract.js';
import { formatMappingError, type Mapping, parseMapping } from '../../src/features/mapping.js';
import { parseHl7 } from '../../src/hl7/parser.js';
import { normalizeHl7 } from '../../src/normalize/hl7v2.js';

/**
 * Group-aware HL7 paths in mapping files (`hl7.path`): a value found by its place in the message
 * (the OBX under the second OBR, a field of a site's Z-segment) rather than by its OBX-3 code.
 */

// A point-of-care creatinine (first order) and the laboratory's (second order) carry the same
// LOINC code; the site's Z-segment carries the dialysis dry weight, in kg by its interface spec.
const MESSAGE = [
  'MSH|^~\\&|LAB|HOSP|GW|HOSP|20240601101500||ORU^R01|CTL-GP-1|P|2.5.1',
  'PID|1||MRN77^^^HOSP^MR||Doe^Jane||19600520|F',
  'OBR|1||POC1|POCT^Point of care panel^L|||20240601100000',
  'OBX|1|NM|2160-0^Creatinine^LN||0.9|mg/dL|||||F|||20240601100100',
  'OBR|2||LAB2|BMP^Basic metabolic panel^L|||20240601093000',
  'OBX|1|NM|2160-0^Creatinine^LN||132.6|umol/L|||||F',
  'OBX|2|NM|3094-0^Urea nitrogen^LN||18|mg/dL|||||P|||20240601094500',
  'ZDW|1|72.5|kg|20240531080000',
  'ZDW|2|161|[lb_av]',
].join('\r');

const mappingText = (features: string) => `
model: demo
triggers: { messageTypes: [ORU^R01] }
features:
${features}
`;

const LAB_CREATININE = `
  - name: lab_creatinine
    source: observation
    codes: [{ system: http://loinc.org, code: 2160-0 }]
    hl7: { path: 'OBR[2]/OBX[1]-5' }
    unit: mg/dL
    acceptUnits: [umol/L]
    molecularWeight: 113.12
    range: [0.1, 25]
    lookback: 72h
    missing: required
`;

function mapping(features: string): Mapping {
  const { mapping, errors } = parseMapping(mappingText(features), 'demo.yaml');
  assert.deepEqual(errors.map(formatMappingError), []);
  return mapping!;
}

function event(text = MESSAGE) {
  return normalizeHl7(parseHl7(text), { channel: 'test', messageId: 'm1' }, { defaultTimezone: '-05:00' });
}

describe('hl7.path in mappings', () => {
  it('takes the OBX under the second OBR, with its own unit, status and the order time', () => {
    const { values, rejected } = extractFeatures(event(), mapping(LAB_CREATININE));
    assert.deepEqual(rejected, []);
    assert.equal(values.length, 1, 'the point-of-care creatinine of the same code is not used');
    const v = values[0]!;
    assert.equal(v.feature, 'lab_creatinine');
    assert.equal(v.sourceRef, 'OBR[2]/OBX[1]-5');
    assert.equal(v.sourceUnit, 'umol/L');
    assert.equal(v.sourceValue, 132.6);
    assert.ok(Math.abs(v.value - 1.5) < 0.01, `132.6 umol/L is about 1.5 mg/dL, got ${v.value}`);
    // No OBX-14: the time of its order (OBR-7), read in the configured zone.
    assert.equal(v.observedAt, '2024-06-01T14:30:00.000Z');
  });

  it('applies the status and unit checks to a value found by path', () => {
    const m = mapping(`
  - name: bun
    source: observation
    hl7: { path: 'OBR[2]/OBX[2]-5' }
    unit: mg/dL
    range: [1, 300]
    lookback: 72h
    missing: required
    statuses: [F]
`);
    const { values, rejected } = extractFeatures(event(), m);
    assert.deepEqual(values, []);
    assert.deepEqual(rejected, [
      { feature: 'bun', ref: 'OBR[2]/OBX[2]-5', reason: 'bun: result status not accepted (accepted: F)' },
    ]);
  });

  it('reads a Z-segment field with the unit and time the mapping names', () => {
    const m = mapping(`
  - name: dry_weight
    source: observation
    hl7: { path: 'ZDW-2', unitPath: 'ZDW-3', timePath: 'ZDW-4' }
    unit: kg
    acceptUnits: ['[lb_av]']
    range: [20, 300]
    lookback: 7d
    missing: required
  - name: second_weight
    source: observation
    hl7: { path: 'ZDW[2]-2', unitPath: 'ZDW[2]-3' }
    unit: kg
    acceptUnits: ['[lb_av]']
    range: [20, 300]
    lookback: 7d
    missing: required
`);
    const { values, rejected } = extractFeatures(event(), m);
    assert.deepEqual(rejected, []);
    const [dry, second] = values;
    assert.equal(dry?.value, 72.5);
    assert.equal(dry?.observedAt, '2024-05-31T13:00:00.000Z');
    assert.equal(second?.sourceUnit, '[lb_av]');
    assert.ok(Math.abs(second!.value - 73.03) < 0.01);
    // No time path: the message time.
    assert.equal(second?.observedAt, '2024-06-01T15:15:00.000Z');
  });

  it('uses the unit the mapping states when the field carries none, and rejects a non-number', () => {
    const m = mapping(`
  - name: dry_weight
    source: observation
    hl7: { path: 'ZDW-2', unit: kg }
    unit: kg
    range: [20, 300]
    lookback: 7d
    missing: required
`);
    const ok = extractFeatures(event(), m);
    assert.equal(ok.values[0]?.value, 72.5);
    const bad = extractFeatures(event(MESSAGE.replace('|72.5|', '|n/a|')), m);
    assert.deepEqual(bad.rejected, [
      { feature: 'dry_weight', ref: 'ZDW-2', reason: 'dry_weight: value is not numeric' },
    ]);
  });

  it('finds nothing (and rejects nothing) where the message has no such group', () => {
    const oneOrder = MESSAGE.split('\r').slice(0, 4).join('\r');
    const { values, rejected } = extractFeatures(event(oneOrder), mapping(LAB_CREATININE));
    assert.deepEqual([values, rejected], [[], []]);
  });

  it('keeps the message out of the event JSON (its normalized form)', () => {
    const e = event();
    assert.equal(JSON.stringify(e).includes('ZDW'), false, 'the message is not part of the normalized form');
    assert.ok(e.hl7, 'but it is there for paths');
  });

  it('names the file, feature and key of a bad path or a missing unit', () => {
    const { errors } = parseMapping(
      mappingText(`
  - name: a
    source: observation
    hl7: { path: 'OBR[x]/OBX-5' }
    unit: mg/dL
    range: [0, 1]
    lookback: 1h
    missing: required
  - name: b
    source: observation
    hl7: { path: 'ZDW-2' }
    unit: kg
    range: [0, 1]
    lookback: 1h
    missing: required
  - name: c
    source: observation
    hl7: { path: 'ZDW-2', unit: kg, unitPath: 'ZDW-3' }
    unit: kg
    range: [0, 1]
    lookback: 1h
    missing: required
`),
      'demo.yaml',
    );
    const text = errors.map(formatMappingError);
    assert.ok(
      text.some((e) =>
        /^demo\.yaml:\d+ features\[0\]\.hl7\.path: 'OBR\[x\]\/OBX-5' is not an HL7 path/.test(e),
      ),
      text.join('\n'),
    );
    assert.ok(
      text.some((e) => /features\[1\]\.hl7: a path that does not end at OBX-5 needs unit/.test(e)),
      text.join('\n'),
    );
    assert.ok(
      text.some((e) => /features\[2\]\.hl7\.unit: give unit or unitPath, not both/.test(e)),
      text.join('\n'),
    );
  });
});
