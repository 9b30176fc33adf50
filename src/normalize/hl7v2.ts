import type { Hl7Message, Hl7Repetition, Hl7Segment } from '../hl7/parser.js';
import type {
  CanonicalObservation,
  ClinicalEvent,
  EncounterInfo,
  EventSource,
  Hl7Input,
  ObservationValue,
  PatientIdentifier,
  PatientInfo,
} from './event.js';
import { hl7DateToIso, hl7TimeToIso } from './hl7-time.js';

export interface NormalizeHl7Options {
  /** Offset for timestamps that carry none, e.g. '+00:00' (default) or '-05:00'. */
  defaultTimezone?: string;
}

/**
 * HL7 table 0396 coding-system names -> FHIR system URIs (terminology.hl7.org "v2 to FHIR" list).
 * Any other name is kept as sent, which is what local codes in mappings/*.yaml are matched on.
 */
const CODING_SYSTEMS: Readonly<Record<string, string>> = Object.freeze({
  LN: 'http://loinc.org',
  LOINC: 'http://loinc.org',
  SCT: 'http://snomed.info/sct',
  SNM: 'http://snomed.info/sct',
  SNM3: 'http://snomed.info/sct',
  SNOMED: 'http://snomed.info/sct',
  SCTID: 'http://snomed.info/sct',
  UCUM: 'http://unitsofmeasure.org',
  I9C: 'http://hl7.org/fhir/sid/icd-9-cm',
  I10: 'http://hl7.org/fhir/sid/icd-10',
  I10C: 'http://hl7.org/fhir/sid/icd-10-cm',
  RXNORM: 'http://www.nlm.nih.gov/research/umls/rxnorm',
});

/** Maps an HL7 coding-system name (OBX-3.3, CWE-3) to a URI when known, else keeps it. */
export function codingSystemUri(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const known = CODING_SYSTEMS[name.toUpperCase()];
  if (known) return known;
  const table = /^HL7(\d{4})$/i.exec(name);
  return table ? `http://terminology.hl7.org/CodeSystem/v2-${table[1]}` : name;
}

/** Copies the defined entries only, so that results compare and serialize without `undefined` keys. */
function defined<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

/** HL7 `""` (explicit null) reads as absent. */
function present(v: string | undefined): string | undefined {
  return v === undefined || v === '""' ? undefined : v;
}

/**
 * One HL7 v2 message -> the canonical clinical event. Generic over message types: whatever MSH,
 * PID, PV1, OBR and OBX segments the message has are read (ORU^R01, ADT^A01/A08, ORM^O01...).
 * Pure: no I/O, no clock.
 */
export function normalizeHl7(
  msg: Hl7Message,
  source: { channel: string; messageId: string },
  opts: NormalizeHl7Options = {},
): ClinicalEvent {
  const tz = opts.defaultTimezone ?? '+00:00';
  const msh = msg.segment('MSH');
  const v = (f: number, c = 1) => present(msh?.value(f, c));
  const type = v(9, 1) ?? '';
  const trigger = v(9, 2);
  const eventSource: EventSource = defined({
    channel: source.channel,
    messageId: source.messageId,
    controlId: v(10) ?? '',
    messageType: trigger ? `${type}^${trigger}` : type,
    sendingApplication: v(3),
    sendingFacility: v(4),
    version: v(12),
  });
  const messageTime = hl7TimeToIso(v(7), tz);
  const encounter = readEncounter(msg.segment('PV1'));
  const event: ClinicalEvent = defined({
    source: eventSource,
    occurredAt: messageTime,
    patient: readPatient(msg.segment('PID')),
    encounter,
    observations: readObservations(msg, messageTime, tz),
  });
  const hl7: Hl7Input = { message: msg, defaultTimezone: tz };
  return Object.defineProperty(event, 'hl7', { value: hl7, enumerable: false });
}

function readPatient(pid: Hl7Segment | undefined): PatientInfo {
  if (!pid) return { identifiers: [] };
  const identifiers: PatientIdentifier[] = [];
  for (const rep of pid.repetitions(3)) {
    const value = present(rep.value(1));
    if (value === undefined) continue;
    identifiers.push(defined({ value, assigner: present(rep.value(4, 1)), type: present(rep.value(5)) }));
  }
  return defined({
    identifiers,
    birthDate: hl7DateToIso(present(pid.value(7))),
    sex: present(pid.value(8)),
  });
}

/** A repetition's components as text (`5W^501^A`), trailing empty components dropped. */
function asText(rep: Hl7Repetition | undefined, separator: string): string | undefined {
  if (!rep) return undefined;
  const parts = rep.components();
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  const text = parts.join(separator);
  return text === '' ? undefined : text;
}

function readEncounter(pv1: Hl7Segment | undefined): EncounterInfo | undefined {
  if (!pv1) return undefined;
  const e: EncounterInfo = defined({
    identifier: present(pv1.value(19)),
    assigner: present(pv1.value(19, 4)),
    patientClass: present(pv1.value(2)),
    location: present(asText(pv1.repetitions(3)[0], pv1.delimiters.component)),
  });
  return Object.keys(e).length > 0 ? e : undefined;
}

