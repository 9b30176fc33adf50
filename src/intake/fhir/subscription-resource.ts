import type { Resource } from '../../fhir/types.js';

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

/** What the gateway needs to know of a Subscription read from a source server. */
export interface SubscriptionFacts {
  topic?: string;
  /** Backport filter criteria (`Observation?patient=Patient/123`): what a catch-up searches. */
  filters: string[];
  payload?: string;
  heartbeatSeconds?: number;
  status?: string;
}

// biome-ignore lint/suspicious/noExplicitAny: FHIR JSON is read defensively.
type Json = any;

const extensions = (v: Json, url: string): Json[] =>
  (Array.isArray(v?.extension) ? v.extension : []).filter((e: Json) => e?.url === url);

/** Reads an R4 Subscription on the Backport IG profile (pure): topic, filters, payload, heartbeat. */
export function subscriptionFacts(s: Resource): SubscriptionFacts {
  const r = s as Json;
  const filters = extensions(r._criteria, `${SD}/backport-filter-criteria`)
    .map((e) => e.valueString)
    .filter((v): v is string => typeof v === 'string' && /^[A-Z][A-Za-z]+(\?.*)?$/.test(v));
  const heartbeat = extensions(r.channel, `${SD}/backport-heartbeat-period`)[0]?.valueUnsignedInt;
  const payload = extensions(r.channel?._payload, `${SD}/backport-payload-content`)[0]?.valueCode;
  return {
    ...(typeof r.criteria === 'string' && r.criteria ? { topic: r.criteria } : {}),
    filters,
    ...(typeof payload === 'string' ? { payload } : {}),
    ...(Number.isInteger(heartbeat) && heartbeat > 0 ? { heartbeatSeconds: heartbeat } : {}),
    ...(typeof r.status === 'string' ? { status: r.status } : {}),
  };
}
