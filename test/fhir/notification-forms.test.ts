import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseNotification } from '../../src/fhir/notification.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * Backport notifications as real servers send them (issue 12 item 3): the forms of the counters
 * and of the subscription, counters without events, and a subscription the gateway did not create
 * on a server it has no client for, sent with an `ingest` token.
 */

const DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'fhir');
// biome-ignore lint/suspicious/noExplicitAny: fixtures are edited as plain JSON.
const fixture = (name: string): any => JSON.parse(readFileSync(join(DIR, name), 'utf8'));
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

// biome-ignore lint/suspicious/noExplicitAny: FHIR JSON built in the test.
const status = (b: any) => b.entry[0].resource.parameter as Array<Record<string, unknown>>;

describe('notification forms (pure)', () => {
  it('reads the subscription as valueReference, valueString or valueUri', () => {
    for (const form of [
      { valueReference: { reference: 'https://x.org/fhir/Subscription/s1' } },
      { valueString: 'https://x.org/fhir/Subscription/s1' },
      { valueUri: 'https://x.org/fhir/Subscription/s1' },
    ]) {
      const b = fixture('backport-r4-notification-full-resource.json');
      const p = status(b);
      p[0] = { name: 'subscription', ...form };
      const { notification, issues } = parseNotification(b);
      assert.deepEqual(issues, [], JSON.stringify(form));
      assert.equal(notification?.subscription, 'https://x.org/fhir/Subscription/s1');
    }
  });

  it('reads the counters as valueString, valueUnsignedInt, valueInteger or valueInteger64', () => {
    for (const key of ['valueString', 'valueUnsignedInt', 'valueInteger', 'valueInteger64']) {
      const v = key === 'valueString' || key === 'valueInteger64' ? '7' : 7;
      const b = fixture('backport-r4-notification-full-resource.json');
      const p = status(b);
      const since = p.find((x) => x.name === 'events-since-subscription-start')!;
      delete since.valueString;
      since[key] = v;
      const ev = p.find((x) => x.name === 'notification-event') as { part: Array<Record<string, unknown>> };
      ev.part[0] = { name: 'event-number', [key]: v };
      const { notification, issues } = parseNotification(b);
      assert.deepEqual(issues, [], key);
      assert.equal(notification?.eventsSinceStart, 7, key);
      assert.deepEqual(notification?.numbers, [7], key);
    }
  });

  it('counters without notification-event stand for the last events-in-notification events', () => {
    const { notification } = parseNotification(fixture('backport-stu1-notification-counters-only.json'));
    assert.deepEqual(notification?.numbers, [2, 3]);
    assert.equal(notification?.resources.length, 3);
    const older = fixture('backport-subscriptionstatus-notification-id-only.json');
    const s = older.entry[0].resource;
    delete s.notificationEvent;
    s.eventsSinceSubscriptionStart = '9';
    s.eventsInNotification = 3;
    assert.deepEqual(parseNotification(older).notification?.numbers, [7, 8, 9]);
  });
});

describe('a subscription the gateway did not create, on a server it cannot read', () => {
  let t: TestGateway;
  const INGEST = 'ingest-only-token-for-notifications';
  const send = async (body: unknown) => {
    const res = await fetch(`${t.gw.httpUrl}/ingest/fhir/subscription`, {
      method: 'POST',
      headers: { authorization: `Bearer ${INGEST}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      body: (await res.json()) as { issue: Array<{ details: { text: string } }> },
    };
  };

  before(async () => {
    // No `sources` at all: nothing to read the Subscription or any resource from.
    t = await startTestGateway({
      database: 'pglite',
      config: { tokens: [{ name: 'ehr-feed', token: INGEST, scopes: ['ingest'] }] },
    });
  });
  after(async () => t?.dispose());

  it('a handshake is acknowledged and the subscription recorded', async () => {
    const hs = fixture('backport-r4-notification-handshake.json');
    const r = await send(hs);
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });

  it('a full-resource notification is stored, processed, and its subscription learned', async () => {
    const r = await send(fixture('reference-server-r4-notification-full-resource.json'));
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const text = r.body.issue[0]!.details.text;
    const messageId = UUID.exec(text)?.[0];
    assert.ok(messageId, text);
    await t.gw.idle();
    const auth = { authorization: `Bearer ${t.gw.adminToken}` };
    const rec = (await (await fetch(`${t.gw.httpUrl}/lineage/${messageId}`, { headers: auth })).json()) as {
      status: string;
      source: { channel: string };
      stages: Array<{ stage: string }>;
    };
    assert.equal(rec.source.channel, 'subscription');
    assert.equal(rec.status, 'processed');
    assert.ok(rec.stages.some((s) => s.stage === 'mapped'));
    const subs = (await (await fetch(`${t.gw.httpUrl}/subscriptions`, { headers: auth })).json()) as {
      subscriptions: Array<Record<string, unknown>>;
    };
    const s = subs.subscriptions.find((x) => x.subscription === '383c610b-8a8b-4173-b363-7b811509aadd');
    assert.ok(s, JSON.stringify(subs));
    assert.equal(s.source, 'http://localhost:5826/fhir/r4');
    assert.equal(s.payload, 'full-resource');
    assert.equal(s.lastEventNumber, 1);
    assert.equal(s.topic, 'http://example.org/FHIR/SubscriptionTopic/vital-signs');

    // The same delivery again: a replay, not a second message.
    const again = await send(fixture('reference-server-r4-notification-full-resource.json'));
    assert.equal(again.status, 200);
    assert.match(again.body.issue[0]!.details.text, /replay/);
  });

  it('a later event with a gap is stored, and says there is nothing to catch up from', async () => {
    const b = fixture('reference-server-r4-notification-full-resource.json');
    const p = status(b);
    p.find((x) => x.name === 'events-since-subscription-start')!.valueString = '4';
    const ev = p.find((x) => x.name === 'notification-event') as { part: Array<Record<string, unknown>> };
    ev.part[0] = { name: 'event-number', valueString: '4' };
    b.entry[1].resource.valueQuantity.value = 91;
    const r = await send(b);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.match(r.body.issue[0]!.details.text, /events 2\.\.3 missed: no source server to catch up from/);
  });

  it('an id-only notification from that server is refused: its resources cannot be read', async () => {
    const b = fixture('backport-r4-notification-id-only.json');
    const r = await send(b);
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.match(r.body.issue[0]!.details.text, /cannot be processed/);
    assert.match(r.body.issue[0]!.details.text, /not in config sources/);
  });
});
