/** aki-risk: gradient-boosted trees on a basic metabolic panel and age. */
import { AKI_FEATURES, generateAki } from './aki-data.js';
import type { Dataset } from './dataset.js';
import { predictBoostedTrees, trainBoostedTrees } from './gbt.js';
import { treesToOnnx } from './onnx-writer.js';
import { interpretation, type ModelRecipe, type TrainedModel } from './recipe.js';

const OPTIONS = { trees: 80, maxDepth: 3, learningRate: 0.1, minLeafSamples: 30, l2: 1 };

function train(data: Dataset): TrainedModel {
  const model = trainBoostedTrees(data, OPTIONS);
  const onnx = treesToOnnx(model, {
    name: AKI_RECIPE.name,
    version: AKI_RECIPE.version,
    description: AKI_RECIPE.text.description,
    featureNames: AKI_FEATURES.map((f) => f.name),
  });
  return {
    onnx,
    predict: (r) => predictBoostedTrees(model, r),
    algorithm: {
      type: 'gradient-boosted-trees',
      training: `${OPTIONS.trees} regression trees of depth <= ${OPTIONS.maxDepth} fitted to log-loss gradients with Newton leaf values, learning rate ${OPTIONS.learningRate}, at least ${OPTIONS.minLeafSamples} rows per leaf, L2 ${OPTIONS.l2}`,
      graph:
        'ai.onnx.ml TreeEnsembleClassifier, post_transform LOGISTIC, no ZipMap: probabilities [N,2], column 1 = AKI',
      trees: model.trees.length,
      baseScore: Math.round(model.baseScore * 1e6) / 1e6,
    },
  };
}

export const AKI_RECIPE: ModelRecipe = {
  name: 'aki-risk',
  version: '1.0.0',
  seed: 20240612,
  size: 10000,
  trainFraction: 0.75,
  features: AKI_FEATURES,
  generate: generateAki,
  train,
  output: { name: 'probabilities', index: 1 },
  outputDisplay: 'Probability of acute kidney injury within 48 hours (demo model)',
  thresholds: [
    { name: 'low', atLeast: 0, interpretation: interpretation('N') },
    { name: 'high', atLeast: 0.25, interpretation: interpretation('H') },
    { name: 'very-high', atLeast: 0.5, interpretation: interpretation('HH') },
  ],
  text: {
    description:
      'Estimates the probability that a hospitalised adult develops acute kidney injury (KDIGO creatinine criterion) within 48 hours, from the most recent basic metabolic panel (creatinine, urea nitrogen, potassium, sodium) and age. Gradient-boosted decision trees.',
    intendedUse:
      'Demonstration of the gateway: shows how laboratory results arriving as HL7 v2 ORU^R01 or FHIR Observations become a governed tree-ensemble score written back as a FHIR Observation. Integration testing and training only.',
    outOfScope: [
      'Any clinical decision about real patients, including drug dosing or nephrotoxin avoidance',
      'Patients on dialysis or with a kidney transplant',
      'Children',
      'Creatinine measured in units other than mg/dL without conversion by the gateway',
    ],
    limitations: [
      'Trained on synthetic data only; the numbers describe the generator, not any real population',
      'Uses one panel; the creatinine trend and baseline, urine output and medications are not features',
      'Tree ensembles are step functions: small changes near a split can move the probability abruptly',
      'Not calibrated or validated on any real cohort',
    ],
    trainingData:
      'Synthetic hospitalised adults. Each has an age-dependent baseline creatinine (higher with chronic kidney disease), a latent acute insult and a volume state; these drive creatinine, urea nitrogen, potassium and sodium, reported at laboratory precision. The outcome is drawn from a non-linear model of the rise over baseline, the urea:creatinine ratio, hyperkalaemia, dysnatraemia, age and the insult. Rows are split 75% training / 25% holdout in generation order.',
  },
  goldenCases: [
    { name: 'normal panel, young adult', features: [0.8, 13, 4.1, 140, 35] },
    { name: 'normal panel, older adult', features: [1.0, 18, 4.4, 139, 80] },
    { name: 'pre-renal picture (high urea:creatinine, hypernatraemia)', features: [1.6, 48, 4.9, 147, 76] },
    { name: 'raised creatinine with hyperkalaemia', features: [3.2, 62, 5.9, 134, 68] },
    { name: 'stable chronic kidney disease pattern', features: [2.1, 35, 4.8, 139, 71] },
    { name: 'hyponatraemia, elderly', features: [1.1, 22, 4.0, 124, 82] },
    { name: 'mildly raised creatinine', features: [1.4, 26, 4.6, 137, 64] },
  ],
};
