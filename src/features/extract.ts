import type { CanonicalObservation, ClinicalEvent } from '../normalize/event.js';
import { fhirPathObservations } from './fhirpath.js';
import { hl7PathObservations } from './hl7path.js';
import type { FeatureSpec, Mapping } from './mapping.js';
import { resultStatus } from './mapping-schema.js';
import { convertUnit, UnitConversionError } from './units.js';

/**
 * Pure extraction: one canonical event + one mapping -> feature values in the model's units, and
 * the observations that were considered and rejected, each with a reason. Reasons name the
 * feature, units and limits only: never a value, an identifier or any other patient data.
 */

export interface FeatureValue {
  feature: string;
  /** In the feature's target unit. */
  value: number;
  unit: string;
  /** ISO 8601. */
  observedAt: string;
  /** The observation's ref (OBX-1 set id or FHIR id), `PID-7` for patient.age. */
  sourceRef: string;
  sourceUnit?: string;
  sourceValue?: number;
  /** FHIR `Type/id` the value came from, when the input was FHIR. */
  sourceReference?: string;
}

export interface RejectedValue {
  feature: string;
  ref: string;
  reason: string;
}

export interface Extraction {
  values: FeatureValue[];
  rejected: RejectedValue[];
}

type Outcome = { ok: true; value: FeatureValue } | { ok: false; reason: string };

/** Index from `system|code` to the feature fed by it. */
function codeIndex(mapping: Mapping): Map<string, FeatureSpec> {
  const index = new Map<string, FeatureSpec>();
  for (const f of mapping.features) for (const c of f.codes) index.set(`${c.system}|${c.code}`, f);
  return index;
}

export function extractFeatures(event: ClinicalEvent, mapping: Mapping): Extraction {
  const index = codeIndex(mapping);
  const values: FeatureValue[] = [];
  const rejected: RejectedValue[] = [];
  const consider = (obs: CanonicalObservation, spec: FeatureSpec) => {
    const r = fromObservation(obs, spec, mapping, event.occurredAt);
    if (r.ok) values.push(r.value);
    else rejected.push({ feature: spec.name, ref: obs.ref, reason: r.reason });
  };
  for (const obs of event.observations) {
    if (obs.system === undefined) continue;
    const spec = index.get(`${obs.system}|${obs.code}`);
    if (!spec) continue;
    // A feature with a FHIRPath takes FHIR values from it alone (below), not from its codes;
    // one with an HL7 path takes HL7 values from it alone.
    if (spec.fhirpath && obs.sourceReference && event.fhir) continue;
    if (spec.hl7 && event.hl7) continue;
    consider(obs, spec);
  }
  for (const spec of mapping.features) {
    if (spec.fhirpath && event.fhir)
      for (const obs of fhirPathObservations(event, spec.name, spec.fhirpath)) consider(obs, spec);
    if (spec.hl7 && event.hl7)
      for (const obs of hl7PathObservations(event, spec.name, spec.hl7)) consider(obs, spec);
  }
  for (const spec of mapping.features) {
    if (spec.source !== 'patient.age') continue;
    const r = fromAge(event, spec);
    if (r === undefined) continue;
    if (r.ok) values.push(r.value);
    else rejected.push({ feature: spec.name, ref: 'PID-7', reason: r.reason });
  }
  return { values, rejected };
}

function fromObservation(
  obs: CanonicalObservation,
  spec: FeatureSpec,
  mapping: Mapping,
  occurredAt: string | undefined,
): Outcome {
  const name = spec.name;
  if (obs.status !== undefined && obs.status.trim() !== '') {
    const status = resultStatus(obs.status);
    if (!status || !spec.statuses.includes(status))
      return {
        ok: false,
        reason: `${name}: result status not accepted (accepted: ${spec.statuses.join(', ')})`,
      };
  }
  const v = obs.value;
  if (v?.kind !== 'numeric') return { ok: false, reason: `${name}: value is not numeric` };
  if (v.comparator)
    return { ok: false, reason: `${name}: value has a comparator (${v.comparator}), not exact` };
  const observedAt = obs.effectiveAt ?? occurredAt;
  if (!observedAt || Number.isNaN(Date.parse(observedAt)))
    return { ok: false, reason: `${name}: no observation time (OBX-14 / effective) nor message time` };

  const sent = obs.unit?.trim() ?? '';
  if (sent === '') return { ok: false, reason: `${name}: no unit given; expected ${spec.unit}` };
  const unit = mapping.unitAliases[sent] ?? sent;
  if (unit !== spec.unit && !spec.acceptUnits.includes(unit))
    return {
      ok: false,
      reason: `${name}: unit ${sent} not accepted; expected ${[spec.unit, ...spec.acceptUnits].join(' or ')}`,
    };
  let value: number;
  try {
    value = convertUnit(v.value, unit, spec.unit, {
      ...(spec.molecularWeight !== undefined ? { molecularWeight: spec.molecularWeight } : {}),
      ...(spec.charge !== undefined ? { charge: spec.charge } : {}),
    });
  } catch (err) {
    const why = err instanceof UnitConversionError ? err.message : 'conversion failed';
    return { ok: false, reason: `${name}: ${why}` };
  }
  const [min, max] = spec.range;
  if (!(value >= min && value <= max))
    return { ok: false, reason: `${name}: value outside valid range [${min}, ${max}] ${spec.unit}` };
  return {
    ok: true,
    value: {
      feature: name,
      value,
      unit: spec.unit,
      observedAt: new Date(observedAt).toISOString(),
      sourceRef: obs.ref,
      ...(sent !== spec.unit ? { sourceUnit: sent } : {}),
      ...(value !== v.value ? { sourceValue: v.value } : {}),
      ...(obs.sourceReference ? { sourceReference: obs.sourceReference } : {}),
    },
  };
}

