import { resolve } from 'node:path';
import type { GatewayConfig } from './config/schema.js';
import type { Database } from './db/database.js';
import { receivedCount } from './inbox/processing.js';
import type { LineageStore } from './lineage/store.js';
import type { ModelRegistry } from './models/runtime/loader.js';
import type { Monitoring } from './monitoring/monitor.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import type { WorkQueue } from './queue/work-queue.js';
import type { Replayer } from './recovery/replay.js';
import type { RawCipher } from './security/raw-cipher.js';
import { gatewayServices } from './services/index.js';
import type { Runtime, StartOptions } from './services/runtime.js';
import { startServices } from './services/service.js';
import type { CircuitState } from './writeback/fhir/breaker.js';

export type { StartOptions } from './services/runtime.js';

export interface Gateway {
  config: GatewayConfig;
  logger: Logger;
  metrics: Metrics;
  db: Database;
  lineage: LineageStore;
  models: ModelRegistry;
  queue: WorkQueue;
  replayer: Replayer;
  cipher: RawCipher;
  /** Model monitoring (issue 13): reports, evaluation, the webhook outbox. */
  monitoring: Monitoring;
  /** State of the circuit breaker around the FHIR writer. */
  circuit(): CircuitState;
  /** Queues again the messages left `received` (what the periodic sweep does). */
  sweep(): Promise<void>;
  /** A token with every scope: the admin token, or with adminTokenSha256 this process's internal one. */
  adminToken: string;
  adminTokenFile?: string;
  /** Reads `tokensFile` again now (SIGHUP); false when it is invalid (the tokens in force stay). */
  reloadTokens(): boolean;
  httpUrl: string;
  fhirBaseUrl: string;
  mllpPort: number;
  /** Starts processing when the gateway was started with startWorkers: false. */
  startWorkers(): void;
  /** Waits until every accepted message has been processed (tests, `replay`). */
  idle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the gateway's services in order (src/services/index.ts: database -> models -> HTTP ->
 * queue -> intake -> pipeline -> MLLP) and returns one close() that stops them in mirror order,
 * letting in-flight work finish.
 */
export async function startGateway(config: GatewayConfig, opts: StartOptions = {}): Promise<Gateway> {
  const base = opts.baseDir ?? process.cwd();
  const logger = opts.logger ?? createLogger(config.log.level);
  // Filled by the services in turn (runtime.ts names which service sets what).
  const rt = {
    config,
    opts,
    base,
    dataDir: resolve(base, config.dataDir),
    logger,
    metrics: createMetrics({ maxSenders: config.metrics.maxSenders }),
  } as Runtime;
  const close = await startServices(gatewayServices(), rt, logger);
  return {
    config,
    logger,
    metrics: rt.metrics,
    db: rt.db,
    lineage: rt.lineage,
    models: rt.models,
    queue: rt.queue,
    replayer: rt.replayer,
    cipher: rt.cipher,
    monitoring: rt.monitoring,
    circuit: () => rt.breaker.state,
    sweep: rt.sweep,
    adminToken: rt.token.token,
    ...(rt.token.file ? { adminTokenFile: rt.token.file } : {}),
    reloadTokens: rt.access.reload,
    httpUrl: rt.httpUrl,
    fhirBaseUrl: rt.fhirBaseUrl,
    mllpPort: rt.mllp?.port ?? 0,
    startWorkers: rt.startWorkers,
    async idle(timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const n = await receivedCount(rt.db);
        if (n === 0) return;
        if (Date.now() > until) throw new Error(`still ${n} messages unprocessed after ${timeoutMs} ms`);
        await new Promise((res) => setTimeout(res, 25));
      }
    },
    close,
  };
}
