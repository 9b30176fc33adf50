import { createHash } from 'node:crypto';
import {
  AI_DEVICE_PROFILE,
  AI_DEVICE_TYPE,
  AI_KIND_EXTENSION,
  AI_KIND_ML,
  AI_MODEL_CARD_EXTENSION,
  MODEL_DEVICE_PROFILE,
  MODEL_VERSION_SYSTEM,
} from './profiles.js';
import type { Resource } from './types.js';

/**
 * A model version as FHIR sees it: its AI Device and the id of the DocumentReference carrying its
 * card. Pure, and below both the registry (which renders the card) and the FHIR write-back (whose
 * Provenance names the Device and the card), so neither imports the other.
 */

/** The part of a model card the writer needs (the registry owns the full type). */
export interface ModelRef {
  name: string;
  version: string;
  sha256: string;
  card: {
    output: {
      code: { system: string; code: string; display?: string };
      unit: { code: string; display?: string };
      category?: { system: string; code: string; display?: string };
    };
  };
}

/**
 * A FHIR id (`[A-Za-z0-9\-.]{1,64}`) derived from the parts: the sha256 hex of the parts joined
 * with a unit separator (64 chars), so the same source always yields the same id.
 */
export function deterministicId(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u001f')).digest('hex');
}

export const modelDeviceId = (m: Pick<ModelRef, 'name' | 'version' | 'sha256'>) =>
  deterministicId('device', m.name, m.version, m.sha256);

/** Id of the DocumentReference carrying a version's model card (models/card-render.ts writes it). */
export const modelCardDocumentId = (m: Pick<ModelRef, 'name' | 'version' | 'sha256'>) =>
  deterministicId('model-card', m.name, m.version, m.sha256);

/** The AI Device of a model version (AI Transparency on FHIR `AI-Device`), naming its model card. */
export function buildModelDevice(m: ModelRef): Resource {
  return {
    resourceType: 'Device',
    id: modelDeviceId(m),
    meta: { profile: [MODEL_DEVICE_PROFILE, AI_DEVICE_PROFILE] },
    extension: [
      { url: AI_KIND_EXTENSION, valueCodeableConcept: { coding: [{ ...AI_KIND_ML }] } },
      {
        url: AI_MODEL_CARD_EXTENSION,
        valueReference: { reference: `DocumentReference/${modelCardDocumentId(m)}` },
      },
    ],
    identifier: [{ system: MODEL_VERSION_SYSTEM, value: `${m.name}|${m.version}|${m.sha256}` }],
    status: 'active',
    deviceName: [{ name: m.name, type: 'model-name' }],
    type: { coding: [{ ...AI_DEVICE_TYPE }], text: 'artificial intelligence' },
    version: [{ type: { text: 'model version' }, value: m.version }],
    property: [{ type: { text: 'sha256' }, valueCode: [{ text: m.sha256 }] }],
  };
}
