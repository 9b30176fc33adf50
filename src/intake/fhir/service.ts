import { Counter, Gauge } from 'prom-client';
import type { GatewayConfig } from '../../config/schema.js';
import type { Database } from '../../db/database.js';
import type { Inbox } from '../../inbox/inbox.js';
import { createLineageStore } from '../../lineage/store.js';
import { createPatientLinks } from '../../normalize/fhir/patients.js';
import { createFhirRowNormalizer } from '../../normalize/fhir/rows.js';
import { createNotificationSplitter } from '../../normalize/fhir/split.js';
import type { Logger } from '../../observability/logger.js';
import { errorInfo } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import { createSourceClient, type SourceClient } from '../../sources/client.js';
import { loadSigningKey, type SigningKey } from '../../sources/keys.js';
import { createFhirIntake } from './intake.js';
import { createSubscriptionReceiver } from './receiver.js';
import { createSubscriptionStore, lastHeard } from './subscription-store.js';

/**
 * FHIR in, composed: REST ingest, the subscription receiver, source servers with SMART Backend
 * Services, the row normalizer the pipeline calls, and the heartbeat watch. One init, one close.
 */

export interface FhirIngestOptions {
  config: GatewayConfig;
  dataDir: string;
  db: Database;
  inbox: Inbox;
  logger: Logger;
  metrics: Metrics;
}

export function createFhirIngest(o: FhirIngestOptions) {
  const { config, db, logger } = o;
  const identifiers = {
    systems: config.patients.identifierSystems,
    defaultSystemPrefix: config.patients.defaultSystemPrefix,
  };
  const registry = o.metrics.registry;
  const notifications = new Counter({
    name: 'gateway_fhir_subscription_notifications_total',
    help: 'Subscription notifications by kind (handshake, heartbeat, event, replay, gap, malformed, catch-up)',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const heartbeatMissed = new Counter({
    name: 'gateway_fhir_subscription_heartbeat_missed_total',
    help: 'Times a subscription went silent beyond its heartbeat period',
    labelNames: ['source', 'subscription'] as const,
    registers: [registry],
  });
  const overdue = new Gauge({
    name: 'gateway_fhir_subscriptions_heartbeat_overdue',
    help: 'Subscriptions whose heartbeat is overdue now',
    registers: [registry],
  });

  // The SMART key is needed only when a source uses SMART; `gateway keys` and the JWKS route make it.
  let key: SigningKey | undefined;
  const signingKey = () => {
    key ??= loadSigningKey({
      dataDir: o.dataDir,
      ...(config.smart.privateKeyFile ? { file: config.smart.privateKeyFile } : {}),
      alg: config.smart.alg,
    });
    return key;
  };
  const sources = new Map<string, SourceClient>();
  for (const s of config.sources)
    sources.set(s.name, createSourceClient(s, s.smart ? signingKey() : undefined));

  const links = createPatientLinks(db, identifiers);
  const store = createSubscriptionStore(db);
  const intake = createFhirIntake({
    db,
    inbox: o.inbox,
    links,
    logger,
    onReceived: (channel) => o.metrics.messagesReceived.inc({ channel }),
  });
  const receiver = createSubscriptionReceiver({
    inbox: o.inbox,
    store,
    sources,
    logger,
    catchUpPageSize: config.subscriptions.catchUpPageSize,
    catchUpMaxPages: config.subscriptions.catchUpMaxPages,
    onEvent: (kind) => {
      notifications.inc({ kind });
      if (kind === 'event') o.metrics.messagesReceived.inc({ channel: 'subscription' });
    },
  });
  const splitter = createNotificationSplitter({ db, inbox: o.inbox, lineage: createLineageStore(db), links });
  const normalizeRow = createFhirRowNormalizer({ db, links, identifiers, sources, splitter });

  /** Alerts (log + metric) once per silence for each subscription heard from longer ago than its period allows. */
  async function checkHeartbeats(now = Date.now()): Promise<number> {
    let late = 0;
    for (const s of await store.list()) {
      if (!s.heartbeatSeconds || s.status === 'off') continue;
      const heard = lastHeard(s);
      if (heard === undefined) continue;
      const silentMs = now - heard;
      if (silentMs <= s.heartbeatSeconds * 1000 * config.subscriptions.heartbeatGraceFactor) continue;
      late++;
      if (s.heartbeatAlerted) continue;
      heartbeatMissed.inc({ source: s.source, subscription: s.subscription });
      logger.warn(
        {
          alert: 'subscription-heartbeat-missing',
          source: s.source,
          subscription: s.subscription,
          heartbeatSeconds: s.heartbeatSeconds,
          silentSeconds: Math.round(silentMs / 1000),
        },
        'subscription heartbeat missing',
      );
      await store.markAlerted(s.source, s.subscription);
    }
    overdue.set(late);
    return late;
  }
  const timer = setInterval(() => {
    checkHeartbeats().catch((err) => logger.error({ err: errorInfo(err) }, 'heartbeat check failed'));
  }, config.subscriptions.checkIntervalMs);
  timer.unref();

  return {
    intake,
    receiver,
    store,
    sources,
    signingKey,
    normalizeRow,
    checkHeartbeats,
    async close() {
      clearInterval(timer);
      await receiver.idle();
    },
  };
}

export type FhirIngest = ReturnType<typeof createFhirIngest>;
