import type { Hl7Segment } from './segment.js';

/**
 * Group-aware paths in the spirit of HAPI's Terser: `OBR[2]/OBX[3]-5.1` is OBX-5.1 of the third
 * OBX in the group the second OBR starts (up to the next OBR). Steps nest: `ORC[2]/OBR[1]/OBX-5`.
 * A step's group runs from its segment up to the next segment of the same name, within the group of
 * the step before. `[n]` may also be written `(n)`, as in HAPI; without it the first is meant.
 */
export interface Hl7GroupPath {
  steps: Array<{ segment: string; occurrence: number }>;
  field: number;
  repetition: number;
  component: number;
  subcomponent: number;
}

const STEP = /^([A-Z][A-Z0-9]{2})(?:[[(](\d+)[\])])?$/;
const LAST = /^([A-Z][A-Z0-9]{2})(?:[[(](\d+)[\])])?-(\d+)(?:[[(](\d+)[\])])?(?:\.(\d+)(?:\.(\d+))?)?$/;

/** Parses a group path; throws RangeError when malformed. */
export function parseGroupPath(path: string): Hl7GroupPath {
  const parts = path.replace(/^\//, '').split('/');
  const last = LAST.exec(parts[parts.length - 1] ?? '');
  const n = (s: string | undefined) => (s === undefined ? 1 : Number(s));
  if (!last) throw new RangeError(`invalid HL7 path: ${path}`);
  const steps: Hl7GroupPath['steps'] = [];
  for (const p of parts.slice(0, -1)) {
    const m = STEP.exec(p);
    if (!m) throw new RangeError(`invalid HL7 path: ${path}`);
    steps.push({ segment: m[1]!, occurrence: n(m[2]) });
  }
  steps.push({ segment: last[1]!, occurrence: n(last[2]) });
  const out: Hl7GroupPath = {
    steps,
    field: Number(last[3]),
    repetition: n(last[4]),
    component: n(last[5]),
    subcomponent: n(last[6]),
  };
  if (
    steps.some((s) => s.occurrence < 1) ||
    out.field < 1 ||
    out.repetition < 1 ||
    out.component < 1 ||
    out.subcomponent < 1
  ) {
    throw new RangeError(`invalid HL7 path: ${path}`);
  }
  return out;
}

/** The segment a group path's steps lead to; undefined when any step finds nothing. */
export function findInGroups(
  segments: readonly Hl7Segment[],
  steps: Hl7GroupPath['steps'],
): Hl7Segment | undefined {
  let from = 0;
  let to = segments.length;
  for (let s = 0; s < steps.length; s++) {
    const { segment, occurrence } = steps[s]!;
    let seen = 0;
    let at = -1;
    for (let i = from; i < to; i++) {
      if (segments[i]!.name === segment && ++seen === occurrence) {
        at = i;
        break;
      }
    }
    if (at < 0) return undefined;
    if (s === steps.length - 1) return segments[at];
    // The group of this step: up to the next segment of the same name, within the enclosing group.
    let end = at + 1;
    while (end < to && segments[end]!.name !== segment) end++;
    from = at + 1;
    to = end;
  }
  return undefined;
}

/** Every segment named `name` in the group of the given steps (e.g. all OBX under OBR[2]). */
export function allInGroup(
  segments: readonly Hl7Segment[],
  steps: Hl7GroupPath['steps'],
  name: string,
): Hl7Segment[] {
  const out: Hl7Segment[] = [];
  for (let i = 1; ; i++) {
    const seg = findInGroups(segments, [...steps, { segment: name, occurrence: i }]);
    if (!seg) return out;
    out.push(seg);
  }
}
