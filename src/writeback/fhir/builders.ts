import { createHash } from 'node:crypto';
import { contentUri, fhirString, literalReference } from '../../fhir/content-ids.js';
import {
  buildModelDevice,
  deterministicId,
  type ModelRef,
  modelCardDocumentId,
  modelDeviceId,
} from '../../fhir/model-device.js';
import {
  AI_DEVICE_TYPE,
  AI_PROVENANCE_PROFILE,
  AIAST,
  DEFAULT_OBSERVATION_CATEGORY,
  HL7_MESSAGE_SYSTEM_PREFIX,
  PREDICTION_OBSERVATION_PROFILE,
  PREDICTION_PROVENANCE_PROFILE,
  PREDICTION_SYSTEM,
  UCUM,
} from '../../fhir/profiles.js';
import type { Bundle, BundleEntry, Coding, Resource } from '../../fhir/types.js';

// The model's own FHIR face (Device, card id) lives in fhir/model-device.ts, below the registry.
export { buildModelDevice, deterministicId, type ModelRef, modelCardDocumentId, modelDeviceId };

export interface PredictionInput {
  /** Stable id of the triggering event (e.g. the gateway message id). */
  eventKey: string;
  /** Patient identifier (PID-3 or the FHIR input), and its literal reference when known. */
  patient: { system?: string; value: string; reference?: string };
  /** The encounter the input names (PV1-19 visit number, FHIR `encounter`), when it names one. */
  encounter?: { system?: string; value?: string; reference?: string };
  model: ModelRef;
  mappingVersion: string;
  score: number;
  interpretation?: { system: string; code: string; display?: string };
  /** Time of the newest input (FHIR dateTime). */
  effectiveAt: string;
  /** When the prediction was made (FHIR instant). */
  issuedAt: string;
  /** FHIR `Type/id` references of the inputs. */
  derivedFrom: string[];
  /** HL7 v2 inputs: sending application/facility and MSH-10. */
  hl7Sources: Array<{ sender: string; controlId: string }>;
}

