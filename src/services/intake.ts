/** Services: the inbox (durable intake with group commit) and the doors: HL7 over HTTP, FHIR, MLLP. */
import { Inbox } from '../inbox/inbox.js';
import { createFhirIngest } from '../intake/fhir/service.js';
import { createHl7Intake } from '../intake/hl7-intake.js';
import { registerFhirIngestRoutes } from '../intake/http/fhir-routes.js';
import { registerHl7Route } from '../intake/http/hl7-route.js';
import { startMllpListener } from '../intake/mllp/listener.js';
import { createOutcomeWaiter } from '../intake/processing-wait.js';
import { roleRuns, type Service } from './service.js';

/** Stored messages are queued once committed; the queue's backlog holds new ones back (maxPending). */
export const inbox: () => Service = () => ({
  name: 'inbox',
  roles: ['intake'],
  async init(rt) {
    const { logger, metrics, cipher } = rt;
    rt.inbox = new Inbox(rt.db, rt.lineage, {
      ...rt.config.inbox,
      backlog: () => rt.queue.backlog(),
      onCommitted: (ids, traceparents) => {
        void rt.queue
          .enqueue(ids, { traceparents })
          .catch((err) => logger.error({ err: String(err) }, 'enqueue failed; recovered at next start'));
      },
      onBatch: (size) => metrics.inboxBatchSize.observe(size),
      onStoreError: (err) =>
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'inbox commit failed'),
      onRowRefused: (err) =>
        logger.warn({ sqlstate: (err as { code?: string }).code }, 'message refused by the database (AR)'),
      ...(cipher.currentKeyId ? { seal: (raw: Buffer) => cipher.seal(raw) } : {}),
    });
  },
  async close(rt) {
    await rt.inbox?.close();
  },
});

/** HL7 intake (POST /hl7 and, later, MLLP) with its wait for processing, and FHIR intake. */
export const doors: () => Service = () => ({
  name: 'doors',
  roles: ['intake'],
  async init(rt) {
    const { config, logger, metrics } = rt;
    rt.outcomes = createOutcomeWaiter(rt.db);
    rt.intake = createHl7Intake({
      inbox: rt.inbox,
      application: config.mllp.application,
      facility: config.mllp.facility,
      logger,
      metrics,
      ack: config.ack,
      allowedSenders: config.mllp.allowSenders,
      outcomes: rt.outcomes,
    });
    // A worker-role process opens no door (the FHIR intake stays: the pipeline normalizes with it).
    const doorsOpen = roleRuns(config.role).doors;
    if (doorsOpen)
      registerHl7Route(rt.http, rt.intake, {
        maxMessageBytes: config.mllp.maxMessageBytes,
        bodyLimitBytes: config.http.bodyLimitBytes,
      });
    rt.fhirIngest = createFhirIngest({
      config,
      dataDir: rt.dataDir,
      db: rt.db,
      inbox: rt.inbox,
      logger,
      metrics,
    });
    if (doorsOpen) registerFhirIngestRoutes(rt.http, rt.fhirIngest);
  },
  async close(rt) {
    // The waits for processing end first (each answers its ACK), then FHIR intake.
    rt.outcomes?.close();
    await rt.fhirIngest?.close();
  },
});

export const mllp: () => Service = () => ({
  name: 'mllp',
  roles: ['intake'],
  async init(rt) {
    const m = rt.config.mllp;
    if (!roleRuns(rt.config.role).doors) return;
    rt.mllp = await startMllpListener({
      host: rt.config.host,
      port: m.port,
      maxMessageBytes: m.maxMessageBytes,
      maxConnections: m.maxConnections,
      idleTimeoutMs: m.idleTimeoutMs,
      maxConnectionsPerAddress: m.maxConnectionsPerAddress,
      allowAddresses: m.allowAddresses,
      shutdownGraceMs: m.shutdownGraceMs,
      ...(m.tls ? { tls: m.tls } : {}),
      intake: rt.intake,
      logger: rt.logger,
      metrics: rt.metrics,
    });
  },
  async close(rt) {
    await rt.mllp?.close();
  },
});
