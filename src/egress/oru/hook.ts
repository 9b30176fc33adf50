import type { LineageEntryInput } from '../../lineage/chain.js';
import type { LineageOutput } from '../../lineage/store.js';
import type { ModelRegistry } from '../../models/registry.js';
import type { ClinicalEvent } from '../../normalize/event.js';
import { primaryIdentifier } from '../../normalize/patient-key.js';
import type { ResultToSend } from './message.js';
import type { OruEgress } from './sender.js';

/** What the pipeline hands over after a message's outputs are written (PipelineDeps.onOutputs). */
export interface WrittenOutputs {
  messageId: string;
  event: ClinicalEvent;
  stages: readonly LineageEntryInput[];
  outputs: readonly LineageOutput[];
}

/**
 * Turns the pipeline's record of one message (its `inferred` stages and written outputs) into an ORU
 * job for the egress: the score and interpretation from `inferred`, the Observation from `written`,
 * the output code and unit from the model card.
 */
export function oruHook(egress: OruEgress, models: ModelRegistry): (w: WrittenOutputs) => void {
  return (w) => {
    const pid = primaryIdentifier(w.event.patient);
    if (!pid) return;
    const results: ResultToSend[] = [];
    for (const s of w.stages) {
      if (s.stage !== 'inferred') continue;
      const d = s.detail as {
        model?: string;
        modelVersion?: string;
        modelSha256?: string;
        score?: number;
        interpretation?: string;
      };
      const model = d.model ? models.get(d.model) : undefined;
      if (!model || typeof d.score !== 'number') continue;
      const out = w.outputs.find((x) => x.model === d.model);
      results.push({
        model: model.name,
        modelVersion: d.modelVersion ?? model.version,
        modelSha256: d.modelSha256 ?? model.sha256,
        score: d.score,
        ...(d.interpretation ? { interpretation: d.interpretation } : {}),
        code: model.card.output.code,
        unit: model.card.output.unit,
        ...(out?.resource ? { resource: out.resource } : {}),
      });
    }
    if (results.length === 0) return;
    egress.enqueue({
      messageId: w.messageId,
      patient: { value: pid.value, ...(pid.assigner ? { assigner: pid.assigner } : {}) },
      sourceControlId: w.event.source.controlId,
      effectiveAt: w.event.occurredAt ?? new Date().toISOString(),
      results,
    });
  };
}
