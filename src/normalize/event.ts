import type { Hl7Message } from '../hl7/parser.js';

/**
 * The canonical clinical event: whatever door a message came through (HL7 v2 over MLLP or HTTP,
 * FHIR REST, FHIR subscription), the pipeline after normalization sees only this shape.
 */

/** One identifier of a patient, e.g. PID-3 `12345^^^HOSP^MR` -> { value: '12345', assigner: 'HOSP', type: 'MR' }. */
export interface PatientIdentifier {
  value: string;
  /** Assigning authority (CX-4, namespace id) or FHIR identifier.system. */
  assigner?: string;
  /** Identifier type code (CX-5), e.g. MR, PI, MRN. */
  type?: string;
}

export interface PatientInfo {
  identifiers: PatientIdentifier[];
  /** ISO date (YYYY-MM-DD) when known. */
  birthDate?: string;
  /** Administrative sex as sent (HL7 table 0001 or FHIR code). */
  sex?: string;
  /** FHIR inputs: the literal reference the input gave the patient (`Patient/123` or an absolute URL). */
  reference?: string;
}

export interface EncounterInfo {
  /** PV1-19 visit number or FHIR Encounter identifier. */
  identifier?: string;
  /** Assigning authority of the visit number (PV1-19.4) or the FHIR identifier's system. */
  assigner?: string;
  /** FHIR inputs: the literal reference of the encounter (`Encounter/123`). */
  reference?: string;
  /** PV1-2 patient class (I, O, E...). */
  patientClass?: string;
  /** PV1-3 point of care, as text. */
  location?: string;
}

export type ObservationValue =
  | { kind: 'numeric'; value: number; comparator?: '<' | '<=' | '>' | '>=' }
  | { kind: 'text'; value: string }
  | { kind: 'coded'; code: string; display?: string; system?: string }
  | { kind: 'datetime'; value: string };

export interface CanonicalObservation {
  /** OBX-1 set id or FHIR resource id; for lineage and error messages only. */
  ref: string;
  /** Observation code (OBX-3.1 / Coding.code). */
  code: string;
  /** Code system as a URI when known (LN -> http://loinc.org), else the raw HL7 coding system name. */
  system?: string;
  display?: string;
  /** Original HL7 value type (OBX-2), e.g. NM, ST, CE, SN, TS. */
  valueType?: string;
  value?: ObservationValue;
  /** Unit code as sent (OBX-6.1, e.g. "/min", "[degF]", "mg/dL"), UCUM when the sender uses UCUM. */
  unit?: string;
  /** Result status (OBX-11 F/P/C/X... or FHIR status). */
  status?: string;
  /** Observation time as ISO 8601 with offset when the source gave one. */
  effectiveAt?: string;
  /** Abnormal flags (OBX-8) or FHIR interpretation codes. */
  flags?: string[];
  /** For FHIR inputs: the `Type/id` this value came from (goes to derivedFrom). */
  sourceReference?: string;
}

export interface EventSource {
  /** 'mllp', 'http', 'fhir', 'subscription'. */
  channel: string;
  /** Gateway message id (inbox key). */
  messageId: string;
  /** MSH-10 or FHIR Bundle/resource id. */
  controlId: string;
  /** MSH-9 as `TYPE^TRIGGER` (e.g. ORU^R01), or the FHIR resource type. */
  messageType: string;
  sendingApplication?: string;
  sendingFacility?: string;
  /** HL7 version (MSH-12) when HL7. */
  version?: string;
}

/** A FHIR resource of the input and the reference it is known by (`Type/id`, or a source server URL). */
export interface FhirInput {
  resource: { resourceType: string; id?: string; [key: string]: unknown };
  reference: string;
}

export interface ClinicalEvent {
  source: EventSource;
  /** When the source says the message was created (MSH-7), ISO 8601. */
  occurredAt?: string;
  patient: PatientInfo;
  encounter?: EncounterInfo;
  observations: CanonicalObservation[];
  /** FHIR inputs only: the resources themselves, for FHIRPath extraction declared in mappings. */
  fhir?: readonly FhirInput[];
  /**
   * HL7 inputs only: the parsed message, for group-aware paths declared in mappings (`hl7.path`).
   * Not enumerable: an event compares and serializes as its normalized form.
   */
  readonly hl7?: Hl7Input;
}

/** The parsed HL7 message an event came from, and the offset its zone-less timestamps are read in. */
export interface Hl7Input {
  message: Hl7Message;
  defaultTimezone: string;
}
