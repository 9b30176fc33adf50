/**
 * Services: the work queue, HL7 write-back (results and application ACKs in the outbox), the
 * pipeline and its workers, scheduled re-scoring, and the resumption of messages left `received`.
 */
import { createFeatureStore } from '../features/state.js';
import { identifierSystemFor } from '../fhir/content-ids.js';
import { startInboxClaimer, storedOnlyQueue } from '../inbox/claim.js';
import { receivedIds } from '../inbox/processing.js';
import { createPipeline, finishHooks } from '../pipeline/process.js';
import { cardDocuments, startModelJobs } from '../pipeline/rescore-service.js';
import { createBullmqQueue } from '../queue/bullmq.js';
import { createInProcessQueue } from '../queue/in-process.js';
import { createReplayer } from '../recovery/replay.js';
import { registerRecoveryRoutes } from '../recovery/routes.js';
import { registerStatsRoutes } from '../stats/overview.js';
import { guardWriter } from '../writeback/fhir/breaker.js';
import { createFhirWriter } from '../writeback/fhir/writer.js';
import { createAppAcks } from '../writeback/hl7/app-ack.js';
import { oruHook } from '../writeback/hl7/oru/hook.js';
import { createOruEgress } from '../writeback/hl7/oru/sender.js';
import type { Runtime } from './runtime.js';
import { BOTH, roleRuns, type Service } from './service.js';

/** Results and application ACKs wait in the outbox table; rows a previous run left are resumed. */
export const egress: () => Service = () => ({
  name: 'egress',
  roles: BOTH,
  async init(rt) {
    const { config, db, lineage, logger, metrics, cipher } = rt;
    // Only a processing role sends: an intake-role process keeps the outbox for the workers.
    const sends = roleRuns(config.role).processing;
    rt.egress = createOruEgress({
      ...config.egress.oru,
      ...(sends ? {} : { destinations: [] }),
      db,
      lineage,
      logger,
      metrics,
      cipher,
    });
    rt.appAcks = createAppAcks({
      mode: config.ack.mode,
      destinations: sends ? config.ack.applicationAck.destinations : [],
      application: config.mllp.application,
      facility: config.mllp.facility,
      db,
      lineage,
      logger,
      metrics,
      cipher,
    });
    // What waits for a destination's ACK (results to Mirth, application ACKs): the 3 am question
    // "is anything stuck?" without a database client.
    rt.checks.egress = async () => ({
      oruPending: await rt.egress.pending(),
      appAckPending: await rt.appAcks.pending(),
    });
  },
  async close(rt) {
    await rt.egress?.close();
    await rt.appAcks?.close();
  },
});

/** The queue of stored messages to process (BullMQ with REDIS_URL, else in this process). */
export const queue: () => Service = () => ({
  name: 'queue',
  roles: BOTH,
  async init(rt) {
    const { config, db, metrics } = rt;
    const o = {
      concurrency: config.processing.concurrency,
      maxAttempts: config.processing.maxAttempts,
      backoffMs: config.processing.backoffMs,
      maxBackoffMs: config.processing.maxBackoffMs,
      onGiveUp: (id: string, err: unknown) => rt.giveUp(id, err),
    };
    rt.giveUp = async () => {};
    // Without Redis an intake-role process only stores: the workers claim from the inbox table.
    rt.queue = config.redisUrl
      ? createBullmqQueue(config.redisUrl, {
          ...o,
          ...(rt.opts.queuePrefix ? { prefix: rt.opts.queuePrefix } : {}),
        })
      : roleRuns(config.role).processing
        ? createInProcessQueue(o)
        : storedOnlyQueue(db);
    rt.replayer = createReplayer({
      db,
      lineage: rt.lineage,
      queue: rt.queue,
      onQueued: (n) => metrics.replayed.inc(n),
    });
    registerRecoveryRoutes(rt.http, db, rt.replayer);
    registerStatsRoutes(rt.http, {
      db,
      metrics,
      backlog: () => rt.queue.backlog(),
      circuit: () => rt.breaker.state,
      fhirBaseUrl: () => rt.fhirBaseUrl,
    });
    rt.checks.queue = async () => {
      await rt.queue.ping();
      // The role says what this process does with the queue: fills it (intake), takes (worker), both.
      return { kind: rt.queue.kind, backlog: rt.queue.backlog(), role: config.role };
    };
  },
  async close(rt) {
    await rt.claimer?.close();
    await rt.queue?.close();
  },
});

