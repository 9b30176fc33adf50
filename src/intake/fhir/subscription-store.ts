import type { Database } from '../../db/database.js';

/** Per subscription: where it comes from, its heartbeat, and the last event number received. */
export interface SubscriptionState {
  source: string;
  subscription: string;
  topic: string | null;
  filterCriteria: string | null;
  payload: string | null;
  heartbeatSeconds: number | null;
  status: string | null;
  lastEventNumber: number;
  eventsSinceStart: number | null;
  handshakeAt: string | null;
  lastHeartbeatAt: string | null;
  lastNotificationAt: string | null;
  heartbeatAlerted: boolean;
  gaps: number;
  replays: number;
}

interface Row {
  source: string;
  subscription: string;
  topic: string | null;
  filter_criteria: string | null;
  payload: string | null;
  heartbeat_seconds: number | null;
  status: string | null;
  last_event_number: string | number;
  events_since_start: string | number | null;
  handshake_at: Date | string | null;
  last_heartbeat_at: Date | string | null;
  last_notification_at: Date | string | null;
  heartbeat_alerted: boolean;
  gaps: number;
  replays: number;
}

const iso = (v: Date | string | null) => (v === null ? null : new Date(v).toISOString());
const toState = (r: Row): SubscriptionState => ({
  source: r.source,
  subscription: r.subscription,
  topic: r.topic,
  filterCriteria: r.filter_criteria,
  payload: r.payload,
  heartbeatSeconds: r.heartbeat_seconds,
  status: r.status,
  lastEventNumber: Number(r.last_event_number),
  eventsSinceStart: r.events_since_start === null ? null : Number(r.events_since_start),
  handshakeAt: iso(r.handshake_at),
  lastHeartbeatAt: iso(r.last_heartbeat_at),
  lastNotificationAt: iso(r.last_notification_at),
  heartbeatAlerted: r.heartbeat_alerted,
  gaps: r.gaps,
  replays: r.replays,
});

export function createSubscriptionStore(db: Database) {
  return {
    async list(): Promise<SubscriptionState[]> {
      const r = await db.query<Row>('select * from fhir_subscription order by source, subscription');
      return r.rows.map(toState);
    },
    /** By subscription id, whichever source it belongs to (ids are unique per server). */
    async find(subscription: string): Promise<SubscriptionState | undefined> {
      const r = await db.query<Row>(
        'select * from fhir_subscription where subscription = $1 order by source',
        [subscription],
      );
      return r.rows[0] ? toState(r.rows[0]) : undefined;
    },
    async register(s: {
      source: string;
      subscription: string;
      topic?: string;
      filterCriteria?: string;
      payload?: string;
      heartbeatSeconds?: number;
      status?: string;
    }): Promise<void> {
      await db.query(
        `insert into fhir_subscription (source, subscription, topic, filter_criteria, payload, heartbeat_seconds, status)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (source, subscription) do update set
           topic = coalesce(excluded.topic, fhir_subscription.topic),
           filter_criteria = coalesce(excluded.filter_criteria, fhir_subscription.filter_criteria),
           payload = coalesce(excluded.payload, fhir_subscription.payload),
           heartbeat_seconds = coalesce(excluded.heartbeat_seconds, fhir_subscription.heartbeat_seconds),
           status = coalesce(excluded.status, fhir_subscription.status)`,
        [
          s.source,
          s.subscription,
          s.topic ?? null,
          s.filterCriteria ?? null,
          s.payload ?? null,
          s.heartbeatSeconds ?? null,
          s.status ?? null,
        ],
      );
    },
    async handshake(source: string, subscription: string, status: string | undefined, at: Date) {
      await db.query(
        `update fhir_subscription set handshake_at = $3, status = coalesce($4, status), heartbeat_alerted = false
          where source = $1 and subscription = $2`,
        [source, subscription, at.toISOString(), status ?? null],
      );
    },
    async heartbeat(source: string, subscription: string, status: string | undefined, at: Date) {
      await db.query(
        `update fhir_subscription set last_heartbeat_at = $3, status = coalesce($4, status), heartbeat_alerted = false
          where source = $1 and subscription = $2`,
        [source, subscription, at.toISOString(), status ?? null],
      );
    },
    /**
     * Records event numbers up to `upTo` as received (never moves backwards) and counts a gap or a
     * replay; answers the last event number before this notification.
     */
    async events(
      source: string,
      subscription: string,
      upTo: number,
      eventsSinceStart: number | undefined,
      kind: 'ok' | 'gap' | 'replay',
      at: Date,
    ): Promise<void> {
      await db.query(
        `update fhir_subscription set
           last_event_number = greatest(last_event_number, $3),
           events_since_start = coalesce($4, events_since_start),
           last_notification_at = $5, heartbeat_alerted = false,
           gaps = gaps + $6, replays = replays + $7
         where source = $1 and subscription = $2`,
        [
          source,
          subscription,
          upTo,
          eventsSinceStart ?? null,
          at.toISOString(),
          kind === 'gap' ? 1 : 0,
          kind === 'replay' ? 1 : 0,
        ],
      );
    },
    async markAlerted(source: string, subscription: string): Promise<void> {
      await db.query(
        'update fhir_subscription set heartbeat_alerted = true where source = $1 and subscription = $2',
        [source, subscription],
      );
    },
  };
}

export type SubscriptionStore = ReturnType<typeof createSubscriptionStore>;

/** When the subscription was last heard from (any notification, the handshake, or its registration). */
export function lastHeard(s: SubscriptionState): number | undefined {
  const times = [s.lastHeartbeatAt, s.lastNotificationAt, s.handshakeAt]
    .filter((t): t is string => !!t)
    .map((t) => Date.parse(t));
  return times.length > 0 ? Math.max(...times) : undefined;
}
