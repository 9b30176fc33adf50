/**
 * Synthetic hospitalised adults: a basic metabolic panel and age, labelled with acute kidney
 * injury (KDIGO creatinine criterion) within 48 hours.
 *
 * Each patient has a baseline kidney function (falling with age, lower still with chronic
 * kidney disease), a latent acute insult that raises creatinine, potassium and urea, and a
 * volume state (dehydration raises urea out of proportion to creatinine and moves sodium).
 * Risk is non-linear (sodium abnormal in either direction, hyperkalaemia above a threshold),
 * which is what a tree ensemble is for.
 */
import { type Dataset, drawDataset, type FeatureSpec } from './dataset.js';
import { clamp, type Rng, roundTo, sigmoid } from './prng.js';

export const AKI_FEATURES: FeatureSpec[] = [
  {
    name: 'creatinine',
    unit: 'mg/dL',
    description: 'Serum or plasma creatinine, most recent',
    loinc: ['2160-0', '38483-4'],
  },
  {
    name: 'urea_nitrogen',
    unit: 'mg/dL',
    description: 'Serum or plasma urea nitrogen (BUN), most recent',
    loinc: ['3094-0', '6299-2'],
  },
  {
    name: 'potassium',
    unit: 'mmol/L',
    description: 'Serum or plasma potassium, most recent',
    loinc: ['2823-3', '6298-4'],
  },
  {
    name: 'sodium',
    unit: 'mmol/L',
    description: 'Serum or plasma sodium, most recent',
    loinc: ['2951-2', '2947-0'],
  },
  { name: 'age', unit: 'a', description: 'Age in years at the time of the panel', loinc: ['30525-0'] },
];

/** Intercept of the generating outcome model, set so that about 11% develop AKI. */
const OUTCOME_INTERCEPT = -3.5;

function patient(rng: Rng): { row: number[]; label: number } {
  const age = clamp(63 + 16 * rng.normal(), 18, 100);
  const ckd = rng.uniform() < 0.08 + 0.004 * Math.max(0, age - 50);
  const baseline =
    0.82 *
    (1 + 0.007 * Math.max(0, age - 50)) *
    Math.exp(0.18 * rng.normal()) *
    (ckd ? 1.6 + rng.uniform() : 1);
  const insult = -Math.log(1 - rng.uniform()) * 0.45;
  const dehydration = Math.max(0, 0.6 * rng.normal() + 0.3 * insult);

  const creatinine = clamp(baseline * (1 + 0.55 * insult + 0.1 * dehydration), 0.3, 12);
  const bun = clamp(
    15 * (creatinine / 0.9) ** 0.85 * Math.exp(0.22 * rng.normal()) + 7 * dehydration,
    4,
    180,
  );
  const potassium = clamp(4.1 + 0.22 * (creatinine - 1) + 0.25 * insult + 0.38 * rng.normal(), 2.5, 7.8);
  const hypo = rng.uniform() < 0.1;
  const sodium = clamp(
    139 + 2.6 * rng.normal() + 2.5 * dehydration - (hypo ? 4 + 6 * rng.uniform() : 0),
    115,
    165,
  );

  const values = [
    roundTo(creatinine, 2),
    Math.round(bun),
    roundTo(potassium, 1),
    Math.round(sodium),
    Math.floor(age),
  ] as const;
  const [cr, urea, k, na, years] = values;
  const logit =
    OUTCOME_INTERCEPT +
    1.2 * Math.log(cr / baseline) +
    1.1 * Math.log(cr) +
    0.08 * Math.max(0, urea / cr - 20) +
    (k >= 5.3 ? 1.1 : 0) +
    0.14 * Math.max(0, Math.abs(na - 139) - 3) +
    0.03 * (years - 60) +
    0.6 * insult;
  const label = rng.uniform() < sigmoid(logit) ? 1 : 0;
  return { row: [...values], label };
}

export function generateAki(rng: Rng, n: number): Dataset {
  return drawDataset(rng, n, patient);
}