/** The time an event speaks for: its newest observation time, else when the message was created. */
export function eventTime(event: ClinicalEvent): string | undefined {
  let best: number | undefined;
  for (const o of event.observations) {
    const t = o.effectiveAt ? Date.parse(o.effectiveAt) : Number.NaN;
    if (!Number.isNaN(t) && (best === undefined || t > best)) best = t;
  }
  if (best === undefined && event.occurredAt) {
    const t = Date.parse(event.occurredAt);
    if (!Number.isNaN(t)) best = t;
  }
  return best === undefined ? undefined : new Date(best).toISOString();
}

/** Undefined when the event carries no birth date (nothing to say), else the age or why not. */
function fromAge(event: ClinicalEvent, spec: FeatureSpec): Outcome | undefined {
  const birth = event.patient.birthDate;
  if (!birth) return undefined;
  const name = spec.name;
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(birth);
  if (!m) return { ok: false, reason: `${name}: birth date is not a date` };
  const at = eventTime(event);
  if (!at) return { ok: false, reason: `${name}: no event time to compute the age at` };
  const age = ageIn(spec.unit, Number(m[1]), Number(m[2]), Number(m[3]), new Date(at));
  if (age === undefined || age < 0)
    return { ok: false, reason: `${name}: birth date is after the event time` };
  const [min, max] = spec.range;
  if (!(age >= min && age <= max))
    return { ok: false, reason: `${name}: value outside valid range [${min}, ${max}] ${spec.unit}` };
  return {
    ok: true,
    value: { feature: name, value: age, unit: spec.unit, observedAt: at, sourceRef: 'PID-7' },
  };
}

/** Completed years / months / weeks / days between a birth date and `at` (calendar date in UTC). */
export function ageIn(unit: string, y: number, mo: number, d: number, at: Date): number | undefined {
  const ay = at.getUTCFullYear();
  const am = at.getUTCMonth() + 1;
  const ad = at.getUTCDate();
  const before = am < mo || (am === mo && ad < d);
  const days = Math.floor((Date.UTC(ay, am - 1, ad) - Date.UTC(y, mo - 1, d)) / 86_400_000);
  if (days < 0) return undefined;
  switch (unit) {
    case 'a':
      return ay - y - (before ? 1 : 0);
    case 'mo':
      return (ay - y) * 12 + (am - mo) - (ad < d ? 1 : 0);
    case 'wk':
      return Math.floor(days / 7);
    case 'd':
      return days;
    default:
      return undefined;
  }
}

/** True when the message type (first two components of MSH-9, or a FHIR resource type) is listed. */
export function usesMessageType(mapping: Mapping, messageType: string): boolean {
  const short = messageType.split('^').slice(0, 2).join('^');
  return mapping.triggers.messageTypes.includes(short);
}

/**
 * Whether this event should produce a score: its message type is a trigger, and it updated a
 * feature (any observation feature, or one of `triggers.onFeatures`). Age alone never triggers.
 */
export function triggersScoring(
  event: ClinicalEvent,
  mapping: Mapping,
  values: readonly FeatureValue[],
): boolean {
  if (!usesMessageType(mapping, event.source.messageType)) return false;
  const observed = new Set(mapping.features.filter((f) => f.source === 'observation').map((f) => f.name));
  const on = mapping.triggers.onFeatures;
  return values.some((v) => observed.has(v.feature) && (on === 'any' || on.includes(v.feature)));
}