function readObservations(
  msg: Hl7Message,
  messageTime: string | undefined,
  tz: string,
): CanonicalObservation[] {
  const out: CanonicalObservation[] = [];
  let orderTime: string | undefined;
  let index = 0;
  for (const seg of msg.segments) {
    if (seg.name === 'OBR') {
      orderTime = hl7TimeToIso(present(seg.value(7)), tz);
    } else if (seg.name === 'OBX') {
      index++;
      out.push(readObservation(seg, index, orderTime ?? messageTime, tz));
    }
  }
  return out;
}

function readObservation(
  obx: Hl7Segment,
  index: number,
  fallbackTime: string | undefined,
  tz: string,
): CanonicalObservation {
  const val = (f: number, c = 1, s = 1) => present(obx.value(f, c, s));
  // CWE: when the primary code is empty, the alternate identifier (components 4-6) is used.
  const alternate = val(3, 1) === undefined && val(3, 4) !== undefined;
  const base = alternate ? 4 : 1;
  const valueType = val(2)?.toUpperCase();
  const flags = obx.repetitions(8).flatMap((r) => {
    const f = present(r.value(1));
    return f === undefined ? [] : [f];
  });
  const obs: CanonicalObservation = defined({
    ref: val(1) ?? String(index),
    code: val(3, base) ?? '',
    system: codingSystemUri(val(3, base + 2)),
    display: val(3, base + 1),
    valueType,
    value: readValue(obx.repetitions(5)[0], valueType, tz),
    unit: val(6, 1) ?? val(6, 2),
    status: val(11),
    effectiveAt: hl7TimeToIso(val(14), tz) ?? fallbackTime,
    flags: flags.length > 0 ? flags : undefined,
  });
  return obs;
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)$/;
const COMPARATORS = new Set(['<', '<=', '>', '>=']);
type Comparator = '<' | '<=' | '>' | '>=';

function toNumber(text: string | undefined): number | undefined {
  const t = text?.trim();
  return t !== undefined && NUMBER.test(t) ? Number(t) : undefined;
}

function numeric(value: number, comparator?: string): ObservationValue {
  return comparator && COMPARATORS.has(comparator)
    ? { kind: 'numeric', value, comparator: comparator as Comparator }
    : { kind: 'numeric', value };
}

/** OBX-5 typed by OBX-2; undefined when empty or not readable as that type. */
export function readValue(
  rep: Hl7Repetition | undefined,
  valueType: string | undefined,
  tz = '+00:00',
): ObservationValue | undefined {
  const first = present(rep?.value(1));
  if (!rep || (first === undefined && rep.components().every((c) => c === ''))) return undefined;
  switch (valueType) {
    case 'NM': {
      // A leading comparator (`<0.5`, `>=90`) is read as one, as senders often put it into NM.
      const m = /^\s*(<=|>=|<|>)?\s*(.*)$/.exec(first ?? '');
      const n = toNumber(m?.[2]);
      return n === undefined ? undefined : numeric(n, m?.[1]);
    }
    case 'SN':
      return readStructuredNumeric(rep);
    case 'CE':
    case 'CWE':
    case 'CNE':
    case 'CF':
    case 'ID':
    case 'IS': {
      const display = present(rep.value(2));
      if (first === undefined) return display === undefined ? undefined : text(display);
      const coded: ObservationValue = defined({
        kind: 'coded' as const,
        code: first,
        display,
        system: codingSystemUri(present(rep.value(3))),
      });
      return coded;
    }
    case 'TS':
    case 'DTM':
    case 'DT': {
      const iso = hl7TimeToIso(first, tz);
      return iso === undefined ? undefined : ({ kind: 'datetime', value: iso } as const);
    }
    default:
      // ST, TX, FT and other types as text: a delimiter the sender did not escape is kept as sent.
      return text(rep.text());
  }
}

function text(value: string): ObservationValue | undefined {
  return value === '' ? undefined : { kind: 'text', value };
}

/** SN: `<^5` -> < 5, `^5` -> 5, `^1^:^128` (ratio) and `^10^-^20` (range) -> text `1:128`, `10-20`. */
function readStructuredNumeric(rep: Hl7Repetition): ObservationValue | undefined {
  const comparator = present(rep.value(1))?.trim();
  const n1 = present(rep.value(2))?.trim();
  const sep = present(rep.value(3))?.trim();
  const n2 = present(rep.value(4))?.trim();
  if (sep === undefined && n2 === undefined) {
    const n = toNumber(n1);
    if (n === undefined) return undefined;
    if (comparator === undefined || comparator === '=' || COMPARATORS.has(comparator))
      return numeric(n, comparator);
    return text(`${comparator}${n1}`);
  }
  return text(`${comparator ?? ''}${n1 ?? ''}${sep ?? ''}${n2 ?? ''}`);
}
