import type { Resource } from '../../fhirstore/types.js';

/** Builds an R4 Subscription on the Backport IG profile (pure). */

const SD = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';
export const BACKPORT_SUBSCRIPTION_PROFILE = `${SD}/backport-subscription`;

export interface SubscriptionRequest {
  /** Canonical URL of the SubscriptionTopic. */
  topic: string;
  /** Filter criteria, e.g. `Observation?patient=Patient/123` (also what a catch-up searches). */
  filter?: string;
  /** Where notifications go: the gateway's POST /ingest/fhir/subscription. */
  endpoint: string;
  payload: 'empty' | 'id-only' | 'full-resource';
  heartbeatSeconds?: number;
  /** Header the source sends with each notification, e.g. `Authorization: Bearer <token>`. */
  header?: string;
  reason?: string;
  end?: string;
}

export function buildSubscription(r: SubscriptionRequest): Resource {
  return {
    resourceType: 'Subscription',
    meta: { profile: [BACKPORT_SUBSCRIPTION_PROFILE] },
    status: 'requested',
    ...(r.end ? { end: r.end } : {}),
    reason: r.reason ?? 'Clinical ML gateway: model inputs',
    criteria: r.topic,
    ...(r.filter
      ? { _criteria: { extension: [{ url: `${SD}/backport-filter-criteria`, valueString: r.filter }] } }
      : {}),
    channel: {
      ...(r.heartbeatSeconds
        ? { extension: [{ url: `${SD}/backport-heartbeat-period`, valueUnsignedInt: r.heartbeatSeconds }] }
        : {}),
      type: 'rest-hook',
      endpoint: r.endpoint,
      payload: 'application/fhir+json',
      _payload: { extension: [{ url: `${SD}/backport-payload-content`, valueCode: r.payload }] },
      ...(r.header ? { header: [r.header] } : {}),
    },
  };
}