/** One answer for both writers (messages and re-scoring), so a patient keeps one identity in the chart. */
function identifierSystem(rt: Runtime) {
  return (assigner: string | undefined) =>
    identifierSystemFor(assigner, {
      systems: rt.config.patients.identifierSystems,
      defaultSystemPrefix: rt.config.patients.defaultSystemPrefix,
    });
}

/** The FHIR writer, the pipeline, and its workers (unless started with startWorkers: false). */
export const pipeline: () => Service = () => ({
  name: 'pipeline',
  roles: ['worker'],
  async init(rt) {
    const { config, db, models, monitoring } = rt;
    rt.writer = guardWriter(
      createFhirWriter({
        baseUrl: rt.fhirBaseUrl,
        bearerToken: rt.embedded ? rt.token.token : config.fhir.bearerToken,
        timeoutMs: config.fhir.timeoutMs,
      }),
      rt.breaker,
    );
    const onFinish = finishHooks([
      ...(config.egress.oru.destinations.length > 0 ? [oruHook(rt.egress, models)] : []),
      ...(config.ack.mode !== 'original' ? [rt.appAcks.hook] : []),
      ...(config.monitoring.enabled ? [monitoring.hook] : []),
    ]);
    const p = createPipeline({
      modelCard: cardDocuments(db),
      ...(onFinish ? { onFinish } : {}),
      db,
      lineage: rt.lineage,
      mappings: rt.mappings,
      models,
      features: createFeatureStore(db),
      writer: rt.writer,
      logger: rt.logger,
      metrics: rt.metrics,
      defaultTimezone: config.hl7.defaultTimezone,
      validateBeforeWrite: !rt.embedded,
      cipher: rt.cipher,
      normalizeFhir: (row, bytes) => rt.fhirIngest.normalizeRow(row, bytes),
      identifierSystem: identifierSystem(rt),
      patientDigests: rt.digester.digestsOf,
    });
    rt.giveUp = p.giveUp;
    const processing = roleRuns(config.role).processing;
    rt.startWorkers = () => {
      if (!processing) return;
      rt.queue.start(async (id, attempt, traceparent) => {
        try {
          await p.process(id, attempt, traceparent);
        } finally {
          rt.outcomes.notify(id); // ACK timing "processed": whoever waits on this message looks now
        }
      });
    };
    if (rt.opts.startWorkers !== false) rt.startWorkers();
    rt.modelApi.setWriter(rt.writer);
  },
});

/** The mini-batch scoring queue and its scheduled re-scoring. */
export function scoring(): Service {
  let jobs: Awaited<ReturnType<typeof startModelJobs>> | undefined;
  return {
    name: 'scoring',
    roles: ['worker'],
    async init(rt) {
      const { config, db } = rt;
      // Re-scoring is processing: an intake-role process leaves it (and POST .../rescore) to the workers.
      if (!roleRuns(config.role).processing) return;
      jobs = await startModelJobs(config, {
        db,
        models: rt.models,
        mappings: rt.mappings,
        features: createFeatureStore(db),
        writer: rt.writer,
        lineage: rt.lineage,
        logger: rt.logger,
        api: rt.modelApi,
        queuePrefix: rt.opts.queuePrefix,
        identifierSystem: identifierSystem(rt),
        validateBeforeWrite: !rt.embedded,
        modelCard: cardDocuments(db),
        onScored: (model, version, n) => rt.metrics.predictions.inc({ model, version }, n),
      });
    },
    async close() {
      await jobs?.close();
    },
  };
}

/**
 * Messages stored but not processed before the last stop (crash or kill -9) go first; without
 * Redis a worker-role process claims them (and every new one) from the inbox instead.
 */
export const resume: () => Service = () => ({
  name: 'resume',
  roles: ['worker'],
  async init(rt) {
    const { config } = rt;
    if (!roleRuns(config.role).processing) return;
    if (config.role === 'worker' && !config.redisUrl) {
      rt.claimer = startInboxClaimer({
        db: rt.db,
        queue: rt.queue,
        logger: rt.logger,
        target: config.processing.concurrency * 4,
        intervalMs: config.processing.claimIntervalMs,
        leaseMs: config.processing.claimLeaseMs,
      });
      return;
    }
    const pending = await receivedIds(rt.db);
    if (pending.length === 0) return;
    rt.logger.info({ messages: pending.length }, 'resuming messages stored before the last stop');
    await rt.queue.enqueue(pending);
  },
});
