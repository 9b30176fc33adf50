/** Canonical URLs of the project's FHIR profiles (StructureDefinitions in fhir-profiles/). */
export const PROFILE_BASE = 'http://clinical-ml-gateway.dev/fhir/StructureDefinition';
export const PREDICTION_OBSERVATION_PROFILE = `${PROFILE_BASE}/ml-prediction-observation`;
export const MODEL_DEVICE_PROFILE = `${PROFILE_BASE}/ml-model-device`;
export const PREDICTION_PROVENANCE_PROFILE = `${PROFILE_BASE}/ml-prediction-provenance`;
export const MODEL_CARD_DOCUMENT_PROFILE = `${PROFILE_BASE}/ml-model-card-document`;

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

/** HL7 AI Transparency on FHIR (http://hl7.org/fhir/uv/aitransparency): profiles, extensions, codes. */
export const AI_IG = 'http://hl7.org/fhir/uv/aitransparency';
export const AI_DEVICE_PROFILE = `${AI_IG}/StructureDefinition/AI-Device`;
export const AI_MODEL_CARD_PROFILE = `${AI_IG}/StructureDefinition/AI-ModelCard`;
export const AI_PROVENANCE_PROFILE = `${AI_IG}/StructureDefinition/AI-Provenance`;
export const AI_KIND_EXTENSION = `${AI_IG}/StructureDefinition/aitransparency.AIKind`;
export const AI_MODEL_CARD_EXTENSION = `${AI_IG}/StructureDefinition/aitransparency.modelCardDescription`;
export const AI_DEVICE_TYPE_CS = `${AI_IG}/CodeSystem/AIdeviceTypeCS`;
export const AI_INPUTS_CS = `${AI_IG}/CodeSystem/AIinputsCS`;
/** Device.type of every AI Device (and the role of the AI agent in an AI Provenance). */
export const AI_DEVICE_TYPE = {
  system: AI_DEVICE_TYPE_CS,
  code: 'Artificial-Intelligence',
  display: 'All kinds of Artificial Intelligence',
} as const;
/** The AIKind of the gateway's models: tabular ONNX classifiers. */
export const AI_KIND_ML = {
  system: AI_DEVICE_TYPE_CS,
  code: 'Machine-Learning-Models',
  display: 'Machine Learning Models',
} as const;

/** Observation.category when the model card names none. */
export const DEFAULT_OBSERVATION_CATEGORY = {
  system: 'http://terminology.hl7.org/CodeSystem/observation-category',
  code: 'survey',
  display: 'Survey',
} as const;

/** Prefix of the identifier system of a visit number (PV1-19) from one assigning authority. */
export const VISIT_NUMBER_SYSTEM_PREFIX = 'urn:ml-gateway:visit-number:';
