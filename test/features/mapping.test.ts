import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkMappings } from '../../src/features/check.js';
import {
  formatMappingError,
  loadMappings,
  type MappingError,
  parseMapping,
} from '../../src/features/mapping.js';
import { num, oru } from './helpers.js';

const GOOD = `model: demo
triggers:
  messageTypes: [ORU^R01]
features:
  - name: heart_rate
    source: observation
    codes:
      - { system: http://loinc.org, code: 8867-4 }
    unit: /min
    range: [20, 300]
    lookback: 24h
    missing: required
  - name: temp
    source: observation
    codes:
      - { system: http://loinc.org, code: 8310-5 }
    unit: Cel
    acceptUnits: ['[degF]']
    range: [25, 45]
    lookback: 24h
    missing: { impute: 37 }
  - name: age
    source: patient.age
    unit: a
    range: [0, 130]
    missing: required
`;

function errorsOf(text: string): MappingError[] {
  return parseMapping(text, 'mappings/x.yaml').errors;
}

/** Replaces one line (1-based) of GOOD. */
function withLine(n: number, line: string): string {
  const lines = GOOD.split('\n');
  lines[n - 1] = line;
  return lines.join('\n');
}

describe('mapping files', () => {
  it('loads the shipped mappings without errors, in model input order', () => {
    const { mappings, errors } = loadMappings('mappings');
    assert.deepEqual(errors.map(formatMappingError), []);
    const byModel = Object.fromEntries(mappings.map((m) => [m.model, m.features.map((f) => f.name)]));
    assert.deepEqual(byModel['vitals-deterioration'], [
      'heart_rate',
      'respiratory_rate',
      'spo2',
      'body_temperature',
      'systolic_bp',
      'age',
    ]);
    assert.deepEqual(byModel['aki-risk'], ['creatinine', 'urea_nitrogen', 'potassium', 'sodium', 'age']);
    for (const m of mappings) {
      assert.match(m.version, /^sha256:[0-9a-f]{16}$/);
      assert.ok(Object.isFrozen(m) && Object.isFrozen(m.features[0]));
    }
  });

  it('parses a good file into a frozen mapping', () => {
    const { mapping, errors } = parseMapping(GOOD, 'x.yaml');
    assert.deepEqual(errors, []);
    assert.equal(mapping?.features[0]?.lookbackMs, 86_400_000);
    assert.deepEqual(mapping?.features[1]?.missing, { policy: 'impute', value: 37 });
    assert.deepEqual(mapping?.features[0]?.statuses, ['F', 'C', 'P']);
    assert.equal(mapping?.triggers.onFeatures, 'any');
    assert.throws(() => {
      (mapping as { model: string }).model = 'y';
    });
  });

  it('reports an invalid UCUM unit with file, line and path', () => {
    const errors = errorsOf(withLine(18, "    acceptUnits: ['[degF']"));
    assert.equal(errors.length, 1);
    assert.equal(
      formatMappingError(errors[0]!),
      "mappings/x.yaml:18 features[1].acceptUnits[0]: '[degF' is not a valid UCUM unit",
    );
    const unit = errorsOf(withLine(17, "    unit: '[degF'"));
    assert.equal(
      formatMappingError(unit[0]!),
      "mappings/x.yaml:17 features[1].unit: '[degF' is not a valid UCUM unit",
    );
  });

  it('reports an unquoted bracket unit as a hint to quote it', () => {
    const errors = errorsOf(withLine(17, '    unit: [degF]'));
    assert.equal(errors[0]?.line, 17);
    assert.equal(errors[0]?.path, 'features[1].unit');
    assert.match(errors[0]!.message, /quote/);
  });

  it('reports accepted units that do not convert', () => {
    const errors = errorsOf(withLine(18, "    acceptUnits: ['mm[Hg]']"));
    assert.equal(errors[0]?.line, 18);
    assert.equal(errors[0]?.path, 'features[1].acceptUnits[0]');
    assert.match(errors[0]!.message, /not commensurable/);
  });

  it('reports duplicate feature names and duplicate codes', () => {
    const dupName = errorsOf(withLine(13, '  - name: heart_rate'));
    assert.deepEqual(
      dupName.map((e) => [e.line, e.path]),
      [[13, 'features[1].name']],
    );
    const dupCode = errorsOf(withLine(16, '      - { system: http://loinc.org, code: 8867-4 }'));
    assert.deepEqual(
      dupCode.map((e) => [e.line, e.path]),
      [[16, 'features[1].codes[0]']],
    );
    assert.match(dupCode[0]!.message, /already used by heart_rate/);
  });

  it('reports bad durations, inverted ranges, impute outside range, unknown keys and missing keys', () => {
    assert.deepEqual(
      errorsOf(withLine(11, '    lookback: 24 hours')).map((e) => [e.line, e.path]),
      [[11, 'features[0].lookback']],
    );
    const range = errorsOf(withLine(10, '    range: [300, 20]'));
    assert.deepEqual(
      range.map((e) => [e.line, e.path]),
      [[10, 'features[0].range']],
    );
    assert.match(range[0]!.message, /min 300 is greater than max 20/);
    assert.deepEqual(
      errorsOf(withLine(21, '    missing: { impute: 99 }')).map((e) => [e.line, e.path]),
      [[21, 'features[1].missing.impute']],
    );
    const unknown = errorsOf(withLine(11, '    lookbak: 24h'));
    assert.deepEqual(
      unknown.map((e) => [e.line, e.path]).sort(),
      [
        [11, 'features[0].lookbak'],
        [5, 'features[0].lookback'],
      ].sort(),
    );
    assert.ok(unknown.some((e) => /unknown key 'lookbak'/.test(e.message)));
  });

  it('reports YAML syntax errors with their line', () => {
    const errors = errorsOf(withLine(9, '    unit: /min\n   bad: [1,'));
    assert.ok(errors.length >= 1);
    assert.equal(errors[0]?.path, '');
    assert.ok((errors[0]?.line ?? 0) >= 9);
    assert.match(formatMappingError(errors[0]!), /^mappings\/x\.yaml:\d+: YAML: /);
  });

  it('loads a directory, reporting each broken file and duplicate models', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mappings-'));
    try {
      writeFileSync(join(dir, 'a.yaml'), GOOD);
      writeFileSync(join(dir, 'b.yaml'), GOOD);
      writeFileSync(join(dir, 'c.yaml'), withLine(9, "    unit: '/mni'"));
      writeFileSync(join(dir, 'notes.txt'), 'ignored');
      const { mappings, errors } = loadMappings(dir);
      assert.equal(mappings.length, 1);
      assert.deepEqual(
        errors.map((e) => [e.file, e.line, e.path]),
        [
          [join(dir, 'b.yaml'), undefined, 'model'],
          [join(dir, 'c.yaml'), 9, 'features[0].unit'],
        ],
      );
      const report = checkMappings(dir, [oru([{ code: '8867-4', value: num(80), unit: '/min' }])]);
      assert.equal(report.errors.length, 2);
      assert.equal(report.dryRun.length, 1);
      assert.equal(report.dryRun[0]?.triggered, true);
      assert.deepEqual(report.dryRun[0]?.features, ['heart_rate', 'age']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('dry-runs the shipped mappings over events', () => {
    const events = [
      oru([
        { code: '2160-0', value: num(120), unit: 'umol/L' },
        { code: '2823-3', value: num(4.1), unit: 'mEq/L' },
      ]),
      oru([{ code: '8867-4', value: num(500), unit: '/min' }], {
        source: { channel: 'mllp', messageId: 'm2', controlId: 'C2', messageType: 'ADT^A01' },
      }),
    ];
    const { errors, dryRun } = checkMappings('mappings', events);
    assert.deepEqual(errors, []);
    const aki = dryRun.find((d) => d.mapping === 'aki-risk' && d.event === 'CTRL1');
    assert.deepEqual(aki?.features, ['creatinine', 'potassium', 'age']);
    assert.equal(aki?.triggered, true);
    assert.deepEqual(aki?.missing, ['urea_nitrogen']);
    const vit = dryRun.find((d) => d.mapping === 'vitals-deterioration' && d.event === 'C2');
    assert.equal(vit?.listens, false);
    assert.equal(vit?.triggered, false);
    assert.equal(vit?.rejected[0]?.feature, 'heart_rate');
  });
});
