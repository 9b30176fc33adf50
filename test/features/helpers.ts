import type { CanonicalObservation, ClinicalEvent } from '../../src/normalize/event.js';

/** A hand-built ORU^R01 event for patient 12345 (HOSP MR), born 1960-05-20. */
export function oru(
  observations: Partial<CanonicalObservation>[],
  over: Partial<ClinicalEvent> = {},
): ClinicalEvent {
  return {
    source: { channel: 'mllp', messageId: 'msg-1', controlId: 'CTRL1', messageType: 'ORU^R01' },
    occurredAt: '2024-06-01T10:05:00Z',
    patient: { identifiers: [{ value: '12345', assigner: 'HOSP', type: 'MR' }], birthDate: '1960-05-20' },
    observations: observations.map((o, i) => ({
      ref: String(i + 1),
      code: 'X',
      system: 'http://loinc.org',
      status: 'F',
      effectiveAt: '2024-06-01T10:00:00Z',
      ...o,
    })),
    ...over,
  };
}

export const num = (value: number) => ({ kind: 'numeric', value }) as const;
