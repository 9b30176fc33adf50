import { findInGroups, parseGroupPath } from '../hl7/group-path.js';
import type { CanonicalObservation, ClinicalEvent } from '../normalize/event.js';
import { hl7TimeToIso } from '../normalize/hl7-time.js';
import type { Hl7Locator } from './mapping.js';
import { endsAtObx5 } from './mapping-schema.js';

/**
 * Values found by position (`hl7.path` on a mapping feature), in the spirit of HAPI's Terser:
 * `OBR[2]/OBX[1]-5` is the first result under the second order, `ZVS-3` a field of a site's own
 * segment. A path that reaches OBX-5 yields that OBX as the message normalized it (its value typed
 * by OBX-2, unit OBX-6, status OBX-11, time OBX-14, else OBR-7, else MSH-7); any other field is read
 * as a number, with the unit and time the locator names. The result goes through the same status,
 * unit and range checks as a value matched by code. Pure: no I/O.
 */
export function hl7PathObservations(
  event: ClinicalEvent,
  feature: string,
  at: Hl7Locator,
): CanonicalObservation[] {
  const input = event.hl7;
  if (!input) return [];
  const { message, defaultTimezone } = input;
  const p = parseGroupPath(at.path);
  const segment = findInGroups(message.segments, p.steps);
  if (!segment) return [];
  const read = (path: string | undefined) => (path === undefined ? undefined : message.getInGroup(path));

  const field = numberIn(segment.value(p.field, p.component, p.subcomponent, p.repetition));
  let obs: CanonicalObservation;
  if (segment.name === 'OBX') {
    // The OBX as normalized (observations are in OBX order); another of its fields as a number.
    let k = -1;
    for (const s of message.segments) {
      if (s.name === 'OBX') k++;
      if (s === segment) break;
    }
    const normalized = event.observations[k];
    if (!normalized) return [];
    obs = { ...normalized };
    if (!endsAtObx5(at.path)) {
      if (field === undefined) delete obs.value;
      else obs.value = { kind: 'numeric', value: field };
    }
  } else {
    obs = {
      ref: at.path,
      code: feature,
      ...(field === undefined ? {} : { value: { kind: 'numeric', value: field } }),
      ...(event.occurredAt ? { effectiveAt: event.occurredAt } : {}),
    };
  }
  obs.ref = at.path;
  obs.code = feature;
  if (at.unitPath !== undefined) {
    const unit = read(at.unitPath);
    if (unit === undefined) delete obs.unit;
    else obs.unit = unit;
  } else if (obs.unit === undefined && at.unit !== undefined) {
    obs.unit = at.unit;
  }
  if (at.timePath !== undefined) {
    const time = hl7TimeToIso(read(at.timePath), defaultTimezone);
    if (time !== undefined) obs.effectiveAt = time;
  }
  return [obs];
}

/** A field's text as a plain decimal number (`12`, `-0.5`, `.5`); undefined otherwise. */
function numberIn(text: string | undefined): number | undefined {
  const t = text?.trim();
  return t !== undefined && /^[+-]?(?:\d+\.?\d*|\.\d+)$/.test(t) ? Number(t) : undefined;
}
