import { createHmac } from 'node:crypto';
import type { Queryable } from '../db/database.js';
import type { PatientInfo } from '../normalize/event.js';

/**
 * Keyed digests of patient identifiers, so messages can be found by patient without the
 * identifier stored in clear beside them or written in a log: HMAC-SHA256 under the database's
 * own random key (migration 050). Anyone holding the database holds the key too; the digest keeps
 * identifiers out of the index and out of logs, and is no defence against a stolen database.
 */
export interface PatientDigester {
  digest(identifierValue: string): string;
  /** The digests of every identifier of a patient (each value once). */
  digestsOf(patient: PatientInfo): string[];
}

export function createPatientDigester(key: string): PatientDigester {
  const digest = (value: string) => createHmac('sha256', key).update(value.trim()).digest('hex');
  return {
    digest,
    digestsOf: (patient) => [...new Set(patient.identifiers.map((i) => i.value).filter(Boolean))].map(digest),
  };
}

export async function loadPatientDigester(db: Queryable): Promise<PatientDigester> {
  const r = await db.query<{ hmac_key: string }>('select hmac_key from message_search_key where id = 1');
  const key = r.rows[0]?.hmac_key;
  if (!key) throw new Error('message_search_key is empty: migration 050 did not run');
  return createPatientDigester(key);
}
