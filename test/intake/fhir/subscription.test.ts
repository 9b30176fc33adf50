import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { LineageRecord } from '../../../src/lineage/store.js';
import { runCli } from '../../helpers/cli.js';
import {
  bpPanel,
  HOSP_SYSTEM,
  patient,
  quantityObs,
  SICK,
  vitalsResources,
  vitalsTransaction,
  WELL,
} from '../../helpers/fhir-resources.js';
import { type SourceServer, startSourceServer } from '../../helpers/fhir-source-server.js';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';

type Json = Record<string, unknown>;
const AT = '2024-03-05T07:30:00+00:00';

/** A Backport IG R4 notification Bundle: Parameters (SubscriptionStatus) first. */
function notification(
  sub: string,
  type: string,
  since: number,
  events: Array<{ n: number; focus?: string }>,
) {
  const parameter: Json[] = [
    { name: 'subscription', valueReference: { reference: sub } },
    { name: 'topic', valueCanonical: 'http://example.org/topic/vital-signs' },
    { name: 'status', valueCode: 'active' },
    { name: 'type', valueCode: type },
    { name: 'events-since-subscription-start', valueString: String(since) },
    ...events.map((e) => ({
      name: 'notification-event',
      part: [
        { name: 'event-number', valueString: String(e.n) },
        { name: 'timestamp', valueInstant: AT },
        ...(e.focus ? [{ name: 'focus', valueReference: { reference: e.focus } }] : []),
      ],
    })),
  ];
  return {
    resourceType: 'Bundle',
    type: 'history',
    timestamp: AT,
    entry: [
      {
        fullUrl: `urn:uuid:${Math.random().toString(16).slice(2)}`,
        resource: { resourceType: 'Parameters', parameter },
      },
      ...events
        .filter((e) => e.focus)
        .map((e) => ({ fullUrl: e.focus, request: { method: 'PUT', url: 'Observation' } })),
    ],
  };
}

