import { PermanentFailure } from '../errors/permanent.js';
import { contentUri, isWritableUri } from '../fhir/content-ids.js';
import { VISIT_NUMBER_SYSTEM_PREFIX } from '../fhir/profiles.js';
import type { Bundle, Resource } from '../fhir/types.js';
import { errorsOf, validateFhir } from '../fhir/validate.js';
import type { LineageOutput } from '../lineage/store.js';
import { interpret } from '../models/registry/card.js';
import type { LoadedModel } from '../models/runtime/onnx-model.js';
import type { EncounterInfo } from '../normalize/event.js';
import { inSpanSync } from '../observability/tracing.js';
import { CircuitOpenError, isTransientFhirError } from '../writeback/fhir/breaker.js';
import { buildPredictionTransaction, modelCardDocumentId } from '../writeback/fhir/builders.js';
import type { FhirWriter, WrittenPrediction } from '../writeback/fhir/writer.js';

export { PermanentFailure };

export interface PredictionWriterDeps {
  writer: FhirWriter;
  /** FHIR identifier system of an HL7 assigning authority (or of a FHIR system, which is its own). */
  identifierSystem(assigner: string | undefined): string;
  /**
   * Validate every resource before writing. Off for the embedded store, which validates what it
   * is given itself (and answers 400 with the issues).
   */
  validateBeforeWrite: boolean;
  /**
   * The model card DocumentReference of a version (models/card-render.ts), written with the first
   * prediction of the version in each process: so every Provenance's card exists, even when the
   * card could not be published at start (FHIR target down). Unset: the card is not written here.
   */
  modelCard?(m: Prediction['model']): Promise<Resource>;
}

/** One score to write, whichever way it came (a message's event, a re-scoring tick). */
export interface Prediction {
  /** Stable id of what triggered it (message id, re-scoring id): the write is idempotent on it. */
  eventKey: string;
  patient: { assigner?: string | undefined; value: string; reference?: string | undefined };
  /** The encounter the triggering input names (PV1-19, FHIR `encounter`). */
  encounter?: EncounterInfo | undefined;
  model: Pick<LoadedModel, 'name' | 'version' | 'sha256' | 'card'>;
  mappingVersion: string;
  score: number;
  /** Time of the newest input. */
  effectiveAt: string;
  issuedAt: string;
  /** FHIR `Type/id` of the inputs. */
  derivedFrom?: readonly string[];
  /** HL7 inputs: sender (MSH-3|MSH-4) and MSH-10. */
  hl7Sources?: ReadonlyArray<{ sender: string; controlId: string }>;
}

/**
 * Writes predictions to the FHIR target: the model Device, the Observation and its Provenance in one
 * idempotent transaction (src/writeback/fhir/builders.ts), each resource validated first where the target
 * does not validate itself. Both the message pipeline and scheduled re-scoring write through this,
 * so a score reads the same in the chart whichever way it was made. A Device this writer already
 * wrote is left out of later transactions.
 */
