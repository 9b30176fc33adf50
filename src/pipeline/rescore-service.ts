/**
 * Start-up of the governed models (called from app.ts): the registry in the database with the
 * bundled models registered, the model and V2 routes, the card publisher, and the mini-batch
 * scoring queue with its scheduled re-scoring.
 */
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { GatewayConfig } from '../config/schema.js';
import { claimRun, processHolder } from '../db/cluster-run.js';
import type { Database } from '../db/database.js';
import type { Mapping } from '../features/mapping.js';
import type { Resource } from '../fhir/types.js';
import type { LineageStore } from '../lineage/store.js';
import { registerModelRoutes } from '../models/http/routes.js';
import { registerV2Routes } from '../models/http/v2-routes.js';
import type { ModelCard } from '../models/registry/card.js';
import { buildCardBundle, buildCardResources } from '../models/registry/card-render.js';
import { aliases, getVersion, listVersions, type ModelVersion } from '../models/registry/governance.js';
import { batcherObserver } from '../models/runtime/batcher-metrics.js';
import { createGovernedRegistry, type GovernedRegistry } from '../models/runtime/governed.js';
import { sessionOptions } from '../models/runtime/inference-thread.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { createBullmqScoreQueue, createInProcessScoreQueue, type ScoreQueue } from '../queue/score-queue.js';
import type { FhirWriter } from '../writeback/fhir/writer.js';
import { createRescorer, type RescoreDeps } from './rescore.js';

export async function openGovernedModels(
  config: GatewayConfig,
  base: string,
  db: Database,
  logger: Logger,
  mappings: readonly Mapping[],
  metrics?: Metrics,
): Promise<GovernedRegistry> {
  const models = createGovernedRegistry({
    db,
    logger,
    mappings,
    batcher: config.models.batching,
    inferenceThread: config.models.inferenceThread,
    sessionOptions: sessionOptions(config.models.intraOpThreads),
    ...(metrics
      ? { observeBatcher: (name: string, version: string) => batcherObserver(metrics, name, version) }
      : {}),
    remote: config.models.remote,
    refreshMs: config.models.refreshMs,
  });
  try {
    await models.bootstrap(resolve(base, config.paths.models));
  } catch (err) {
    await models.close();
    throw err;
  }
  return models;
}

export interface ModelApi {
  /** Late binding: the FHIR writer exists only once the HTTP listener is up. */
  setWriter(writer: FhirWriter): void;
  rescore?: (name?: string) => Promise<number>;
}

export function registerModelApi(
  http: FastifyInstance,
  d: {
    db: Database;
    models: GovernedRegistry;
    mappings: readonly Mapping[];
    lineage: LineageStore;
    logger: Logger;
    liveSection?: (name: string, version: string) => Promise<string[]>;
  },
): ModelApi {
  let writer: FhirWriter | undefined;
  const api: ModelApi = {
    setWriter(w) {
      writer = w;
    },
  };
  const publishCard = async (v: ModelVersion) => {
    if (!writer) return;
    try {
      await writer.transaction(buildCardBundle(v, v.approvedAt ?? v.createdAt));
    } catch (err) {
      d.logger.warn(
        { model: v.name, version: v.version, err: (err as Error).message },
        'model card not published',
      );
    }
  };
  registerModelRoutes(http, {
    ...d,
    publishCard,
    rescore: (name) => {
      if (!api.rescore) throw new Error('re-scoring is not running');
      return api.rescore(name);
    },
  });
  registerV2Routes(http, d);
  return api;
}

/**
 * The card DocumentReference of a model version as the prediction writer puts it in a result's
 * transaction (src/pipeline/prediction.ts): the same resource publishCard writes, from the registry's
 * record of the version (approval and status included); from the card alone for a version the
 * registry does not hold.
 */
export function cardDocuments(db: Database) {
  return async (m: { name: string; version: string; sha256: string; card: unknown }): Promise<Resource> => {
    const v = await getVersion(db, m.name, m.version);
    if (v && v.sha256 === m.sha256) return buildCardResources(v, v.approvedAt ?? v.createdAt).document;
    const card = m.card as ModelCard;
    return buildCardResources({ name: m.name, version: m.version, sha256: m.sha256, card }, undefined)
      .document;
  };
}

/** Publishes the Device and card of every version behind an alias (at start; idempotent PUTs). */
export async function publishLiveCards(db: Database, writer: FhirWriter, logger: Logger): Promise<void> {
  const live = await aliases(db);
  const versions = await listVersions(db);
  for (const v of versions.filter((x) => live.some((a) => a.name === x.name && a.version === x.version))) {
    await writer
      .transaction(buildCardBundle(v, v.approvedAt ?? v.createdAt))
      .catch((err) =>
        logger.warn({ model: v.name, err: (err as Error).message }, 'model card not published'),
      );
  }
}

export async function startModelJobs(
  config: GatewayConfig,
  d: Omit<RescoreDeps, 'queue' | 'groupSize' | 'activeWithinMs' | 'writeConcurrency'> & {
    api: ModelApi;
    queuePrefix?: string | undefined;
  },
): Promise<{ queue: ScoreQueue; close(): Promise<void> }> {
  const r = config.models.rescore;
  const qo = {
    concurrency: r.concurrency,
    maxAttempts: config.processing.maxAttempts,
    onError: (err: unknown) => d.logger.warn({ err: (err as Error).message }, 'scoring job failed'),
  };
  const queue = config.redisUrl
    ? createBullmqScoreQueue(config.redisUrl, { ...qo, ...(d.queuePrefix ? { prefix: d.queuePrefix } : {}) })
    : createInProcessScoreQueue(qo);
  const rescorer = createRescorer({
    ...d,
    queue,
    groupSize: r.groupSize,
    activeWithinMs: r.activeWithinMs,
    writeConcurrency: config.processing.concurrency,
  });
  // BullMQ's job scheduler fires each tick once for the cluster; the in-process timers of several
  // processes on one database claim each tick first, so one of them plans it.
  const holder = processHolder();
  const claimed = async () =>
    queue.kind === 'bullmq' || (await claimRun(d.db, 'rescore-tick', holder, r.intervalMs));
  queue.start({
    score: rescorer.score,
    tick: async (at) => {
      if (await claimed()) await rescorer.tick(at);
    },
  });
  await queue.schedule(r.intervalMs);
  d.api.rescore = (name) => rescorer.tick(new Date().toISOString(), name);
  void publishLiveCards(d.db, d.writer, d.logger);
  return { queue, close: () => queue.close() };
}
