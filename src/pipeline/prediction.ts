import type { LineageOutput } from '../lineage/store.js';
import { interpret } from '../models/card.js';
import type { LoadedModel } from '../models/onnx-model.js';
import { inSpanSync } from '../observability/tracing.js';
import { buildPredictionTransaction } from '../writeback/builders.js';
import { validateFhir } from '../writeback/validate.js';
import type { FhirWriter } from '../writeback/writer.js';

/** A failure that retrying will not mend: the message goes to `failed` with its reason at once. */
export class PermanentFailure extends Error {
  override name = 'PermanentFailure';
}

export interface PredictionWriterDeps {
  writer: FhirWriter;
  /** FHIR identifier system of an HL7 assigning authority (or of a FHIR system, which is its own). */
  identifierSystem(assigner: string | undefined): string;
  /**
   * Validate every resource before writing. Off for the embedded store, which validates what it
   * is given itself (and answers 400 with the issues).
   */
  validateBeforeWrite: boolean;
}

/** One score to write, whichever way it came (a message's event, a re-scoring tick). */
export interface Prediction {
  /** Stable id of what triggered it (message id, re-scoring id): the write is idempotent on it. */
  eventKey: string;
  patient: { assigner?: string | undefined; value: string };
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
 * idempotent transaction (src/writeback/builders.ts), each resource validated first where the target
 * does not validate itself. Both the message pipeline and scheduled re-scoring write through this,
 * so a score reads the same in the chart whichever way it was made. A Device this writer already
 * wrote is left out of later transactions.
 */
export function createPredictionWriter(d: PredictionWriterDeps) {
  const writtenDevices = new Set<string>();

  return async function writePrediction(p: Prediction): Promise<LineageOutput> {
    const band = interpret(p.model.card, p.score);
    const bundle = buildPredictionTransaction({
      eventKey: p.eventKey,
      patient: { system: d.identifierSystem(p.patient.assigner), value: p.patient.value },
      model: { name: p.model.name, version: p.model.version, sha256: p.model.sha256, card: p.model.card },
      mappingVersion: p.mappingVersion,
      score: p.score,
      ...(band ? { interpretation: band.interpretation } : {}),
      effectiveAt: p.effectiveAt,
      issuedAt: p.issuedAt,
      derivedFrom: [...new Set(p.derivedFrom ?? [])],
      hl7Sources: (p.hl7Sources ?? []).map((s) => ({ sender: s.sender, controlId: s.controlId })),
    });
    const deviceEntry = bundle.entry?.find((e) => e.resource?.resourceType === 'Device');
    const deviceUrl = deviceEntry?.request?.url ?? '';
    if (deviceEntry && writtenDevices.has(deviceUrl))
      bundle.entry = bundle.entry?.filter((e) => e !== deviceEntry);
    for (const entry of d.validateBeforeWrite ? (bundle.entry ?? []) : []) {
      const type = (entry.resource as { resourceType: string }).resourceType;
      const issues = inSpanSync('validate', { 'fhir.resource_type': type }, () =>
        validateFhir(entry.resource as never),
      );
      const errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
      if (errors.length > 0) {
        throw new PermanentFailure(
          `${(entry.resource as { resourceType: string }).resourceType} failed validation: ${errors
            .map((i) => `${i.expression?.join(',') ?? ''} ${i.details?.text ?? i.diagnostics ?? ''}`.trim())
            .join('; ')}`,
        );
      }
    }
    const written = await d.writer.write(bundle);
    if (deviceUrl) writtenDevices.add(deviceUrl);
    return {
      model: p.model.name,
      modelVersion: p.model.version,
      modelSha256: p.model.sha256,
      mappingVersion: p.mappingVersion,
      resource: written.observation,
      provenance: written.provenance,
      device: written.device,
    };
  };
}

export type WritePrediction = ReturnType<typeof createPredictionWriter>;
