import type { Database } from '../../db/database.js';
import type { Resource } from '../../fhir/types.js';
import type { PatientInfo } from '../event.js';
import { primaryIdentifier } from '../patient-key.js';
import { canonicalIdentifier, type IdentifierMapping, patientInfo } from './resources.js';

/**
 * Which patient a FHIR reference stands for, per source: `Patient/123` or `urn:uuid:…` -> the
 * identifier feature state is keyed by. Links are written when a Patient arrives (before the 2xx)
 * or is fetched from a source server; they hold identifiers, so they are never logged.
 */

// biome-ignore lint/suspicious/noExplicitAny: FHIR JSON is read defensively.
type Json = any;

/** The patient reference of a clinical resource (subject, else patient). */
export function subjectOf(r: Resource): { reference?: string; identifier?: Json } | undefined {
  const s = (r.subject ?? r.patient) as Json;
  if (!s || typeof s !== 'object') return undefined;
  return {
    ...(typeof s.reference === 'string' ? { reference: s.reference } : {}),
    ...(s.identifier && typeof s.identifier === 'object' ? { identifier: s.identifier } : {}),
  };
}

/** `Patient/123` out of `Patient/123`, `http://x/fhir/Patient/123/_history/2`; other references as they are. */
export function normalizeRef(ref: string): string {
  const m = /(?:^|\/)(Patient)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref);
  return m ? `${m[1]}/${m[2]}` : ref;
}

/** A logical reference (subject.identifier) as patient info. */
export function infoFromIdentifier(identifier: Json, m: IdentifierMapping): PatientInfo | undefined {
  const id = canonicalIdentifier(identifier, m);
  return id ? { identifiers: [id] } : undefined;
}

export interface PatientLinks {
  /** Records the patient under each reference it is known by. */
  link(tx: Pick<Database, 'query'>, source: string, refs: string[], patient: Resource): Promise<PatientInfo>;
  find(source: string, ref: string): Promise<PatientInfo | undefined>;
}

export function createPatientLinks(db: Database, m: IdentifierMapping): PatientLinks {
  return {
    async link(tx, source, refs, patient) {
      const info = patientInfo(patient, m);
      const id = primaryIdentifier(info);
      if (!id) return info;
      for (const ref of new Set(refs.map(normalizeRef))) {
        await tx.query(
          `insert into fhir_patient_link (source, reference, assigner, value, id_type, birth_date)
           values ($1, $2, $3, $4, $5, $6)
           on conflict (source, reference) do update set assigner = excluded.assigner, value = excluded.value,
             id_type = excluded.id_type, birth_date = excluded.birth_date, updated_at = now()`,
          [source, ref, id.assigner ?? null, id.value, id.type ?? null, info.birthDate ?? null],
        );
      }
      return info;
    },
    async find(source, ref) {
      const r = await db.query<{
        assigner: string | null;
        value: string;
        id_type: string | null;
        birth_date: string | null;
      }>(
        'select assigner, value, id_type, birth_date from fhir_patient_link where source = $1 and reference = $2',
        [source, normalizeRef(ref)],
      );
      const row = r.rows[0];
      if (!row) return undefined;
      return {
        identifiers: [
          {
            value: row.value,
            ...(row.assigner ? { assigner: row.assigner } : {}),
            ...(row.id_type ? { type: row.id_type } : {}),
          },
        ],
        ...(row.birth_date ? { birthDate: row.birth_date } : {}),
      };
    },
  };
}
