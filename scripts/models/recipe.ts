/** What the build needs to know about one demo model: data, training, and the words of its card. */
import type { Dataset, FeatureSpec } from './dataset.js';
import type { Rng } from './prng.js';

export interface Coding {
  system: string;
  code: string;
  display: string;
}

export const INTERPRETATION_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';

export function interpretation(code: 'N' | 'H' | 'HH'): Coding {
  const display = { N: 'Normal', H: 'High', HH: 'Critical high' }[code];
  return { system: INTERPRETATION_SYSTEM, code, display };
}

export interface ThresholdSpec {
  name: string;
  atLeast: number;
  interpretation: Coding;
}

export interface TrainedModel {
  onnx: Uint8Array;
  /** Reference implementation in JS, used to check that the export computes the same thing. */
  predict(row: ArrayLike<number>): number;
  algorithm: Record<string, unknown>;
}

export interface ModelRecipe {
  name: string;
  version: string;
  seed: number;
  size: number;
  trainFraction: number;
  features: FeatureSpec[];
  generate(rng: Rng, n: number): Dataset;
  train(train: Dataset): TrainedModel;
  /** Graph output holding the positive-class probability, and its column. */
  output: { name: string; index: number };
  outputDisplay: string;
  thresholds: ThresholdSpec[];
  text: {
    description: string;
    intendedUse: string;
    outOfScope: string[];
    limitations: string[];
    trainingData: string;
  };
  goldenCases: { name: string; features: number[] }[];
}
