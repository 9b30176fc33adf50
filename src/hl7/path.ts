/** A position in a message: `SEG[occurrence]-field[repetition].component.subcomponent`, all 1-based. */
export interface Hl7Path {
  segment: string;
  occurrence: number;
  field: number;
  repetition: number;
  component: number;
  subcomponent: number;
}

const PATH = /^([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?-(\d+)(?:\[(\d+)\])?(?:\.(\d+)(?:\.(\d+))?)?$/;

/** Parses `PID-3`, `PID-3.1`, `PID-3[2].4`, `OBX[3]-5.1`, `PID-3.4.2`. Throws RangeError when malformed. */
export function parseHl7Path(path: string): Hl7Path {
  const m = PATH.exec(path);
  const n = (s: string | undefined) => (s === undefined ? 1 : Number(s));
  const p = m && {
    segment: m[1]!,
    occurrence: n(m[2]),
    field: Number(m[3]),
    repetition: n(m[4]),
    component: n(m[5]),
    subcomponent: n(m[6]),
  };
  if (!p || p.occurrence < 1 || p.field < 1 || p.repetition < 1 || p.component < 1 || p.subcomponent < 1) {
    throw new RangeError(`invalid HL7 path: ${path}`);
  }
  return p;
}
