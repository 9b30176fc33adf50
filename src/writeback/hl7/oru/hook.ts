import type { ModelRegistry } from '../../../models/runtime/loader.js';
import { primaryIdentifier } from '../../../normalize/patient-key.js';
import type { FinishHook } from '../../../pipeline/process.js';
import type { ResultToSend } from './message.js';
import type { OruEgress } from './sender.js';

/**
 * Turns the pipeline's record of one processed message (its `inferred` stages and written outputs)
 * into an ORU job, stored in the outbox in the transaction that records the message as processed:
 * the score and interpretation from `inferred`, the Observation from `written`, the output code and
 * unit from the model card.
 */
export function oruHook(egress: OruEgress, models: ModelRegistry): FinishHook {
  const write: FinishHook['write'] = async (tx, w) => {
    if (w.status !== 'processed' || !w.event || w.outputs.length === 0) return;
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
    await egress.enqueue(
      {
        messageId: w.messageId,
        patient: { value: pid.value, ...(pid.assigner ? { assigner: pid.assigner } : {}) },
        sourceControlId: w.event.source.controlId,
        effectiveAt: w.event.occurredAt ?? new Date().toISOString(),
        results,
      },
      tx,
    );
  };
  return { write, committed: () => egress.wake() };
}
