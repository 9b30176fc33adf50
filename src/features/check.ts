import type { ClinicalEvent } from '../normalize/event.js';
import {
  eventTime,
  extractFeatures,
  type FeatureValue,
  type RejectedValue,
  triggersScoring,
  usesMessageType,
} from './extract.js';
import { loadMappings, type MappingError } from './mapping.js';
import { assembleVector } from './state.js';

/**
 * `gateway mappings check`: validates every mapping file and dry-runs each mapping over the given
 * events (the CLI parses fixtures into events). Nothing is stored; nothing is scored.
 */

export interface DryRunResult {
  mapping: string;
  /** The event's control id (MSH-10 or FHIR id). */
  event: string;
  /** Whether the event's message type is one this mapping listens to. */
  listens: boolean;
  /** Feature values extracted. */
  values: number;
  features: string[];
  /** Each value extracted, in the feature's unit, with what it was converted from and how it was found. */
  extracted: Array<
    Pick<FeatureValue, 'feature' | 'value' | 'unit' | 'sourceRef' | 'sourceUnit' | 'sourceValue'> & {
      /** The feature's FHIRPath, when a FHIR value was found by it. */
      fhirpath?: string;
    }
  >;
  rejected: RejectedValue[];
  triggered: boolean;
  /** Whether this event alone would fill every required feature. */
  complete: boolean;
  missing: string[];
}

export interface CheckReport {
  errors: MappingError[];
  dryRun: DryRunResult[];
}

export function checkMappings(dir: string, events: readonly ClinicalEvent[]): CheckReport {
  const { mappings, errors } = loadMappings(dir);
  const dryRun: DryRunResult[] = [];
  for (const mapping of mappings) {
    for (const event of events) {
      const { values, rejected } = extractFeatures(event, mapping);
      const at = eventTime(event);
      const vector = at ? assembleVector(mapping, values, at) : undefined;
      dryRun.push({
        mapping: mapping.model,
        event: event.source.controlId,
        listens: usesMessageType(mapping, event.source.messageType),
        values: values.length,
        features: values.map((v) => v.feature),
        extracted: values.map((v) => {
          const fhirpath = event.fhir && mapping.features.find((f) => f.name === v.feature)?.fhirpath;
          return {
            feature: v.feature,
            value: v.value,
            unit: v.unit,
            sourceRef: v.sourceRef,
            ...(v.sourceUnit !== undefined ? { sourceUnit: v.sourceUnit } : {}),
            ...(v.sourceValue !== undefined ? { sourceValue: v.sourceValue } : {}),
            ...(fhirpath ? { fhirpath } : {}),
          };
        }),
        rejected,
        triggered: triggersScoring(event, mapping, values),
        complete: vector?.complete ?? false,
        missing: vector?.missing ?? mapping.features.map((f) => f.name),
      });
    }
  }
  return { errors, dryRun };
}
