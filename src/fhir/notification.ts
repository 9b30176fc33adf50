import { issue } from './input.js';
import type { OperationOutcomeIssue, Resource } from './types.js';

/**
 * FHIR R4 Subscriptions Backport IG notifications (pure): a Bundle of type `history` whose first
 * entry is the subscription status as a `Parameters` (backport-subscription-status-r4), or, in
 * the older form, a `SubscriptionStatus` resource. Malformed input yields issues, never a throw.
 */

export const NOTIFICATION_TYPES = [
  'handshake',
  'heartbeat',
  'event-notification',
  'query-status',
  'query-event',
] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

export interface NotificationEvent {
  number: number;
  timestamp?: string;
  /** Reference to the resource the event is about (`Encounter/123` or an absolute URL). */
  focus?: string;
  additionalContext: string[];
}

export interface Notification {
  /** Reference to the Subscription (`Subscription/abc` or an absolute URL). */
  subscription: string;
  topic?: string;
  status?: string;
  type: NotificationType;
  eventsSinceStart?: number;
  /** Event numbers this notification stands for: its events' numbers, else implied by the counters. */
  numbers: number[];
  events: NotificationEvent[];
  /** The entries after the status: full-resource payloads and additional context. */
  resources: Array<{ fullUrl?: string; resource: Resource }>;
}

// biome-ignore lint/suspicious/noExplicitAny: FHIR JSON is read defensively.
type Json = any;

const num = (v: unknown): number | undefined => {
  const n =
    typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : Number.NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
};
const ref = (v: Json): string | undefined => (typeof v?.reference === 'string' ? v.reference : undefined);

/**
 * A counter as real servers send it: `valueString` (the R4 form of an integer64 in STU1.1),
 * `valueUnsignedInt`, `valueInteger`, `valuePositiveInt` or `valueInteger64` (STU1, R4B, R5 forms).
 */
const counter = (p: Json): number | undefined =>
  num(p?.valueString ?? p?.valueUnsignedInt ?? p?.valueInteger ?? p?.valuePositiveInt ?? p?.valueInteger64);

/** The subscription as `valueReference` (the IG), `valueString` (the HL7 reference server's R4), `valueUri`/`valueCanonical`. */
const subscriptionRef = (p: Json): string | undefined => {
  const v = ref(p?.valueReference) ?? p?.valueString ?? p?.valueUri ?? p?.valueCanonical ?? p?.valueUrl;
  return typeof v === 'string' && v.trim() ? v.trim() : undefined;
};

/**
 * Event numbers of a notification that lists no `notification-event` (STU1 forms): the last
 * `events-in-notification` numbers up to `events-since-subscription-start`, else that number.
 */
function impliedNumbers(since: number | undefined, inNotification: number | undefined): number[] {
  if (since === undefined) return [];
  const k = Math.min(Math.max(inNotification ?? 1, 1), since, 1000);
  return Array.from({ length: Math.max(k, 1) }, (_, i) => since - k + 1 + i).filter((x) => x >= 0);
}

function fromParameters(p: Json, at: string, issues: OperationOutcomeIssue[]) {
  const params: Json[] = Array.isArray(p.parameter) ? p.parameter : [];
  const one = (name: string) => params.find((x) => x?.name === name);
  const events: NotificationEvent[] = [];
  params.forEach((x, i) => {
    if (x?.name !== 'notification-event') return;
    const parts: Json[] = Array.isArray(x.part) ? x.part : [];
    const part = (name: string) => parts.find((y) => y?.name === name);
    const n = counter(part('event-number'));
    if (n === undefined) {
      issues.push(
        issue('required', 'a notification-event needs an event-number', `${at}.parameter[${i}].part`),
      );
      return;
    }
    const focus = ref(part('focus')?.valueReference);
    const ts = part('timestamp')?.valueInstant;
    events.push({
      number: n,
      ...(typeof ts === 'string' ? { timestamp: ts } : {}),
      ...(focus ? { focus } : {}),
      additionalContext: parts
        .filter((y) => y?.name === 'additional-context')
        .map((y) => ref(y.valueReference))
        .filter((r): r is string => !!r),
    });
  });
  return {
    subscription: subscriptionRef(one('subscription')),
    topic: one('topic')?.valueCanonical ?? one('topic')?.valueUri,
    status: one('status')?.valueCode,
    type: one('type')?.valueCode,
    eventsSinceStart: counter(one('events-since-subscription-start')),
    eventsInNotification: counter(one('events-in-notification')),
    events,
  };
}