export function createPredictionWriter(d: PredictionWriterDeps) {
  const writtenDevices = new Set<string>();
  const writtenCards = new Set<string>();

  /** The transaction of one prediction as this writer sends it, validated where the target does not. */
  async function prepare(p: Prediction) {
    const bundle = predictionBundle(p, d.identifierSystem);
    const deviceEntry = bundle.entry?.find((e) => e.resource?.resourceType === 'Device');
    const deviceUrl = deviceEntry?.request?.url ?? '';
    if (deviceEntry && writtenDevices.has(deviceUrl))
      bundle.entry = bundle.entry?.filter((e) => e !== deviceEntry);
    // The card goes through the same durable, retried path as the result: the message's job.
    const cardUrl = `DocumentReference/${modelCardDocumentId(p.model)}`;
    if (d.modelCard && !writtenCards.has(cardUrl)) {
      const card = await d.modelCard(p.model);
      bundle.entry = [{ resource: card, request: { method: 'PUT', url: cardUrl } }, ...(bundle.entry ?? [])];
    }
    if (d.validateBeforeWrite) {
      const refused = inSpanSync('validate', { 'gateway.fhir.resources': bundle.entry?.length ?? 0 }, () =>
        refusals(bundle),
      );
      if (refused.length > 0) throw new PermanentFailure(refused.join('; '));
    }
    return { bundle, deviceUrl, cardUrl };
  }

  function done(
    p: Prediction,
    w: WrittenPrediction,
    r: { deviceUrl: string; cardUrl: string },
  ): LineageOutput {
    if (r.deviceUrl) writtenDevices.add(r.deviceUrl);
    if (d.modelCard) writtenCards.add(r.cardUrl);
    return {
      model: p.model.name,
      modelVersion: p.model.version,
      modelSha256: p.model.sha256,
      mappingVersion: p.mappingVersion,
      resource: w.observation,
      provenance: w.provenance,
      device: w.device,
    };
  }

  async function writePrediction(p: Prediction): Promise<LineageOutput> {
    const r = await prepare(p);
    return done(p, await d.writer.write(r.bundle), r);
  }

  /**
   * The predictions of a batch in one transaction; per prediction its output, or the error that
   * kept it from being written. A resource refused before sending fails its prediction only; when
   * the server refuses the group, each is written again on its own, so one message the server
   * refuses never fails its neighbours (a server that is failing fails them all: they are retried).
   * `within` runs each prediction's preparation in its message's trace.
   */
  async function writePredictions(
    ps: readonly Prediction[],
    within: <T>(i: number, fn: () => T) => T = (_i, fn) => fn(),
  ): Promise<Array<LineageOutput | { error: unknown }>> {
    const out: Array<LineageOutput | { error: unknown }> = new Array(ps.length);
    const ready: Array<{ i: number } & Awaited<ReturnType<typeof prepare>>> = [];
    for (const [i, p] of ps.entries()) {
      try {
        ready.push({ i, ...(await within(i, () => prepare(p))) });
      } catch (error) {
        out[i] = { error };
      }
    }
    const one = async (r: (typeof ready)[number]) => {
      try {
        out[r.i] = done(ps[r.i]!, await d.writer.write(r.bundle), r);
      } catch (error) {
        out[r.i] = { error };
      }
    };
    if (ready.length <= 1) {
      for (const r of ready) await one(r);
      return out;
    }
    try {
      const written = await d.writer.writeMany(ready.map((r) => r.bundle));
      ready.forEach((r, k) => {
        out[r.i] = done(ps[r.i]!, written[k]!, r);
      });
    } catch (error) {
      if (isTransientFhirError(error) || error instanceof CircuitOpenError)
        for (const r of ready) out[r.i] = { error };
      else for (const r of ready) await one(r);
    }
    return out;
  }

  return Object.assign(writePrediction, { writePredictions });
}

export type WritePrediction = ReturnType<typeof createPredictionWriter>;

/** The transaction of one prediction, as the writer sends it (before it leaves out what it wrote). */
export function predictionBundle(p: Prediction, identifierSystem: (assigner: string | undefined) => string) {
  const band = interpret(p.model.card, p.score);
  return buildPredictionTransaction({
    eventKey: p.eventKey,
    patient: {
      system: identifierSystem(p.patient.assigner),
      value: p.patient.value,
      ...(p.patient.reference ? { reference: p.patient.reference } : {}),
    },
    ...(p.encounter ? { encounter: encounterRef(p.encounter) } : {}),
    model: { name: p.model.name, version: p.model.version, sha256: p.model.sha256, card: p.model.card },
    mappingVersion: p.mappingVersion,
    score: p.score,
    ...(band ? { interpretation: band.interpretation } : {}),
    effectiveAt: p.effectiveAt,
    issuedAt: p.issuedAt,
    derivedFrom: [...new Set(p.derivedFrom ?? [])],
    hl7Sources: (p.hl7Sources ?? []).map((s) => ({ sender: s.sender, controlId: s.controlId })),
  });
}

/** Why a FHIR server that validates would refuse each resource of a bundle (`Type: expression text`). */
export function refusals(bundle: Bundle): string[] {
  const out: string[] = [];
  for (const entry of bundle.entry ?? []) {
    const errors = errorsOf(validateFhir(entry.resource as never));
    if (errors.length > 0)
      out.push(
        `${(entry.resource as { resourceType: string }).resourceType} failed validation: ${errors
          .map((i) => `${i.expression?.join(',') ?? ''} ${i.details?.text ?? i.diagnostics ?? ''}`.trim())
          .join('; ')}`,
      );
  }
  return out;
}

/** Observation.encounter: the literal reference and/or the visit number in its authority's system. */
function encounterRef(e: EncounterInfo): { system?: string; value?: string; reference?: string } {
  const value = e.identifier && e.identifier !== e.reference ? e.identifier : undefined;
  const system = !value
    ? undefined
    : e.assigner && /^(https?|urn):/.test(e.assigner) && isWritableUri(e.assigner)
      ? e.assigner
      : e.assigner
        ? contentUri(VISIT_NUMBER_SYSTEM_PREFIX, e.assigner)
        : undefined;
  return {
    ...(e.reference ? { reference: e.reference } : {}),
    ...(value ? { value } : {}),
    ...(system ? { system } : {}),
  };
}
