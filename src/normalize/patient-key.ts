import type { PatientIdentifier, PatientInfo } from './event.js';

/**
 * The key feature state is kept under: `assigner|value` of the patient's primary identifier
 * (the first medical record number, else the first identifier). Never logged: it is PHI.
 */
export function primaryIdentifier(patient: PatientInfo): PatientIdentifier | undefined {
  return patient.identifiers.find((i) => i.type === 'MR') ?? patient.identifiers[0];
}

export function patientKey(patient: PatientInfo): string | undefined {
  const id = primaryIdentifier(patient);
  return id ? `${id.assigner ?? ''}|${id.value}` : undefined;
}

/** The inverse of patientKey(): `HOSP|MRN1` -> { assigner: 'HOSP', value: 'MRN1' }; `|X` has no assigner. */
export function parsePatientKey(key: string): { assigner?: string; value: string } {
  const sep = key.indexOf('|');
  if (sep < 0) return { value: key };
  const assigner = key.slice(0, sep);
  return assigner ? { assigner, value: key.slice(sep + 1) } : { value: key.slice(sep + 1) };
}
