import { decodeUriPart } from '../../fhir/content-ids.js';
import type {
  CanonicalObservation,
  ClinicalEvent,
  EncounterInfo,
  EventSource,
  FhirInput,
  ObservationValue,
  PatientIdentifier,
  PatientInfo,
} from '../event.js';

/**
 * FHIR R4 -> the canonical clinical event (pure). Observations give one canonical observation for
 * their value and one per `component` (a blood pressure panel 85354-9 gives 8480-6 and 8462-4);
 * `hasMember` panels carry no value of their own: their members are resources of their own.
 * Patient identifiers are mapped to the HL7 assigning authority of the same system (config
 * `patients.identifierSystems`), so a patient keyed from PID-3 and from Patient.identifier is one.
 */

export const LOINC = 'http://loinc.org';
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';

// biome-ignore lint/suspicious/noExplicitAny: FHIR JSON is read defensively, field by field.
type Json = any;

export interface IdentifierMapping {
  /** HL7 assigning authority -> FHIR identifier.system (config patients.identifierSystems). */
  systems: Readonly<Record<string, string>>;
  /** System prefix of authorities not listed (config patients.defaultSystemPrefix). */
  defaultSystemPrefix: string;
}

/** The HL7 assigning authority a FHIR identifier system stands for; the system itself when none. */
export function authorityOf(system: string | undefined, m: IdentifierMapping): string | undefined {
  if (!system) return undefined;
  for (const [authority, s] of Object.entries(m.systems)) if (s === system) return authority;
  // The gateway writes `prefix` + the authority percent-encoded (src/fhir/content-ids.ts).
  if (m.defaultSystemPrefix && system.startsWith(m.defaultSystemPrefix)) {
    const part = system.slice(m.defaultSystemPrefix.length);
    return decodeUriPart(part) ?? part;
  }
  return system;
}

function isConfigured(system: string | undefined, m: IdentifierMapping): boolean {
  return (
    !!system &&
    (Object.values(m.systems).includes(system) ||
      (!!m.defaultSystemPrefix && system.startsWith(m.defaultSystemPrefix)))
  );
}

/** One FHIR Identifier as the canonical identifier; an identifier in a configured system counts as MR. */
export function canonicalIdentifier(id: Json, m: IdentifierMapping): PatientIdentifier | undefined {
  if (typeof id?.value !== 'string' || id.value === '') return undefined;
  const codings: Json[] = Array.isArray(id.type?.coding) ? id.type.coding : [];
  const type =
    codings.find((c) => c?.system === V2_0203 && typeof c.code === 'string')?.code ??
    codings.find((c) => typeof c?.code === 'string')?.code ??
    (isConfigured(id.system, m) ? 'MR' : undefined);
  const assigner = authorityOf(id.system, m);
  return { value: id.value, ...(assigner ? { assigner } : {}), ...(type ? { type } : {}) };
}

/** Identifiers of a Patient, those in configured systems first. */
export function patientInfo(patient: Json, m: IdentifierMapping): PatientInfo {
  const ids: Json[] = Array.isArray(patient?.identifier) ? patient.identifier : [];
  const ordered = [
    ...ids.filter((i) => isConfigured(i?.system, m)),
    ...ids.filter((i) => !isConfigured(i?.system, m)),
  ];
  const identifiers = ordered
    .map((i) => canonicalIdentifier(i, m))
    .filter((i): i is PatientIdentifier => !!i);
  return {
    identifiers,
    ...(typeof patient?.birthDate === 'string' ? { birthDate: patient.birthDate } : {}),
    ...(typeof patient?.gender === 'string' ? { sex: patient.gender } : {}),
  };
}

export function encounterInfo(enc: Json): EncounterInfo {
  const id = Array.isArray(enc?.identifier) ? enc.identifier.find((i: Json) => i?.value) : undefined;
  const loc = Array.isArray(enc?.location) ? enc.location[0]?.location?.display : undefined;
  return {
    ...(id ? { identifier: String(id.value) } : enc?.id ? { identifier: `Encounter/${enc.id}` } : {}),
    ...(id && typeof id.system === 'string' ? { assigner: id.system } : {}),
    ...(typeof enc?.id === 'string' ? { reference: `Encounter/${enc.id}` } : {}),
    ...(typeof enc?.class?.code === 'string' ? { patientClass: enc.class.code } : {}),
    ...(typeof loc === 'string' ? { location: loc } : {}),
  };
}

/** The coding a feature is matched on: LOINC when there is one, else the first. */
function mainCoding(cc: Json): { system?: string; code: string; display?: string } | undefined {
  const codings: Json[] = Array.isArray(cc?.coding) ? cc.coding : [];
  const c = codings.find((x) => x?.system === LOINC && x?.code) ?? codings.find((x) => x?.code);
  if (!c) return undefined;
  return {
    code: String(c.code),
    ...(typeof c.system === 'string' ? { system: c.system } : {}),
    ...(typeof c.display === 'string' ? { display: c.display } : {}),
  };
}