describe('FHIR subscriptions: SMART Backend Services source, id-only, gaps, replays, heartbeats', () => {
  let t: TestGateway;
  let src: SourceServer;
  let subUrl = '';
  const auth = () => ({ authorization: `Bearer ${t.gw.adminToken}` });
  const notify = async (body: unknown) => {
    const res = await fetch(`${t.gw.httpUrl}/ingest/fhir/subscription`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/fhir+json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Json };
  };
  const text = (b: Json) => JSON.stringify(b.issue);
  const scores = async (mrn = 'MRN-SUB') => {
    const q = encodeURIComponent(`${HOSP_SYSTEM}|${mrn}`);
    const res = await fetch(
      `${t.gw.httpUrl}/fhir/Observation?code=vitals-deterioration-probability&subject:identifier=${q}`,
      { headers: auth() },
    );
    return (((await res.json()) as Json).entry ?? []) as Array<{ resource: Json }>;
  };
  const metric = async (name: string) => {
    const body = await (await fetch(`${t.gw.httpUrl}/metrics`)).text();
    const line = body.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.slice(name.length + 1)) : 0;
  };
  const cli = (args: string[]) =>
    runCli([...args, ...(args[0] === 'keys' ? [] : ['--url', t.gw.httpUrl])], {
      GATEWAY_ADMIN_TOKEN: t.gw.adminToken,
      DATA_DIR: t.dataDir,
    });

  before(async () => {
    src = await startSourceServer({
      clientId: 'ml-gateway',
      jwksUrl: () => `${t.gw.httpUrl}/.well-known/jwks.json`,
    });
    t = await startTestGateway({
      database: 'pglite',
      config: {
        patients: { identifierSystems: { HOSP: HOSP_SYSTEM } },
        sources: [
          { name: 'ehr', baseUrl: src.fhirUrl, smart: { tokenUrl: src.tokenUrl, clientId: 'ml-gateway' } },
        ],
        // Catch-up searches come back in pages of 2: what was missed is on the last page, so the
        // catch-up tests below pass only if the source's `next` links are followed.
        subscriptions: { checkIntervalMs: 100, catchUpPageSize: 2 },
      },
    });
    // What the EHR holds: a patient and a vital-signs panel whose members are separate Observations.
    const subject = { reference: 'Patient/sub-pat' };
    await src.store.update('Patient', 'sub-pat', patient('sub-pat', 'MRN-SUB'));
    await src.store.update(
      'Observation',
      'sub-hr',
      quantityObs('sub-hr', subject, '8867-4', 128, '/min', AT),
    );
    await src.store.update('Observation', 'sub-rr', quantityObs('sub-rr', subject, '9279-1', 28, '/min', AT));
    await src.store.update('Observation', 'sub-bp', bpPanel('sub-bp', subject, 86, 50, AT));
    await src.store.update('Observation', 'sub-panel', {
      resourceType: 'Observation',
      id: 'sub-panel',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '85353-1' }] },
      subject,
      effectiveDateTime: AT,
      hasMember: [
        { reference: 'Observation/sub-hr' },
        { reference: 'Observation/sub-rr' },
        { reference: 'Observation/sub-bp' },
      ],
    });
  });
  after(async () => {
    await t?.dispose();
    await src?.close();
  });

  it('serves the JWKS of its signing key, the same as `gateway keys`', async () => {
    const res = await fetch(`${t.gw.httpUrl}/.well-known/jwks.json`); // public: no token
    assert.equal(res.status, 200);
    const set = (await res.json()) as { keys: Array<Json> };
    assert.equal(set.keys[0]!.alg, 'RS384');
    assert.equal(set.keys[0]!.d, undefined, 'no private part');
    const r = await cli(['keys']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).keys[0].kid, set.keys[0]!.kid);
  });

  it('`gateway subscriptions create` registers a Backport Subscription on the source server', async () => {
    const r = await cli([
      'subscriptions',
      'create',
      '--source',
      'ehr',
      '--topic',
      'http://example.org/topic/vital-signs',
      '--filter',
      'Observation?subject=Patient/sub-pat',
      '--endpoint',
      `${t.gw.httpUrl}/ingest/fhir/subscription`,
      '--payload',
      'id-only',
      '--heartbeat',
      '1',
      '--header',
      `Authorization: Bearer ${t.gw.adminToken}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const id = /Subscription\/([A-Za-z0-9-]+)/.exec(r.stdout)?.[1];
    assert.ok(id, r.stdout);
    subUrl = `${src.fhirUrl}/Subscription/${id}`;
    const sub = (await src.store.read('Subscription', id!)) as Json;
    assert.equal(sub.criteria, 'http://example.org/topic/vital-signs');
    const channel = sub.channel as Json;
    assert.equal(channel.type, 'rest-hook');
    assert.match(JSON.stringify(channel), /backport-heartbeat-period.*"valueUnsignedInt":1/);
    assert.match(JSON.stringify(channel), /backport-payload-content.*"valueCode":"id-only"/);
    assert.match(JSON.stringify(sub), /backport-filter-criteria.*Observation\?subject=Patient\/sub-pat/);
    assert.equal(src.tokensIssued, 1, 'one token, from a verified assertion');
  });

  it('acknowledges and records the handshake', async () => {
    const r = await notify(notification(subUrl, 'handshake', 0, []));
    assert.equal(r.status, 200);
    assert.match(text(r.body), /handshake acknowledged/);
  });

  it('an id-only notification leads to fetched resources and a score written back', async () => {
    const r = await notify(
      notification(subUrl, 'event-notification', 1, [
        { n: 1, focus: `${src.fhirUrl}/Observation/sub-panel` },
      ]),
    );
    assert.equal(r.status, 202, text(r.body));
    await t.gw.idle();
    const found = await scores();
    assert.equal(found.length, 1, 'panel + members + patient fetched, scored');
    const obs = found[0]!.resource;
    const derived = (obs.derivedFrom as Array<{ reference: string }>).map((d) => d.reference).sort();
    assert.deepEqual(
      derived,
      ['sub-bp', 'sub-hr', 'sub-rr'].map((id) => `${src.fhirUrl}/Observation/${id}`),
    );
    assert.equal(src.tokensIssued, 1, 'the token is cached until it expires');
    assert.equal(src.unauthorized, 0);
  });

  it('ignores a replay', async () => {
    const r = await notify(
      notification(subUrl, 'event-notification', 1, [
        { n: 1, focus: `${src.fhirUrl}/Observation/sub-panel` },
      ]),
    );
    assert.equal(r.status, 200);
    assert.match(text(r.body), /replay ignored/);
    await t.gw.idle();
    assert.equal((await scores()).length, 1);
  });

  it('splits a full-resource notification naming two patients: one score each, from its own values', async () => {
    const body = notification('Subscription/two-patients', 'event-notification', 2, [{ n: 1 }, { n: 2 }]);
    const entry = (resource: Json) => ({
      fullUrl: `${src.fhirUrl}/${resource.resourceType}/${resource.id}`,
      resource,
    });
    (body.entry as Json[]).push(
      ...vitalsResources('MRN-TWO-A', AT, 'two-a', SICK).map(entry),
      ...vitalsResources('MRN-TWO-B', AT, 'two-b', WELL).map(entry),
    );
    const eventsBefore = await metric('gateway_fhir_subscription_notifications_total{kind="event"}');
    const r = await notify(body);
    assert.equal(r.status, 202, text(r.body));
    const notificationId = /stored as message ([0-9a-f-]{36})/.exec(text(r.body))?.[1];
    // The same values through the REST door, for two other patients: what each score must be.
    for (const [mrn, prefix, v] of [
      ['MRN-TWO-C', 'two-c', SICK],
      ['MRN-TWO-D', 'two-d', WELL],
    ] as const) {
      const res = await fetch(`${t.gw.httpUrl}/ingest/fhir`, {
        method: 'POST',
        headers: { ...auth(), 'content-type': 'application/fhir+json' },
        body: JSON.stringify(vitalsTransaction(mrn, AT, prefix, v)),
      });
      assert.equal(res.status, 200);
    }
    await t.gw.idle();
    const [a] = await scores('MRN-TWO-A');
    const [b] = await scores('MRN-TWO-B');
    const [c] = await scores('MRN-TWO-C');
    const [d] = await scores('MRN-TWO-D');
    assert.ok(a && b && c && d, 'each patient scored');
    assert.equal((await scores('MRN-TWO-A')).length, 1);
    assert.equal((await scores('MRN-TWO-B')).length, 1);
    const value = (o: Json) => (o.valueQuantity as { value: number }).value;
    assert.equal(value(a.resource), value(c.resource), 'patient A scored from its own values');
    assert.equal(value(b.resource), value(d.resource), 'patient B scored from its own values');
    assert.notEqual(value(a.resource), value(b.resource));
    const derived = (o: Json) => (o.derivedFrom as Array<{ reference: string }>).map((x) => x.reference);
    assert.ok(derived(a.resource).every((ref) => ref.includes('/Observation/two-a-')));
    assert.ok(derived(b.resource).every((ref) => ref.includes('/Observation/two-b-')));
    assert.equal(derived(a.resource).length, 5);
    // Lineage: the notification records its parts; each part names the notification.
    assert.ok(notificationId, text(r.body));
    const lineage = async (id: string) =>
      (await (await fetch(`${t.gw.httpUrl}/lineage/${id}`, { headers: auth() })).json()) as LineageRecord;
    const parent = await lineage(notificationId!);
    assert.equal(parent.status, 'processed', 'done: its parts are scored as messages of their own');
    assert.ok(!parent.stages.some((s) => s.stage === 'ignored'));
    const split = parent.stages.find((s) => s.stage === 'split') as unknown as {
      parts: Array<{ messageId: string; controlId: string }>;
    };
    assert.equal(split?.parts.length, 2, JSON.stringify(parent.stages));
    for (const part of split.parts) {
      const rec = await lineage(part.messageId);
      assert.equal(rec.status, 'processed');
      assert.equal(rec.source.channel, 'subscription');
      assert.ok(rec.source.controlId.startsWith(parent.source.controlId));
      const from = rec.stages.find((s) => s.stage === 'split-from');
      assert.equal(from?.notification, notificationId);
      assert.equal(rec.outputs.length, 1);
    }
    // Event numbers count the notification once.
    const subs = (await (await fetch(`${t.gw.httpUrl}/subscriptions`, { headers: auth() })).json()) as {
      subscriptions: Array<{ subscription: string; lastEventNumber: number; gaps: number }>;
    };
    const two = subs.subscriptions.find((s) => s.subscription === 'two-patients');
    assert.equal(two?.lastEventNumber, 2);
    assert.equal(two?.gaps, 0);
    assert.equal(
      (await metric('gateway_fhir_subscription_notifications_total{kind="event"}')) - eventsBefore,
      1,
    );
  });

  it('splits an id-only notification whose foci, once read, belong to two patients', async () => {
    for (const [id, mrn, hr] of [
      ['io-a', 'MRN-IO-A', 120],
      ['io-b', 'MRN-IO-B', 64],
    ] as const) {
      await src.store.update('Patient', id, patient(id, mrn));
      await src.store.update(
        'Observation',
        `${id}-hr`,
        quantityObs(`${id}-hr`, { reference: `Patient/${id}` }, '8867-4', hr, '/min', AT),
      );
    }
    const r = await notify(
      notification('Subscription/two-id-only', 'event-notification', 2, [
        { n: 1, focus: `${src.fhirUrl}/Observation/io-a-hr` },
        { n: 2, focus: `${src.fhirUrl}/Observation/io-b-hr` },
      ]),
    );
    assert.equal(r.status, 202, text(r.body));
    const id = /stored as message ([0-9a-f-]{36})/.exec(text(r.body))?.[1];
    await t.gw.idle();
    const lineage = async (m: string) =>
      (await (await fetch(`${t.gw.httpUrl}/lineage/${m}`, { headers: auth() })).json()) as LineageRecord;
    const parent = await lineage(id!);
    const split = parent.stages.find((s) => s.stage === 'split') as unknown as {
      parts: Array<{ messageId: string }>;
    };
    assert.equal(split?.parts.length, 2, JSON.stringify(parent.stages));
    for (const part of split.parts) {
      const rec = await lineage(part.messageId);
      assert.equal(rec.status, 'processed', JSON.stringify(rec.stages));
      const mapped = rec.stages.find((s) => s.stage === 'mapped' && s.model === 'vitals-deterioration');
      // Its own heart rate, and the age of its own patient (read from the source).
      assert.deepEqual(mapped?.features, ['heart_rate', 'age']);
    }
  });

  it('a gap in event numbers triggers a catch-up search for what was missed', async () => {
    const subject = { reference: 'Patient/sub-pat' };
    await src.store.update(
      'Observation',
      'sub-hr2',
      quantityObs('sub-hr2', subject, '8867-4', 140, '/min', '2024-03-05T08:00:00+00:00'),
    );
    await src.store.update(
      'Observation',
      'sub-hr3',
      quantityObs('sub-hr3', subject, '8867-4', 150, '/min', '2024-03-05T08:30:00+00:00'),
    );
    // Event 2 (sub-hr2) never arrives; event 3 does.
    const r = await notify(
      notification(subUrl, 'event-notification', 3, [{ n: 3, focus: `${src.fhirUrl}/Observation/sub-hr3` }]),
    );
    assert.equal(r.status, 202);
    assert.match(text(r.body), /events 2\.\.2 missed: catching up/);
    let recs: LineageRecord[] = [];
    for (let i = 0; i < 100 && recs.length === 0; i++) {
      await new Promise((res) => setTimeout(res, 50));
      const res = await fetch(
        `${t.gw.httpUrl}/lineage?controlId=${encodeURIComponent('Observation/sub-hr2|v:1')}`,
        { headers: auth() },
      );
      recs = (await res.json()) as LineageRecord[];
    }
    assert.equal(recs.length, 1, 'the missed Observation was fetched by the catch-up');
    await t.gw.idle();
    const rec = (await (
      await fetch(`${t.gw.httpUrl}/lineage/${recs[0]!.messageId}`, { headers: auth() })
    ).json()) as LineageRecord;
    assert.equal(rec.source.channel, 'subscription');
    assert.equal(rec.status, 'processed');
    assert.ok(rec.stages.some((s) => s.stage === 'mapped'));
    const all = (await scores()).map((e) => JSON.stringify(e.resource.derivedFrom));
    assert.ok(
      all.some((d) => d.includes('Observation/sub-hr3')),
      'the newest heart rate scored',
    );
  });

  it('catches up for a subscription created on the source directly, reading its filter from the source', async () => {
    const SD = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';
    // Made by the EHR's own tooling, not by `gateway subscriptions create`: the gateway knows nothing of it.
    await src.store.update('Subscription', 'direct-sub', {
      resourceType: 'Subscription',
      id: 'direct-sub',
      meta: { profile: [`${SD}/backport-subscription`] },
      status: 'active',
      reason: 'made on the EHR',
      criteria: 'http://example.org/topic/vital-signs',
      _criteria: {
        extension: [
          { url: `${SD}/backport-filter-criteria`, valueString: 'Observation?subject=Patient/dir-pat' },
        ],
      },
      channel: {
        extension: [{ url: `${SD}/backport-heartbeat-period`, valueUnsignedInt: 3600 }],
        type: 'rest-hook',
        endpoint: `${t.gw.httpUrl}/ingest/fhir/subscription`,
        payload: 'application/fhir+json',
        _payload: { extension: [{ url: `${SD}/backport-payload-content`, valueCode: 'full-resource' }] },
      },
    });
    const sub = `${src.fhirUrl}/Subscription/direct-sub`;
    const resources = vitalsResources('MRN-DIR', AT, 'dir');
    for (const res of resources) await src.store.update(res.resourceType, res.id, res);
    const full = (since: number, n: number, list: Json[]) => {
      const body = notification(sub, 'event-notification', since, [{ n }]);
      (body.entry as Json[]).push(
        ...list.map((resource) => ({
          fullUrl: `${src.fhirUrl}/${resource.resourceType}/${resource.id}`,
          resource,
        })),
      );
      return body;
    };
    assert.equal((await notify(notification(sub, 'handshake', 0, []))).status, 200);
    // At the handshake the gateway reads the Subscription: its heartbeat period is known (the
    // missing-heartbeat alert can fire) before any gap.
    const known = async () =>
      (
        (await (await fetch(`${t.gw.httpUrl}/subscriptions`, { headers: auth() })).json()) as {
          subscriptions: Array<Record<string, unknown>>;
        }
      ).subscriptions.find((x) => x.subscription === 'direct-sub');
    for (let i = 0; i < 100 && !(await known())?.heartbeatSeconds; i++)
      await new Promise((res) => setTimeout(res, 50));
    assert.equal((await known())?.heartbeatSeconds, 3600);
    const first = await notify(full(1, 1, resources));
    assert.equal(first.status, 202, text(first.body));
    await t.gw.idle();
    assert.equal((await scores('MRN-DIR')).length, 1);
    // Event 2 (a newer respiratory rate) is never delivered; event 3 (a heart rate) is.
    const subject = { reference: 'Patient/dir-pat' };
    const rr2 = quantityObs('dir-rr2', subject, '9279-1', 32, '/min', '2024-03-05T08:00:00+00:00');
    const hr3 = quantityObs('dir-hr3', subject, '8867-4', 135, '/min', '2024-03-05T08:30:00+00:00');
    await src.store.update('Observation', 'dir-rr2', rr2);
    await src.store.update('Observation', 'dir-hr3', hr3);
    const unauthorizedBefore = src.unauthorized;
    const r = await notify(full(3, 3, [hr3]));
    assert.equal(r.status, 202, text(r.body));
    assert.match(text(r.body), /events 2\.\.2 missed: catching up/);
    // The catch-up runs after the answer: wait for the missed Observation to be stored and processed.
    const missed = encodeURIComponent('Observation/dir-rr2|v:1');
    let recs: LineageRecord[] = [];
    for (let i = 0; i < 100 && recs[0]?.status !== 'processed'; i++) {
      await new Promise((res) => setTimeout(res, 50));
      await t.gw.idle();
      const res = await fetch(`${t.gw.httpUrl}/lineage?controlId=${missed}`, { headers: auth() });
      recs = (await res.json()) as LineageRecord[];
    }
    // The filter was read from the source's Subscription (with a bearer token) and stored.
    const subs = (await (await fetch(`${t.gw.httpUrl}/subscriptions`, { headers: auth() })).json()) as {
      subscriptions: Array<Record<string, unknown>>;
    };
    const direct = subs.subscriptions.find((x) => x.subscription === 'direct-sub');
    assert.equal(direct?.filterCriteria, 'Observation?subject=Patient/dir-pat');
    assert.equal(direct?.topic, 'http://example.org/topic/vital-signs');
    assert.equal(direct?.heartbeatSeconds, 3600);
    assert.equal(direct?.payload, 'full-resource');
    assert.equal(src.unauthorized, unauthorizedBefore, 'every read carried a valid token');
    // The missed Observation was fetched by the catch-up, stored as a message of its own and scored.
    assert.equal(recs.length, 1, 'the missed Observation was fetched by the catch-up');
    assert.equal(recs[0]!.status, 'processed');
    assert.equal(recs[0]!.outputs.length, 1, 'the catch-up message was scored');
    const derived = (await scores('MRN-DIR')).map((e) => JSON.stringify(e.resource.derivedFrom));
    assert.ok(
      derived.some((d) => d.includes(`${src.fhirUrl}/Observation/dir-rr2`)),
      'a score derived from the missed respiratory rate',
    );
  });

  it('`gateway subscriptions status` shows the last event number and heartbeat', async () => {
    assert.equal((await notify(notification(subUrl, 'heartbeat', 3, []))).status, 200);
    const r = await cli(['subscriptions', 'status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /ehr\tSubscription\/\S+\tstatus=active\tlastEvent=3\teventsSinceStart=3\tlastHeartbeat=20\d\d-/,
    );
    assert.match(r.stdout, /gaps=1\treplays=1/);
  });

  it('raises an alert when a heartbeat is missing beyond the period', async () => {
    // The count grows with every silence (a slow test before this one can make one more).
    const missed =
      /gateway_fhir_subscription_heartbeat_missed_total\{source="ehr",subscription="[^"]+"\} [1-9]/;
    let text = '';
    for (let i = 0; i < 60 && !(missed.test(text) && /heartbeat_overdue 1/.test(text)); i++) {
      await new Promise((res) => setTimeout(res, 100));
      text = await (await fetch(`${t.gw.httpUrl}/metrics`)).text();
    }
    assert.match(text, missed);
    assert.match(text, /gateway_fhir_subscriptions_heartbeat_overdue 1/);
    const r = await cli(['subscriptions', 'status']);
    assert.match(r.stdout, /heartbeatMissing=yes/);
  });

  it('answers an empty or malformed notification with an OperationOutcome', async () => {
    for (const body of [
      '',
      '{',
      '[]',
      '{"resourceType":"Bundle","type":"history"}',
      JSON.stringify(notification(subUrl, 'bogus', 1, [])),
    ]) {
      const r = await notify(body || '""');
      assert.equal(r.status, 400, body);
      assert.equal(r.body.resourceType, 'OperationOutcome');
    }
    const health = await fetch(`${t.gw.httpUrl}/health/live`);
    assert.equal(health.status, 200);
  });

  it('the token endpoint refuses an assertion signed by another key', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const kid = ((await (await fetch(`${t.gw.httpUrl}/.well-known/jwks.json`)).json()) as { keys: Json[] })
      .keys[0]!.kid;
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const input = `${enc({ alg: 'RS384', kid })}.${enc({ iss: 'ml-gateway', sub: 'ml-gateway', aud: src.tokenUrl, jti: 'x', exp: now + 60 })}`;
    const jwt = `${input}.${sign('sha384', Buffer.from(input), privateKey).toString('base64url')}`;
    const res = await fetch(src.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: jwt,
      }),
    });
    assert.equal(res.status, 401);
  });
});
