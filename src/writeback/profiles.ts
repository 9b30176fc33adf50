/** Canonical URLs of the project's FHIR profiles (StructureDefinitions in fhir-profiles/). */
export const PROFILE_BASE = 'http://clinical-ml-gateway.dev/fhir/StructureDefinition';
export const PREDICTION_OBSERVATION_PROFILE = `${PROFILE_BASE}/ml-prediction-observation`;
export const MODEL_DEVICE_PROFILE = `${PROFILE_BASE}/ml-model-device`;
export const PREDICTION_PROVENANCE_PROFILE = `${PROFILE_BASE}/ml-prediction-provenance`;

/** Identifier systems of the resources the gateway writes. */
export const MODEL_VERSION_SYSTEM = 'http://clinical-ml-gateway.dev/fhir/model-version';
export const PREDICTION_SYSTEM = 'http://clinical-ml-gateway.dev/fhir/prediction';
/** Prefix of the identifier system of an HL7 v2 message (MSH-10) from one sender. */
export const HL7_MESSAGE_SYSTEM_PREFIX = 'urn:hl7v2:msh10:';

/** The "artificial intelligence asserted" security label every prediction carries. */
export const AIAST = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue',
  code: 'AIAST',
  display: 'artificial intelligence asserted',
} as const;
export const UCUM = 'http://unitsofmeasure.org';
