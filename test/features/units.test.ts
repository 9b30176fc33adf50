import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  conversionProblem,
  convertUnit,
  isValidUnit,
  UnitConversionError,
  unitProblem,
} from '../../src/features/units.js';

const close = (a: number, b: number, eps = 1e-6) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

describe('units', () => {
  it('converts [degF] to Cel (affine)', () => {
    close(convertUnit(98.6, '[degF]', 'Cel'), 37);
    close(convertUnit(32, '[degF]', 'Cel'), 0);
    close(convertUnit(212, '[degF]', 'Cel'), 100);
  });

  it('converts creatinine umol/L to mg/dL with the molecular weight', () => {
    close(convertUnit(88.4, 'umol/L', 'mg/dL', { molecularWeight: 113.12 }), 1, 1e-4);
    close(convertUnit(1, 'mg/dL', 'umol/L', { molecularWeight: 113.12 }), 88.4, 0.01);
    assert.throws(() => convertUnit(88.4, 'umol/L', 'mg/dL'), /molecular weight/);
  });

  it('converts meq/L to mmol/L with the charge', () => {
    close(convertUnit(4.1, 'meq/L', 'mmol/L', { charge: 1 }), 4.1);
    close(convertUnit(4, 'meq/L', 'mmol/L', { charge: 2 }), 2);
    assert.throws(() => convertUnit(4, 'meq/L', 'mmol/L'), /charge/);
  });

  it('keeps identical units and converts plain ratios', () => {
    assert.equal(convertUnit(72, '/min', '/min'), 72);
    close(convertUnit(1.2, 'mg/dL', 'mg/L'), 12);
  });

  it('rejects invalid and incommensurable units with a clear error', () => {
    assert.throws(
      () => convertUnit(1, '[degF', 'Cel'),
      (e: unknown) => {
        assert.ok(e instanceof UnitConversionError);
        assert.match(e.message, /'\[degF' is not a valid UCUM unit/);
        return true;
      },
    );
    assert.throws(() => convertUnit(1, 'kg', 'Cel'), /not commensurable/);
    assert.throws(() => convertUnit(1, 'mEq/L', 'mmol/L', { charge: 1 }), /not a valid UCUM unit/);
    assert.throws(() => convertUnit(Number.NaN, 'Cel', 'Cel'), /finite/);
  });

  it('validates units', () => {
    for (const u of ['Cel', '[degF]', '/min', 'mm[Hg]', '%', 'a', 'meq/L', '{beats}/min'])
      assert.ok(isValidUnit(u), u);
    for (const u of ['[degF', 'foo', '', ' Cel']) assert.ok(!isValidUnit(u), u);
    assert.equal(unitProblem('[degF'), "'[degF' is not a valid UCUM unit");
    assert.equal(conversionProblem('[degF]', 'Cel'), undefined);
    assert.match(conversionProblem('mm[Hg]', 'Cel') ?? '', /not commensurable/);
  });
});