/** A urn:uuid (RFC 4122 v5 layout) derived from a seed, for transaction fullUrls. */
function deterministicUuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  const variant = ((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function predictionIdentifier(p: Pick<PredictionInput, 'eventKey' | 'model'>): string {
  const out = p.model.card.output.code;
  return deterministicId(
    'prediction',
    p.eventKey,
    p.model.name,
    p.model.version,
    `${out.system}|${out.code}`,
  );
}

/** A reference by literal reference and/or identifier; every part from content made valid FHIR. */
function contentReference(
  type: string,
  r: { system?: string | undefined; value?: string | undefined; reference?: string | undefined },
): Record<string, unknown> | undefined {
  const reference = literalReference(r.reference, type);
  const value = r.value === undefined ? undefined : fhirString(r.value);
  const identifier = value ? { ...(r.system ? { system: r.system } : {}), value } : undefined;
  if (!reference && !identifier) return undefined;
  return { ...(reference ? { reference } : {}), type, ...(identifier ? { identifier } : {}) };
}

function buildObservation(p: PredictionInput, deviceRef: string, identifier: string): Resource {
  const out = p.model.card.output;
  const subject = contentReference('Patient', p.patient) ?? { type: 'Patient', display: 'unidentified' };
  const encounter = p.encounter ? contentReference('Encounter', p.encounter) : undefined;
  const derivedFrom = derivedReferences(p.derivedFrom);
  const interpretation: Coding | undefined = p.interpretation && {
    system: p.interpretation.system,
    code: p.interpretation.code,
    ...(p.interpretation.display ? { display: p.interpretation.display } : {}),
  };
  return {
    resourceType: 'Observation',
    meta: { profile: [PREDICTION_OBSERVATION_PROFILE], security: [{ ...AIAST }] },
    identifier: [{ system: PREDICTION_SYSTEM, value: identifier }],
    status: 'final',
    category: [{ coding: [{ ...(out.category ?? DEFAULT_OBSERVATION_CATEGORY) }] }],
    code: { coding: [{ ...out.code }], ...(out.code.display ? { text: out.code.display } : {}) },
    subject,
    ...(encounter ? { encounter } : {}),
    effectiveDateTime: p.effectiveAt,
    issued: p.issuedAt,
    valueQuantity: {
      value: p.score,
      unit: out.unit.display ?? out.unit.code,
      system: UCUM,
      code: out.unit.code,
    },
    ...(interpretation ? { interpretation: [{ coding: [interpretation] }] } : {}),
    device: { reference: deviceRef, display: `${p.model.name} ${p.model.version}` },
    note: [{ text: `model ${p.model.name} ${p.model.version}; mapping ${p.mappingVersion}` }],
    ...(derivedFrom.length ? { derivedFrom: derivedFrom.map((reference) => ({ reference })) } : {}),
  };
}

/**
 * The FHIR inputs as literal references, once each: `Observation/x.component[1]` (a value read from
 * a component) is `Observation/x`; what is no reference FHIR can carry is left out.
 */
function derivedReferences(refs: readonly string[]): string[] {
  const out = new Set<string>();
  for (const r of refs) {
    const ref = literalReference(r.replace(/\.component\[\d+\]$/, ''));
    if (ref && !ref.startsWith('urn:')) out.add(ref);
  }
  return [...out];
}

function buildProvenance(p: PredictionInput, observationUrn: string, deviceRef: string): Resource {
  const entity = [
    ...derivedReferences(p.derivedFrom).map((reference) => ({ role: 'source', what: { reference } })),
    // The model card (AI Transparency on FHIR `AI-Provenance`: entity[modelCard], role derivation).
    {
      role: 'derivation',
      what: {
        reference: `DocumentReference/${modelCardDocumentId(p.model)}`,
        display: `model card of ${p.model.name} ${p.model.version}`,
      },
    },
    ...p.hl7Sources.map((s) => {
      const value = fhirString(s.controlId);
      return {
        role: 'source',
        what: {
          type: 'MessageHeader',
          identifier: {
            system: contentUri(HL7_MESSAGE_SYSTEM_PREFIX, s.sender),
            ...(value ? { value } : {}),
          },
          display: fhirString(`HL7 v2 message ${s.controlId} from ${s.sender}`, 200),
        },
      };
    }),
  ];
  return {
    resourceType: 'Provenance',
    id: deterministicId('provenance', predictionIdentifier(p)),
    meta: { profile: [PREDICTION_PROVENANCE_PROFILE, AI_PROVENANCE_PROFILE] },
    target: [{ reference: observationUrn }],
    recorded: p.issuedAt,
    reason: [{ coding: [{ ...AIAST }] }],
    activity: {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation',
          code: 'CREATE',
          display: 'create',
        },
      ],
    },
    agent: [
      {
        type: {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type',
              code: 'assembler',
              display: 'Assembler',
            },
          ],
        },
        role: [{ coding: [{ ...AI_DEVICE_TYPE }] }],
        who: { reference: deviceRef, display: `${p.model.name} ${p.model.version}` },
      },
    ],
    entity,
  };
}

/**
 * The transaction that writes one prediction idempotently: the model Device (PUT by its
 * deterministic id), the Observation (POST, ifNoneExist on its deterministic identifier) and its
 * Provenance (PUT by a deterministic id; Provenance has no identifier element in R4).
 * Writing the same input twice leaves one Device, one Observation and one Provenance.
 */
export function buildPredictionTransaction(p: PredictionInput): Bundle {
  const device = buildModelDevice(p.model);
  const deviceRef = `Device/${device.id}`;
  const identifier = predictionIdentifier(p);
  const observationUrn = deterministicUuid(`observation|${identifier}`);
  const provenance = buildProvenance(p, observationUrn, deviceRef);
  const entry: BundleEntry[] = [
    {
      fullUrl: deterministicUuid(`device|${device.id}`),
      resource: device,
      request: { method: 'PUT', url: deviceRef },
    },
    {
      fullUrl: observationUrn,
      resource: buildObservation(p, deviceRef, identifier),
      request: {
        method: 'POST',
        url: 'Observation',
        ifNoneExist: `identifier=${encodeURIComponent(`${PREDICTION_SYSTEM}|${identifier}`)}`,
      },
    },
    {
      fullUrl: deterministicUuid(`provenance|${provenance.id}`),
      resource: provenance,
      request: { method: 'PUT', url: `Provenance/${provenance.id}` },
    },
  ];
  return { resourceType: 'Bundle', type: 'transaction', entry };
}
