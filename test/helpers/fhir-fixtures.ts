import type { PredictionInput } from '../../src/writeback/fhir/builders.js';

export const MRN = 'http://hospital.example/mrn/HOSP';

export function prediction(overrides: Partial<PredictionInput> = {}): PredictionInput {
  return {
    eventKey: 'msg-0001',
    patient: { system: MRN, value: '12345' },
    model: {
      name: 'aki-risk',
      version: '1.2.0',
      sha256: 'a'.repeat(64),
      card: {
        output: {
          code: {
            system: 'http://clinical-ml-gateway.dev/fhir/model-output',
            code: 'aki-risk-48h',
            display: 'AKI risk 48h',
          },
          unit: { code: '1', display: 'probability' },
        },
      },
    },
    mappingVersion: 'aki-v1',
    score: 0.42,
    interpretation: {
      system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation',
      code: 'H',
      display: 'High',
    },
    effectiveAt: '2024-05-01T10:00:00Z',
    issuedAt: '2024-05-01T10:00:05.123Z',
    derivedFrom: [],
    hl7Sources: [{ sender: 'LAB^HOSP', controlId: 'CTRL-1' }],
    ...overrides,
  };
}

export const observation = (code = '2160-0', mrn = '12345') => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code }] },
  subject: { reference: 'Patient/p1', identifier: { system: MRN, value: mrn } },
  identifier: [{ system: 'urn:test', value: `obs-${code}-${mrn}` }],
  valueQuantity: { value: 1.2, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
});
