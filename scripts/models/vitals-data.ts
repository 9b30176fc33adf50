/**
 * Synthetic adult ward population: bedside vital signs and age, labelled with clinical
 * deterioration (unplanned ICU transfer or rapid-response call) within 24 hours.
 *
 * A latent illness severity drives every vital sign the way it does on a ward (tachycardia,
 * tachypnoea, falling SpO2 and blood pressure, fever or hypothermia); the outcome depends on
 * the observed vitals, on age and on the part of the severity the vitals do not show.
 */
import { type Dataset, drawDataset, type FeatureSpec } from './dataset.js';
import { clamp, type Rng, roundTo, sigmoid } from './prng.js';

export const VITALS_FEATURES: FeatureSpec[] = [
  { name: 'heart_rate', unit: '/min', description: 'Heart rate, most recent', loinc: ['8867-4'] },
  { name: 'respiratory_rate', unit: '/min', description: 'Respiratory rate, most recent', loinc: ['9279-1'] },
  {
    name: 'spo2',
    unit: '%',
    description: 'Peripheral oxygen saturation by pulse oximetry, most recent',
    loinc: ['59408-5', '2708-6'],
  },
  { name: 'body_temperature', unit: 'Cel', description: 'Body temperature, most recent', loinc: ['8310-5'] },
  {
    name: 'systolic_bp',
    unit: 'mm[Hg]',
    description: 'Systolic blood pressure, most recent',
    loinc: ['8480-6'],
  },
  { name: 'age', unit: 'a', description: 'Age in years at the time of the observations', loinc: ['30525-0'] },
];

/** Temperature the model measures the fever/hypothermia distance from (computed inside the graph). */
export const NORMOTHERMIA_CEL = 37;

/** Intercept of the generating outcome model, set so that about 10% deteriorate. */
const OUTCOME_INTERCEPT = -3.9;

function patient(rng: Rng): { row: number[]; label: number } {
  const age = clamp(62 + 17 * rng.normal(), 18, 100);
  const severity = -Math.log(1 - rng.uniform()) * 0.6 + Math.max(0, (age - 60) / 200);
  const infected = rng.uniform() < 0.12 + 0.25 * Math.min(severity, 2);
  const cold = infected && rng.uniform() < 0.07 * severity;

  const heartRate = clamp(76 + 13 * severity + 11 * rng.normal() + (infected ? 6 : 0), 35, 190);
  const respRate = clamp(15 + 3.2 * severity + 2.3 * rng.normal(), 6, 48);
  const spo2 = clamp(97.4 - 2.1 * severity + 1.4 * rng.normal(), 70, 100);
  let temperature = 36.85 + 0.3 * rng.normal();
  if (infected) temperature += 0.6 + 0.5 * severity + 0.4 * rng.normal();
  if (cold) temperature -= 1.4 + 0.8 * rng.uniform() + (temperature - 36.85);
  temperature = clamp(temperature, 32, 42);
  const systolic = clamp(128 + 0.3 * (age - 60) - 10 * severity + 16 * rng.normal(), 60, 230);

  const values = [
    Math.round(heartRate),
    Math.round(respRate),
    Math.round(spo2),
    roundTo(temperature, 1),
    Math.round(systolic),
    Math.floor(age),
  ] as const;
  const [hr, rr, sat, temp, sbp, years] = values;
  const logit =
    OUTCOME_INTERCEPT +
    0.022 * (hr - 80) +
    0.16 * (rr - 16) -
    0.13 * (sat - 96) +
    0.75 * Math.abs(temp - NORMOTHERMIA_CEL) -
    0.022 * (sbp - 120) +
    0.024 * (years - 60) +
    0.5 * severity;
  const label = rng.uniform() < sigmoid(logit) ? 1 : 0;
  return { row: [...values], label };
}

export function generateVitals(rng: Rng, n: number): Dataset {
  return drawDataset(rng, n, patient);
}
