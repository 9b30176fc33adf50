import { api } from './api.js';
import { fmtTime, h, table } from './dom.js';

interface Subscription {
  source: string;
  subscription: string;
  topic: string | null;
  status: string | null;
  payload: string | null;
  heartbeatSeconds: number | null;
  lastEventNumber: number;
  eventsSinceStart: number | null;
  handshakeAt: string | null;
  lastHeartbeatAt: string | null;
  lastNotificationAt: string | null;
  heartbeatAlerted: boolean;
  gaps: number;
  replays: number;
}

/** A heartbeat is late when nothing (heartbeat or event) came for twice its period. */
function heartbeat(s: Subscription): { text: string; late: boolean } {
  const last = [s.lastHeartbeatAt, s.lastNotificationAt, s.handshakeAt]
    .filter(Boolean)
    .map((t) => Date.parse(t!));
  if (!s.heartbeatSeconds) return { text: 'no heartbeat asked', late: false };
  if (last.length === 0) return { text: 'never heard from', late: true };
  const age = (Date.now() - Math.max(...last)) / 1000;
  const late = s.heartbeatAlerted || age > 2 * s.heartbeatSeconds;
  return { text: `${Math.round(age)} s ago (every ${s.heartbeatSeconds} s)${late ? ' LATE' : ''}`, late };
}

/** Subscriptions (FHIR Backport): heartbeat, events, gaps of each. */
export async function renderSubscriptions(main: HTMLElement): Promise<void> {
  const { subscriptions } = await api<{ subscriptions: Subscription[] }>('/subscriptions');
  main.replaceChildren(
    h('h1', { tabindex: -1 }, 'Subscriptions'),
    table(
      'FHIR subscriptions the gateway receives notifications of',
      [
        'source',
        'subscription',
        'topic',
        'status',
        'heartbeat',
        'last event',
        'events',
        'gaps',
        'replays',
        'last notification',
      ],
      subscriptions.map((s) => {
        const hb = heartbeat(s);
        return [
          s.source,
          s.subscription,
          s.topic ?? '–',
          s.status ?? '–',
          h('span', { class: hb.late ? 'tag tag-failed' : '' }, hb.text),
          String(s.lastEventNumber),
          s.eventsSinceStart === null ? '–' : String(s.eventsSinceStart),
          h('span', { class: s.gaps > 0 ? 'tag tag-failed' : '' }, String(s.gaps)),
          String(s.replays),
          fmtTime(s.lastNotificationAt),
        ];
      }),
      { id: 'subscriptions' },
    ),
    h(
      'p',
      { class: 'muted' },
      "A gap is a notification that skipped event numbers: the gateway catches up with a search of the subscription's filter criteria. A replay is a notification with nothing new (ignored). Late: silent for more than twice the heartbeat period, or alerted by the gateway.",
    ),
  );
}
