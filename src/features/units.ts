import { createRequire } from 'node:module';
import { GatewayError } from '../errors/codes.js';

/**
 * UCUM unit validation and conversion over @lhncbc/ucum-lhc (the NLM reference implementation).
 * A call costs about 1-1.5 µs once the library is loaded (~35 ms, on first use), so no
 * per-pair cache is kept: every conversion goes through ucum-lhc and stays exact for
 * affine units ([degF] -> Cel), mass <-> molar (molecular weight) and equivalents (charge).
 */

export interface ConversionOptions {
  /** g/mol, for mass <-> substance conversions (e.g. creatinine 113.12). */
  molecularWeight?: number;
  /** Absolute charge, for equivalents <-> moles (e.g. K+ = 1). */
  charge?: number;
}

interface UcumResult {
  status: 'succeeded' | 'failed' | 'error';
  toVal: number | null;
  msg: string[];
}
interface UcumValidation {
  status: 'valid' | 'invalid' | 'error';
  ucumCode: string | null;
  msg: string[];
}
interface UcumUtils {
  convertUnitTo(from: string, value: number, to: string, opts?: Record<string, unknown>): UcumResult;
  validateUnitString(unit: string, suggest?: boolean): UcumValidation;
}

let utils: UcumUtils | undefined;
/** The ucum-lhc utilities, created on first use (the library loads ~1 MB of definitions). */
function ucum(): UcumUtils {
  if (!utils) {
    const require = createRequire(import.meta.url);
    const pkg = require('@lhncbc/ucum-lhc') as { UcumLhcUtils: { getInstance(): UcumUtils } };
    utils = pkg.UcumLhcUtils.getInstance();
  }
  return utils;
}

export class UnitConversionError extends GatewayError {
  constructor(
    readonly from: string,
    readonly to: string,
    reason: string,
  ) {
    super('GW_UNIT_CONVERSION', from, to, reason);
    this.name = 'UnitConversionError';
  }
}

/** Undefined when `unit` is a valid UCUM expression, else why not (e.g. "'[degF' is not a valid UCUM unit"). */
export function unitProblem(unit: string): string | undefined {
  if (unit.trim() === '') return 'unit is empty';
  if (unit !== unit.trim()) return `'${unit}' has leading or trailing spaces`;
  const r = ucum().validateUnitString(unit, false);
  if (r.status === 'valid' && r.ucumCode === unit) return undefined;
  if (r.status === 'valid') return `'${unit}' is not a UCUM code (did you mean '${r.ucumCode}'?)`;
  return `'${unit}' is not a valid UCUM unit`;
}

export function isValidUnit(unit: string): boolean {
  return unitProblem(unit) === undefined;
}

/** Converts `value` from one UCUM unit to another; throws UnitConversionError with the reason when it cannot. */
export function convertUnit(value: number, from: string, to: string, opts: ConversionOptions = {}): number {
  if (!Number.isFinite(value)) throw new UnitConversionError(from, to, 'value is not a finite number');
  if (from === to) {
    const problem = unitProblem(from);
    if (problem) throw new UnitConversionError(from, to, problem);
    return value;
  }
  for (const u of [from, to]) {
    const problem = unitProblem(u);
    if (problem) throw new UnitConversionError(from, to, problem);
  }
  const options: Record<string, unknown> = {};
  if (opts.molecularWeight !== undefined) options.molecularWeight = opts.molecularWeight;
  if (opts.charge !== undefined) options.charge = opts.charge;
  const r = ucum().convertUnitTo(from, value, to, options);
  if (r.status !== 'succeeded' || r.toVal === null || !Number.isFinite(r.toVal)) {
    throw new UnitConversionError(from, to, describeFailure(r.msg));
  }
  return r.toVal;
}

/** Undefined when `from` converts to `to` with these options, else the reason. */
export function conversionProblem(
  from: string,
  to: string,
  opts: ConversionOptions = {},
): string | undefined {
  try {
    convertUnit(1, from, to, opts);
    return undefined;
  } catch (err) {
    return err instanceof UnitConversionError ? err.message : String(err);
  }
}

function describeFailure(msgs: string[]): string {
  const text = msgs.join(' ');
  if (/molecular weight|mole weight/i.test(text)) return 'a molecular weight is needed (molecularWeight)';
  if (/charge/i.test(text)) return 'the charge of the substance is needed (charge)';
  if (/cannot be converted/i.test(text)) return 'the units are not commensurable';
  return text.replace(/\s+/g, ' ').trim() || 'not convertible';
}
