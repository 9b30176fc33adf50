import { eventTime, extractFeatures } from '../features/extract.js';
import type { Mapping } from '../features/mapping.js';
import type { ModelCard } from '../models/registry/card.js';
import { buildCardResources } from '../models/registry/card-render.js';
import type { ClinicalEvent } from '../normalize/event.js';
import { primaryIdentifier } from '../normalize/patient-key.js';
import { predictionBundle, refusals } from './prediction.js';

export interface WriteDryRunInput {
  event: ClinicalEvent;
  /** HL7 inputs: the sender as the inbox keys it (MSH-3|MSH-4, fields as sent). */
  sender?: string | undefined;
  mapping: Mapping;
  card: ModelCard;
  identifierSystem(assigner: string | undefined): string;
}

/**
 * What write-back would refuse if this event scored (`gateway mappings check`): the prediction
 * transaction the pipeline would build for it (Device, Observation, Provenance, and the model card
 * DocumentReference), with a stand-in score, validated as a validating FHIR server would. Empty: it
 * would be written. Undefined: the event names no patient identifier (FHIR inputs get it from the
 * Patient the gateway links or fetches). Nothing is scored, stored or sent.
 */
export function dryRunWrite(o: WriteDryRunInput): string[] | undefined {
  const patient = primaryIdentifier(o.event.patient);
  if (!patient) return undefined;
  const { values } = extractFeatures(o.event, o.mapping);
  const model = { name: o.card.name, version: o.card.version, sha256: o.card.onnx.sha256, card: o.card };
  const bundle = predictionBundle(
    {
      eventKey: `dry-run:${o.event.source.messageId}`,
      patient: { ...patient, reference: o.event.patient.reference },
      encounter: o.event.encounter,
      model,
      mappingVersion: o.mapping.version,
      score: 0.5,
      effectiveAt: eventTime(o.event) ?? new Date().toISOString(),
      issuedAt: new Date().toISOString(),
      derivedFrom: values.flatMap((v) => (v.sourceReference ? [v.sourceReference] : [])),
      hl7Sources: o.sender ? [{ sender: o.sender, controlId: o.event.source.controlId }] : [],
    },
    o.identifierSystem,
  );
  const card = buildCardResources(model, undefined).document;
  bundle.entry = [
    { resource: card, request: { method: 'PUT', url: `DocumentReference/${card.id}` } },
    ...(bundle.entry ?? []),
  ];
  return refusals(bundle);
}
