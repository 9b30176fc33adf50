/**
 * What the pipeline hands monitoring for one message and one mapping (FinishedMessage.monitored):
 * the input vector as the model saw it, which features were missing, imputed or refused (and why),
 * and the scores of every version that scored it. No patient data leaves the database from here.
 */
import type { FeatureValue, RejectedValue } from '../features/extract.js';

export interface MonitoredScore {
  version: string;
  alias: 'production' | 'shadow' | 'canary';
  score: number;
}

export interface MonitoredInput {
  model: string;
  /** Feature names in the model's input order (the mapping's). */
  features: readonly string[];
  patientKey: string;
  /** Where the message came from: MSH-3|MSH-4, or the FHIR source. */
  source: string;
  /** Event time of the input (ISO). */
  at: string;
  /** The model input; NaN where a required feature had no value. */
  vector: readonly number[];
  missing: readonly string[];
  imputed: readonly string[];
  /** Values this message brought (accepted) and refused. */
  values: readonly FeatureValue[];
  rejected: readonly RejectedValue[];
  /** Empty when the message did not produce a score (a required feature missing). */
  scores: MonitoredScore[];
  /** The production version (rows without a score are kept for it). */
  productionVersion: string;
}

export type RefusalKind = 'unit' | 'range' | 'other';

/** Why a value was refused, from the reason extract.ts records (no value is in it). */
export function refusalKind(reason: string): RefusalKind {
  if (/outside valid range/.test(reason)) return 'range';
  if (/unit|conver/i.test(reason)) return 'unit';
  return 'other';
}