function observedValue(x: Json): { value?: ObservationValue; unit?: string; valueType?: string } {
  if (x?.valueQuantity && typeof x.valueQuantity.value === 'number') {
    const q = x.valueQuantity;
    const unit = typeof q.code === 'string' ? q.code : typeof q.unit === 'string' ? q.unit : undefined;
    return {
      value: { kind: 'numeric', value: q.value, ...(q.comparator ? { comparator: q.comparator } : {}) },
      ...(unit ? { unit } : {}),
      valueType: 'Quantity',
    };
  }
  if (typeof x?.valueInteger === 'number')
    return { value: { kind: 'numeric', value: x.valueInteger }, valueType: 'integer' };
  if (typeof x?.valueString === 'string')
    return { value: { kind: 'text', value: x.valueString }, valueType: 'string' };
  if (typeof x?.valueDateTime === 'string')
    return { value: { kind: 'datetime', value: x.valueDateTime }, valueType: 'dateTime' };
  const coded = x?.valueCodeableConcept ? mainCoding(x.valueCodeableConcept) : undefined;
  if (coded) return { value: { kind: 'coded', ...coded }, valueType: 'CodeableConcept' };
  return {};
}

/** When an Observation speaks for: effective[x], else issued. */
export function effectiveOf(obs: Json): string | undefined {
  return (
    obs?.effectiveDateTime ?? obs?.effectiveInstant ?? obs?.effectivePeriod?.start ?? obs?.issued ?? undefined
  );
}

/** The canonical observations of one Observation resource (its value, then each component). */
export function canonicalObservations(obs: Json, reference: string): CanonicalObservation[] {
  const out: CanonicalObservation[] = [];
  const effectiveAt = effectiveOf(obs);
  const status = typeof obs?.status === 'string' ? obs.status : undefined;
  const flags = (Array.isArray(obs?.interpretation) ? obs.interpretation : [])
    .flatMap((i: Json) => (Array.isArray(i?.coding) ? i.coding : []))
    .map((c: Json) => c?.code)
    .filter((c: unknown): c is string => typeof c === 'string');
  const common = {
    ...(status ? { status } : {}),
    ...(effectiveAt ? { effectiveAt } : {}),
    ...(flags.length > 0 ? { flags } : {}),
    sourceReference: reference,
  };
  const add = (part: Json, ref: string) => {
    const coding = mainCoding(part?.code);
    if (!coding) return;
    out.push({ ref, ...coding, ...observedValue(part), ...common });
  };
  if (observedValue(obs).value) add(obs, reference);
  const components: Json[] = Array.isArray(obs?.component) ? obs.component : [];
  for (const [i, c] of components.entries()) add(c, `${reference}.component[${i}]`);
  return out;
}

export interface FhirEventInput {
  source: EventSource;
  patient: PatientInfo;
  /** The clinical resources of this event with the reference each is known by (`Type/id` or a URL). */
  resources: readonly FhirInput[];
}

/** The event of one patient's FHIR resources. Observations other than final/amended/... are kept: the mapping decides. */
export function normalizeFhir(input: FhirEventInput): ClinicalEvent {
  const observations: CanonicalObservation[] = [];
  let encounter: EncounterInfo | undefined;
  let occurredAt: string | undefined;
  for (const { resource, reference } of input.resources) {
    if (resource.resourceType === 'Observation') {
      observations.push(...canonicalObservations(resource, reference));
      const t = typeof resource.issued === 'string' ? resource.issued : effectiveOf(resource);
      if (t && (!occurredAt || Date.parse(t) > Date.parse(occurredAt))) occurredAt = t;
    } else if (resource.resourceType === 'Encounter' && !encounter) encounter = encounterInfo(resource);
  }
  encounter ??= encounterOfObservations(input.resources);
  const patientRef = patientReference(input.resources);
  return {
    source: input.source,
    ...(occurredAt ? { occurredAt } : {}),
    patient:
      patientRef && !input.patient.reference ? { ...input.patient, reference: patientRef } : input.patient,
    ...(encounter ? { encounter } : {}),
    observations,
    fhir: input.resources,
  };
}

const LITERAL = (type: string) => new RegExp(`^(https?://\\S+/)?${type}/[A-Za-z0-9\\-.]{1,64}$`);

/** The literal reference the input gives its patient: a Patient's own id, else an Observation's subject. */
function patientReference(resources: readonly FhirInput[]): string | undefined {
  for (const { resource } of resources)
    if (resource.resourceType === 'Patient' && typeof resource.id === 'string')
      return `Patient/${resource.id}`;
  for (const { resource } of resources) {
    const ref = (resource as Json).subject?.reference;
    if (typeof ref === 'string' && LITERAL('Patient').test(ref)) return ref;
  }
  return undefined;
}

/** The encounter an input Observation names (`Observation.encounter`: a literal reference and/or identifier). */
function encounterOfObservations(resources: readonly FhirInput[]): EncounterInfo | undefined {
  for (const { resource } of resources) {
    if (resource.resourceType !== 'Observation') continue;
    const enc = (resource as Json).encounter;
    if (!enc || typeof enc !== 'object') continue;
    const ref =
      typeof enc.reference === 'string' && LITERAL('Encounter').test(enc.reference)
        ? enc.reference
        : undefined;
    const id = typeof enc.identifier?.value === 'string' ? enc.identifier : undefined;
    if (!ref && !id) continue;
    return {
      ...(id ? { identifier: String(id.value) } : ref ? { identifier: ref } : {}),
      ...(id && typeof id.system === 'string' ? { assigner: id.system } : {}),
      ...(ref ? { reference: ref } : {}),
    };
  }
  return undefined;
}