function fromSubscriptionStatus(s: Json, at: string, issues: OperationOutcomeIssue[]) {
  const events: NotificationEvent[] = [];
  (Array.isArray(s.notificationEvent) ? s.notificationEvent : []).forEach((e: Json, i: number) => {
    const n = num(e?.eventNumber);
    if (n === undefined) {
      issues.push(
        issue('required', 'a notificationEvent needs an eventNumber', `${at}.notificationEvent[${i}]`),
      );
      return;
    }
    const focus = ref(e.focus);
    events.push({
      number: n,
      ...(typeof e.timestamp === 'string' ? { timestamp: e.timestamp } : {}),
      ...(focus ? { focus } : {}),
      additionalContext: (Array.isArray(e.additionalContext) ? e.additionalContext : [])
        .map(ref)
        .filter((r: unknown): r is string => !!r),
    });
  });
  return {
    subscription: ref(s.subscription) ?? (typeof s.subscription === 'string' ? s.subscription : undefined),
    topic: s.topic,
    status: s.status,
    type: s.type,
    eventsSinceStart: num(s.eventsSinceSubscriptionStart),
    eventsInNotification: num(s.eventsInNotification),
    events,
  };
}

export function parseNotification(body: unknown): {
  notification?: Notification;
  issues: OperationOutcomeIssue[];
} {
  const issues: OperationOutcomeIssue[] = [];
  const b = body as Json;
  if (!b || typeof b !== 'object' || b.resourceType !== 'Bundle')
    return { issues: [issue('structure', 'a notification is a Bundle', 'resourceType')] };
  if (b.type !== 'history' && b.type !== 'subscription-notification')
    issues.push(issue('value', 'a notification Bundle has type history (R4 backport)', 'Bundle.type'));
  const entries: Json[] = Array.isArray(b.entry) ? b.entry : [];
  const first = entries[0]?.resource;
  const at = 'Bundle.entry[0].resource';
  if (!first || (first.resourceType !== 'Parameters' && first.resourceType !== 'SubscriptionStatus')) {
    issues.push(
      issue(
        'required',
        'the first entry of a notification must be the subscription status (Parameters)',
        entries.length ? at : 'Bundle.entry',
      ),
    );
    return { issues };
  }
  const s =
    first.resourceType === 'Parameters'
      ? fromParameters(first, at, issues)
      : fromSubscriptionStatus(first, at, issues);
  const param = (name: string) =>
    first.resourceType === 'Parameters' ? `${at}.parameter.where(name='${name}')` : `${at}.${name}`;
  if (!s.subscription)
    issues.push(issue('required', 'the status names no subscription', param('subscription')));
  if (!(NOTIFICATION_TYPES as readonly string[]).includes(s.type))
    issues.push(issue('code-invalid', `type must be one of ${NOTIFICATION_TYPES.join('|')}`, param('type')));
  if (s.type === 'event-notification' && s.events.length === 0 && s.eventsSinceStart === undefined)
    issues.push(
      issue(
        'required',
        'an event-notification needs a notification-event or events-since-subscription-start',
        param('notification-event'),
      ),
    );
  const resources: Notification['resources'] = [];
  entries.slice(1).forEach((e: Json, i: number) => {
    if (e?.resource && typeof e.resource.resourceType === 'string')
      resources.push({
        ...(typeof e.fullUrl === 'string' ? { fullUrl: e.fullUrl } : {}),
        resource: e.resource,
      });
    // id-only payloads list their foci as entries without a resource: those are read from the source.
    else if (e?.resource !== undefined)
      issues.push(
        issue('structure', 'an entry resource needs a resourceType', `Bundle.entry[${i + 1}].resource`),
      );
  });
  if (issues.length > 0) return { issues };
  return {
    notification: {
      subscription: s.subscription!,
      ...(typeof s.topic === 'string' ? { topic: s.topic } : {}),
      ...(typeof s.status === 'string' ? { status: s.status } : {}),
      type: s.type as NotificationType,
      ...(s.eventsSinceStart !== undefined ? { eventsSinceStart: s.eventsSinceStart } : {}),
      numbers:
        s.events.length > 0
          ? s.events.map((e) => e.number)
          : impliedNumbers(s.eventsSinceStart, s.eventsInNotification),
      events: s.events,
      resources,
    },
    issues,
  };
}

/** `abc` out of `Subscription/abc`, `http://x/fhir/Subscription/abc/_history/1`. */
export function subscriptionId(reference: string): string {
  const m = /(?:^|\/)Subscription\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(reference);
  return m ? m[1]! : reference;
}
