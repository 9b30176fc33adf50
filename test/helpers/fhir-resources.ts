/** Fictitious FHIR R4 test resources built in code, so a test shows the values it asserts on. */

export const HOSP_SYSTEM = 'http://hosp.example.org/mrn';
const UCUM = 'http://unitsofmeasure.org';
const LOINC = 'http://loinc.org';

export function patient(id: string, mrn: string, birthDate = '1948-02-15') {
  return {
    resourceType: 'Patient',
    id,
    identifier: [{ system: HOSP_SYSTEM, value: mrn }],
    gender: 'female',
    birthDate,
  };
}

export function quantityObs(
  id: string,
  subject: Record<string, unknown>,
  code: string,
  value: number,
  unit: string,
  at: string,
) {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [{ system: LOINC, code }] },
    subject,
    effectiveDateTime: at,
    valueQuantity: { value, unit, system: UCUM, code: unit },
  };
}

export function bpPanel(id: string, subject: Record<string, unknown>, sbp: number, dbp: number, at: string) {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [{ system: LOINC, code: '85354-9', display: 'Blood pressure panel' }] },
    subject,
    effectiveDateTime: at,
    component: [
      {
        code: { coding: [{ system: LOINC, code: '8480-6' }] },
        valueQuantity: { value: sbp, unit: 'mm[Hg]', system: UCUM, code: 'mm[Hg]' },
      },
      {
        code: { coding: [{ system: LOINC, code: '8462-4' }] },
        valueQuantity: { value: dbp, unit: 'mm[Hg]', system: UCUM, code: 'mm[Hg]' },
      },
    ],
  };
}

export interface Vitals {
  hr: number;
  rr: number;
  spo2: number;
  tempF: number;
  sbp: number;
  dbp: number;
}

/** test/helpers/messages.ts vitalsOru's defaults: a deteriorating patient. */
export const SICK: Vitals = { hr: 128, rr: 28, spo2: 88, tempF: 102.2, sbp: 86, dbp: 50 };
export const WELL: Vitals = { hr: 72, rr: 14, spo2: 98, tempF: 98.6, sbp: 122, dbp: 78 };

/** A patient (`<prefix>-pat`) and an Observation per vital sign referencing it. */
export function vitalsResources(mrn: string, at: string, prefix: string, v: Vitals = SICK) {
  const p = patient(`${prefix}-pat`, mrn);
  const subject = { reference: `Patient/${p.id}` };
  return [
    p,
    quantityObs(`${prefix}-hr`, subject, '8867-4', v.hr, '/min', at),
    quantityObs(`${prefix}-rr`, subject, '9279-1', v.rr, '/min', at),
    quantityObs(`${prefix}-spo2`, subject, '59408-5', v.spo2, '%', at),
    quantityObs(`${prefix}-temp`, subject, '8310-5', v.tempF, '[degF]', at),
    bpPanel(`${prefix}-bp`, subject, v.sbp, v.dbp, at),
  ];
}

/** The same vitals as test/helpers/messages.ts vitalsOru's defaults, as a FHIR transaction. */
export function vitalsTransaction(mrn: string, at: string, prefix: string, v: Vitals = SICK) {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: vitalsResources(mrn, at, prefix, v).map((r) => ({
      fullUrl: `urn:uuid:${r.id}`,
      resource: r,
      request: { method: 'PUT', url: `${r.resourceType}/${r.id}` },
    })),
  };
}
