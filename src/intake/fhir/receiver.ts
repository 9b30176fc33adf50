import { operationOutcome } from '../../errors/outcome.js';
import { storeError } from '../../errors/store.js';
import { isError, issue, resourceIdentity, sha256, validateResource } from '../../fhir/input.js';
import { type Notification, parseNotification, subscriptionId } from '../../fhir/notification.js';
import type { Bundle, OperationOutcomeIssue, Resource } from '../../fhir/types.js';
import type { Inbox } from '../../inbox/inbox.js';
import type { Logger } from '../../observability/logger.js';
import { errorInfo } from '../../observability/logger.js';
import type { SourceClient } from '../../sources/client.js';
import { type FhirAnswer, outcome } from './intake.js';
import { subscriptionFacts } from './subscription-resource.js';
import type { SubscriptionStore } from './subscription-store.js';

/**
 * `POST /ingest/fhir/subscription`: Backport IG notifications. Handshakes and heartbeats are
 * recorded and acknowledged; an event-notification is stored durably (one inbox message) and
 * processed like any FHIR input (full-resource payloads directly, id-only foci fetched from the
 * source server when processed). Event numbers are tracked per subscription: a notification whose
 * events were all received before is a replay (acknowledged, ignored); one that skips numbers
 * raises a catch-up search on the source server for what was missed, with the subscription's
 * filter criteria (stored when the gateway created it, else read from its Subscription on the
 * source server and stored then).
 */

export interface ReceiverDeps {
  inbox: Inbox;
  store: SubscriptionStore;
  sources: ReadonlyMap<string, SourceClient>;
  logger: Logger;
  onEvent?(kind: 'handshake' | 'heartbeat' | 'event' | 'replay' | 'gap' | 'malformed' | 'catch-up'): void;
  /** `_count` of each catch-up search page; the source's `next` links are followed (default 1000). */
  catchUpPageSize?: number;
  /** Pages one catch-up follows at most (default 1000). */
  catchUpMaxPages?: number;
  now?: () => Date;
}

const info = (text: string, code = 'informational'): OperationOutcomeIssue => ({
  severity: 'information',
  code,
  details: { text },
});

export const sourceSender = (name: string) => `source:${name}`;

/** A notification's server: a configured source (with a client to read from), or one known only by name. */
interface Origin {
  name: string;
  client: SourceClient | undefined;
}

/** What the payload carries, learned from a notification when the Subscription cannot be read. */
const payloadOf = (n: Notification) =>
  n.resources.length > 0 ? 'full-resource' : n.events.some((e) => e.focus) ? 'id-only' : 'empty';

