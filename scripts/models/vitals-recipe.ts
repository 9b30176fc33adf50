/** vitals-deterioration: logistic regression on bedside vital signs and age. */
import { type Dataset, row } from './dataset.js';
import { predictLogistic, trainLogistic } from './logreg.js';
import { logisticToOnnx } from './onnx-writer.js';
import { interpretation, type ModelRecipe, type TrainedModel } from './recipe.js';
import { generateVitals, NORMOTHERMIA_CEL, VITALS_FEATURES } from './vitals-data.js';

const TEMPERATURE_COLUMN = VITALS_FEATURES.findIndex((f) => f.name === 'body_temperature');
const OPTIONS = { iterations: 1500, learningRate: 0.5, l2: 1e-4 };

/** The raw features plus |temperature - 37 Cel|, the same expansion the ONNX graph performs. */
function expand(features: ArrayLike<number>): number[] {
  const values = Array.from(features);
  return [...values, Math.abs(Math.fround(values[TEMPERATURE_COLUMN]! - NORMOTHERMIA_CEL))];
}

function train(data: Dataset): TrainedModel {
  const f = data.f + 1;
  const x = new Float32Array(data.n * f);
  for (let i = 0; i < data.n; i++) x.set(expand(row(data, i)), i * f);
  const model = trainLogistic({ x, y: data.y, n: data.n, f }, OPTIONS);
  const onnx = logisticToOnnx(
    model,
    {
      name: VITALS_RECIPE.name,
      version: VITALS_RECIPE.version,
      description: VITALS_RECIPE.text.description,
      featureNames: VITALS_FEATURES.map((v) => v.name),
    },
    { column: TEMPERATURE_COLUMN, center: NORMOTHERMIA_CEL },
  );
  const names = [...VITALS_FEATURES.map((v) => v.name), 'temperature_distance_from_37_cel'];
  const round = (v: number): number => Math.round(v * 1e6) / 1e6;
  return {
    onnx,
    predict: (r) => predictLogistic(model, expand(r)),
    algorithm: {
      type: 'logistic-regression',
      training: `full-batch gradient descent on standardized features, ${OPTIONS.iterations} iterations, learning rate ${OPTIONS.learningRate}, L2 ${OPTIONS.l2}`,
      graph:
        'features -> append |body_temperature - 37| -> (x - mean) / std -> MatMul + Add -> Sigmoid; standardization is part of the graph',
      coefficients: names.map((name, j) => ({
        feature: name,
        mean: round(model.mean[j]!),
        std: round(model.std[j]!),
        weight: round(model.weights[j]!),
      })),
      intercept: round(model.bias),
    },
  };
}

export const VITALS_RECIPE: ModelRecipe = {
  name: 'vitals-deterioration',
  version: '1.0.0',
  seed: 20240611,
  size: 12000,
  trainFraction: 0.75,
  features: VITALS_FEATURES,
  generate: generateVitals,
  train,
  output: { name: 'probability', index: 0 },
  outputDisplay: 'Probability of clinical deterioration within 24 hours (demo model)',
  thresholds: [
    { name: 'low', atLeast: 0, interpretation: interpretation('N') },
    { name: 'high', atLeast: 0.2, interpretation: interpretation('H') },
    { name: 'very-high', atLeast: 0.5, interpretation: interpretation('HH') },
  ],
  text: {
    description:
      'Estimates the probability that an adult ward patient deteriorates (unplanned ICU transfer or rapid-response call) within 24 hours, from the most recent set of bedside vital signs and age. Logistic regression; risk rises with tachycardia, tachypnoea, low SpO2, fever or hypothermia, hypotension and age.',
    intendedUse:
      'Demonstration of the gateway: shows how a governed model turns HL7 v2 ORU^R01 / FHIR vital-sign observations into a FHIR Observation with a probability and an interpretation. Integration testing and training only.',
    outOfScope: [
      'Any clinical decision, triage or alerting about real patients',
      'Children and pregnant patients',
      'Intensive care, theatre or emergency department patients',
      'Patients receiving supplemental oxygen or vasoactive drugs (not represented in the features)',
    ],
    limitations: [
      'Trained on synthetic data only; the numbers describe the generator, not any real population',
      'Uses one set of observations; trends, consciousness level and oxygen therapy are ignored',
      'Linear in each feature apart from the distance of temperature from 37 Cel',
      'Not calibrated or validated on any real cohort',
    ],
    trainingData:
      'Synthetic adult ward patients. A latent illness severity (exponential) plus age drives heart rate, respiratory rate, SpO2, temperature (infection and hypothermia sub-groups) and systolic blood pressure, reported at monitor precision. The outcome is drawn from a logistic model of the observed vitals, age and the unobserved severity. Rows are split 75% training / 25% holdout in generation order.',
  },
  goldenCases: [
    { name: 'healthy young adult', features: [72, 14, 98, 36.8, 122, 34] },
    { name: 'healthy older adult', features: [78, 16, 96, 36.9, 138, 78] },
    { name: 'febrile, tachycardic (early sepsis)', features: [112, 24, 93, 38.9, 104, 67] },
    { name: 'septic shock', features: [132, 30, 88, 39.6, 82, 74] },
    { name: 'hypothermic elderly', features: [54, 20, 92, 34.6, 96, 88] },
    { name: 'respiratory failure', features: [104, 34, 84, 37.4, 118, 59] },
    { name: 'borderline', features: [96, 21, 94, 37.9, 108, 70] },
  ],
};