export function createSubscriptionReceiver(d: ReceiverDeps) {
  const now = d.now ?? (() => new Date());
  const pending = new Set<Promise<void>>();

  /**
   * Where a notification comes from: its recorded subscription's source, the configured source
   * whose URL it names, or the only source; else a server the gateway has no client for, named by
   * the subscription's base URL (or the caller's token), whose full-resource payloads are processed.
   */
  async function originOf(n: Notification, caller: string | undefined): Promise<Origin> {
    const known = await d.store.find(subscriptionId(n.subscription));
    if (known) return { name: known.source, client: d.sources.get(known.source) };
    for (const s of d.sources.values())
      if (n.subscription.startsWith(`${s.baseUrl}/`)) return { name: s.name, client: s };
    const only = d.sources.size === 1 ? [...d.sources.values()][0] : undefined;
    if (only) return { name: only.name, client: only };
    const base = /^(https?:\/\/[^?#]+?)\/Subscription\//.exec(n.subscription)?.[1];
    return { name: base ?? `caller:${caller ?? 'anonymous'}`, client: undefined };
  }

  /**
   * The subscription's filter criteria: as stored (`gateway subscriptions create`), else read from
   * its Subscription resource on the source server and stored (one created there directly).
   */
  async function filtersOf(source: SourceClient, subscription: string): Promise<string[]> {
    const known = (await d.store.find(subscription))?.filterCriteria;
    if (known) return known.split('\n');
    const facts = subscriptionFacts(await source.read(`Subscription/${subscription}`));
    await d.store.register({
      source: source.name,
      subscription,
      ...(facts.topic ? { topic: facts.topic } : {}),
      ...(facts.filters.length > 0 ? { filterCriteria: facts.filters.join('\n') } : {}),
      ...(facts.payload ? { payload: facts.payload } : {}),
      ...(facts.heartbeatSeconds ? { heartbeatSeconds: facts.heartbeatSeconds } : {}),
    });
    d.logger.info(
      { source: source.name, subscription, filters: facts.filters.length },
      'subscription read from the source server',
    );
    return facts.filters;
  }

  /** Searches the source for what the subscription's filters select; each result becomes a message. */
  async function catchUp(
    source: SourceClient,
    subscription: string,
    from: number,
    to: number,
  ): Promise<void> {
    d.onEvent?.('catch-up');
    const filters = await filtersOf(source, subscription);
    if (filters.length === 0) {
      d.logger.warn(
        { source: source.name, subscription, from, to },
        'events missed but the subscription has no filter criteria to catch up with',
      );
      return;
    }
    let stored = 0;
    for (const criteria of filters) {
      const [type, query = ''] = criteria.split('?') as [string, string?];
      const params = Object.fromEntries(new URLSearchParams(query));
      let page: Bundle | undefined = (await source.search(type, {
        ...params,
        _count: String(d.catchUpPageSize ?? 1000),
      })) as Bundle;
      for (let n = 1; page; n++) {
        stored += await storeMatches(source, page);
        if (n >= (d.catchUpMaxPages ?? 1000)) {
          if (source.hasNextPage(page))
            d.logger.warn(
              { source: source.name, subscription, pages: n },
              'subscription catch-up stopped at catchUpMaxPages; the rest was not fetched',
            );
          break;
        }
        page = await source.nextPage(page);
      }
    }
    d.logger.info({ source: source.name, subscription, from, to, stored }, 'subscription catch-up done');
  }

  /** Stores each match of a search page as a message of its own; answers how many were new. */
  async function storeMatches(source: SourceClient, bundle: Bundle): Promise<number> {
    let stored = 0;
    for (const e of bundle.entry ?? []) {
      const r = e.resource as Resource | undefined;
      if (!r || (e.search?.mode && e.search.mode !== 'match')) continue;
      if (validateResource(r, r.resourceType).some(isError)) continue;
      const id = resourceIdentity(r);
      const a = await d.inbox.accept({
        channel: 'subscription',
        sender: sourceSender(source.name),
        controlId: `${id.resource}|${id.version}`,
        messageType: r.resourceType,
        raw: Buffer.from(JSON.stringify(r)),
      });
      if (!a.duplicate) stored++;
    }
    return stored;
  }

  /** Runs work after the answer; a failure is logged (warn or error) with what was being done. */
  function inBackground(
    work: Promise<unknown>,
    level: 'warn' | 'error',
    ctx: { source: SourceClient; subscription: string },
    what: string,
  ) {
    const p: Promise<void> = work
      .then(() => undefined)
      .catch((err) =>
        d.logger[level](
          { source: ctx.source.name, subscription: ctx.subscription, err: errorInfo(err) },
          what,
        ),
      )
      .finally(() => pending.delete(p));
    pending.add(p);
  }

  const learn = (source: SourceClient, subscription: string) =>
    inBackground(
      filtersOf(source, subscription),
      'warn',
      { source, subscription },
      'subscription not readable from the source server; its filters are read again at a gap',
    );

  const startCatchUp = (source: SourceClient, subscription: string, from: number, to: number) =>
    inBackground(
      catchUp(source, subscription, from, to),
      'error',
      { source, subscription },
      'subscription catch-up failed',
    );

  /** One notification; `caller` names the token it came with (for a server known by no other name). */
  async function receive(bytes: Buffer, caller?: string): Promise<FhirAnswer> {
    let body: unknown;
    try {
      body = JSON.parse(bytes.toString('utf8').replace(/^\uFEFF/, ''));
    } catch {
      d.onEvent?.('malformed');
      return { status: 400, body: outcome([issue('structure', 'the body is not JSON', '$this', 'fatal')]) };
    }
    const { notification: n, issues } = parseNotification(body);
    if (!n) {
      d.onEvent?.('malformed');
      return { status: 400, body: outcome(issues) };
    }
    const origin = await originOf(n, caller);
    const source = origin.client;
    const sub = subscriptionId(n.subscription);
    const known = await d.store.find(sub);
    if (!source && n.type === 'event-notification' && n.resources.length === 0)
      return {
        status: 422,
        body: outcome([
          issue(
            'not-supported',
            `a ${payloadOf(n)} notification from ${origin.name}, a server not in config sources: its resources cannot be read, so it cannot be processed (add the server under sources, or subscribe with payload full-resource)`,
            'Bundle.entry',
          ),
        ]),
      };
    // What the notification says of its subscription is recorded; for one the gateway did not
    // create and cannot read, that is all it knows (topic, status, payload type).
    await d.store.register({
      source: origin.name,
      subscription: sub,
      ...(n.topic ? { topic: n.topic } : {}),
      ...(n.status ? { status: n.status } : {}),
      ...(!known?.payload && n.type === 'event-notification' ? { payload: payloadOf(n) } : {}),
    });
    const at = now();
    const missed = (from: number, to: number) => {
      if (source) return startCatchUp(source, sub, from, to);
      d.logger.warn(
        { source: origin.name, subscription: sub, from, to },
        'events missed, but the server is not in config sources: nothing to catch up from',
      );
    };
    if (n.type === 'handshake') {
      await d.store.handshake(origin.name, sub, n.status, at);
      d.onEvent?.('handshake');
      // One made on the EHR directly: learn its heartbeat period and filters now, so that a silence
      // raises the alert and a gap can be caught up from the start.
      if (source && !(await d.store.find(sub))?.filterCriteria) learn(source, sub);
      return { status: 200, body: outcome([info('handshake acknowledged')]) };
    }
    const state = await d.store.find(sub);
    const last = state?.lastEventNumber ?? 0;
    if (n.type === 'heartbeat' || n.type === 'query-status') {
      await d.store.heartbeat(origin.name, sub, n.status, at);
      d.onEvent?.('heartbeat');
      const since = n.eventsSinceStart;
      if (since !== undefined && since > last) {
        await d.store.events(origin.name, sub, since, since, 'gap', at);
        d.onEvent?.('gap');
        missed(last + 1, since);
        return {
          status: 200,
          body: outcome([
            info(
              `heartbeat acknowledged; events ${last + 1}..${since} missed: ${source ? 'catching up' : 'no source server to catch up from'}`,
            ),
          ]),
        };
      }
      return { status: 200, body: outcome([info(`${n.type} acknowledged`)]) };
    }
    if (n.type !== 'event-notification')
      return { status: 200, body: outcome([info(`${n.type} acknowledged; nothing to process`)]) };

    for (const r of n.resources) {
      const problems =
        r.resource.resourceType === 'Patient' ||
        r.resource.resourceType === 'Observation' ||
        r.resource.resourceType === 'Encounter'
          ? validateResource(r.resource, r.resource.resourceType).filter(isError)
          : [];
      if (problems.length > 0) return { status: 400, body: outcome(problems) };
    }
    const numbers = n.numbers;
    const fresh = numbers.filter((x) => x > last);
    if (fresh.length === 0) {
      await d.store.events(origin.name, sub, last, n.eventsSinceStart, 'replay', at);
      d.onEvent?.('replay');
      return {
        status: 200,
        body: outcome([info(`event ${numbers.join(', ')} already received: replay ignored`)]),
      };
    }
    const first = Math.min(...fresh);
    const upTo = Math.max(...fresh);
    try {
      const accepted = await d.inbox.accept({
        channel: 'subscription',
        sender: sourceSender(origin.name),
        // Event numbers and the bytes: a retried delivery is a duplicate; another payload is checked by number.
        controlId: `Subscription/${sub}#${fresh.join(',')}|sha256:${sha256(bytes).slice(0, 32)}`,
        messageType: 'Bundle',
        raw: bytes,
      });
      const gap = first > last + 1;
      await d.store.events(origin.name, sub, upTo, n.eventsSinceStart, gap ? 'gap' : 'ok', at);
      d.onEvent?.('event');
      if (gap) {
        d.onEvent?.('gap');
        missed(last + 1, first - 1);
      }
      return {
        status: accepted.duplicate ? 200 : 202,
        body: outcome([
          info(
            `event ${fresh.join(', ')} ${accepted.duplicate ? 'already stored' : 'stored'} as message ${accepted.messageId}${
              gap
                ? `; events ${last + 1}..${first - 1} missed: ${source ? 'catching up' : 'no source server to catch up from'}`
                : ''
            }`,
          ),
        ]),
      };
    } catch (err) {
      // A row the database refuses for its data (a NUL, an index row too large) is not worth a retry.
      const gw = storeError(err);
      return { status: gw.status, body: operationOutcome(gw) };
    }
  }

  return {
    receive,
    /** Waits for catch-ups in flight (shutdown, tests). */
    async idle(): Promise<void> {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}

export type SubscriptionReceiver = ReturnType<typeof createSubscriptionReceiver>;
