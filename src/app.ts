import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { GatewayConfig } from './config/schema.js';
import { registerConsoleRoutes } from './console/routes.js';
import { claimRun, processHolder } from './db/cluster-run.js';
import { lockDataDir } from './db/data-dir-lock.js';
import type { Database } from './db/database.js';
import { openDatabase } from './db/open.js';
import { loadMappingsOrThrow } from './features/load-or-throw.js';
import { createFeatureStore } from './features/state.js';
import { identifierSystemFor } from './fhir/content-ids.js';
import { isResourceType } from './fhir/validate.js';
import { registerFhirRoutes } from './fhir-server/routes.js';
import { createFhirStore } from './fhir-server/store.js';
import { createTokenAccess, httpsOptions, watchHttpsFiles } from './http/access.js';
import { type Check, registerHealthRoutes } from './http/health.js';
import { createHttpServer } from './http/server.js';
import { type InboxClaimer, startInboxClaimer, storedOnlyQueue } from './inbox/claim.js';
import { Inbox } from './inbox/inbox.js';
import { createFhirIngest } from './intake/fhir/service.js';
import { createHl7Intake } from './intake/hl7-intake.js';
import { registerFhirIngestRoutes } from './intake/http/fhir-routes.js';
import { registerHl7Route } from './intake/http/hl7-route.js';
import { type MllpListener, startMllpListener } from './intake/mllp/listener.js';
import { createOutcomeWaiter } from './intake/processing-wait.js';
import { registerLineageRoutes } from './lineage/routes.js';
import { createLineageStore, type LineageStore } from './lineage/store.js';
import { loadPatientDigester } from './messages/patient-digest.js';
import { createPhiAccess } from './messages/phi-access.js';
import { registerMessageRoutes } from './messages/routes.js';
import { checkFeatureOrder, type ModelRegistry } from './models/runtime/loader.js';
import type { Monitoring } from './monitoring/monitor.js';
import { liveSection } from './monitoring/render.js';
import { startMonitoring } from './monitoring/wire.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { createPipeline, finishHooks } from './pipeline/process.js';
import {
  cardDocuments,
  openGovernedModels,
  registerModelApi,
  startModelJobs,
} from './pipeline/rescore-service.js';
import { createBullmqQueue } from './queue/bullmq.js';
import { createInProcessQueue } from './queue/in-process.js';
import type { WorkQueue } from './queue/work-queue.js';
import { createReplayer, type Replayer } from './recovery/replay.js';
import { registerRecoveryRoutes } from './recovery/routes.js';
import { startSweeper } from './recovery/sweeper.js';
import { startPruner } from './retention/prune.js';
import { resolveAdminToken } from './security/auth.js';
import { createAuthThrottle } from './security/auth-throttle.js';
import { createRawCipher, parseKey, type RawCipher } from './security/raw-cipher.js';
import { registerStatsRoutes } from './stats/overview.js';
import { type CircuitState, createCircuitBreaker, guardWriter } from './writeback/fhir/breaker.js';
import { createFhirWriter } from './writeback/fhir/writer.js';
import { createAppAcks } from './writeback/hl7/app-ack.js';
import { oruHook } from './writeback/hl7/oru/hook.js';
import { createOruEgress } from './writeback/hl7/oru/sender.js';

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

export interface StartOptions {
  logger?: Logger;
  /** PostgreSQL schema (tests). */
  schema?: string;
  /** Base directory for relative paths in config (default: cwd). */
  baseDir?: string;
  /** BullMQ key prefix (tests: one per test). */
  queuePrefix?: string;
  /** False: accept and store but do not process until startWorkers() (benchmarks of intake). */
  startWorkers?: boolean;
}

/**
 * What a role runs (config `role`, GATEWAY_ROLE): `intake` the doors (MLLP, POST /hl7, FHIR
 * ingest and subscriptions) and the inbox; `worker` the processing (pipeline, write-back, ORU and
 * application-ACK egress, re-scoring jobs, the sweeper); `all` both. Every role serves the HTTP API
 * (health, metrics, console, lineage, the embedded FHIR store the workers write to).
 */
export function roleRuns(role: GatewayConfig['role']): { doors: boolean; processing: boolean } {
  return { doors: role !== 'worker', processing: role !== 'intake' };
}

/**
 * Starts every service in order (config -> database -> models and mappings -> HTTP and FHIR store
 * -> queue and pipeline -> intake -> MLLP) and returns one close() that stops them in mirror order,
 * letting in-flight work finish.
 */
export async function startGateway(config: GatewayConfig, opts: StartOptions = {}): Promise<Gateway> {
  const base = opts.baseDir ?? process.cwd();
  const logger = opts.logger ?? createLogger(config.log.level);
  const metrics = createMetrics({ maxSenders: config.metrics.maxSenders });
  const runs = roleRuns(config.role);
  // Each service registers its close; they run in this order: stop taking work, finish what is in
  // flight, then release what the work needed.
  const ORDER = [
    'timers',
    'jobs',
    'mllp',
    'outcomes',
    'fhirIngest',
    'inbox',
    'queue',
    'scoring',
    'monitoring',
    'egress',
    'http',
    'models',
    'db',
    'lock',
  ] as const;
  const closers = new Map<(typeof ORDER)[number], () => Promise<void>>();
  const closeAll = async () => {
    for (const name of ORDER) {
      const c = closers.get(name);
      closers.delete(name);
      if (c) await c().catch((err) => logger.error({ service: name, err: String(err) }, 'close failed'));
    }
  };
  try {
    const dataDir = resolve(base, config.dataDir);
    // The embedded database lives in DATA_DIR: one process at a time (a second one stops here).
    if (!config.databaseUrl) {
      const lock = lockDataDir(dataDir);
      closers.set('lock', async () => lock.release());
    }
    // With only the admin token's hash the gateway cannot use it itself: its own calls (to the
    // embedded FHIR store) carry a per-process internal token instead.
    const token = config.adminTokenSha256
      ? { token: randomBytes(32).toString('hex'), internal: true as const }
      : resolveAdminToken(config.adminToken, dataDir);
    const db = await openDatabase({
      dataDir,
      ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
      ...(opts.schema || config.databaseSchema ? { schema: opts.schema ?? config.databaseSchema } : {}),
    });
    closers.set('db', () => db.close());
    logger.info({ database: db.kind }, 'database ready');
    const lineage = createLineageStore(db, config.lineage);
    const cipher = createRawCipher(
      config.encryption.key ? parseKey(config.encryption.keyId, config.encryption.key) : undefined,
      Object.entries(config.encryption.previousKeys).map(([id, key]) => parseKey(id, key)),
    );
    if (cipher.currentKeyId) logger.info({ keyId: cipher.currentKeyId }, 'raw messages encrypted at rest');
    else
      logger.warn(
        'raw messages are stored UNENCRYPTED: set GATEWAY_ENCRYPTION_KEY (base64, 32 bytes) to encrypt them at rest',
      );

    const mappings = loadMappingsOrThrow(resolve(base, config.paths.mappings));
    // The governed registry (database): bundled models registered approved + production (README).
    const models = await openGovernedModels(config, base, db, logger, mappings, metrics);
    closers.set('models', () => models.close());
    for (const m of mappings) {
      const model = models.get(m.model);
      if (!model) throw new Error(`mapping ${m.file}: model '${m.model}' is not in ${config.paths.models}`);
      checkFeatureOrder(
        model,
        m.features.map((f) => f.name),
        m.file,
      );
    }
    logger.info(
      { models: models.list().map((m) => `${m.name}@${m.version}`), mappings: mappings.length },
      'models ready',
    );

    const access = createTokenAccess(config, base, token, logger);
    closers.set('timers', async () => access.close());
    const http = createHttpServer({
      bodyLimitBytes: config.http.bodyLimitBytes,
      bodyLimits: config.http.bodyLimits,
      corsOrigins: config.http.cors.origins,
      ...httpsOptions(config, base),
      logger,
      authenticate: access.authenticate,
      onResponse: (method, route, status, seconds) =>
        metrics.httpSeconds.observe({ method, route, status_code: String(status) }, seconds),
      throttle: createAuthThrottle({
        ...config.http.authThrottle,
        onThrottled: (address, failures) =>
          logger.warn(
            { alert: 'auth-failures', address, failures, windowMs: config.http.authThrottle.windowMs },
            'too many failed authentications from one address: answered 429 until the window ends',
          ),
      }),
      onAuthFailure: (outcome) => metrics.authFailures.inc({ outcome }),
    });
    const stopTlsWatch = watchHttpsFiles(config, base, http.server, logger);
    closers.set('http', async () => stopTlsWatch());
    const clientHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    // The HTTP port must be known before the embedded store's base URL: listen first, routes are
    // registered before fastify is ready, so bind now and register on ready-free plugins below.
    let httpUrl = '';
    let fhirBaseUrl = config.fhir.baseUrl ?? '';
    const embedded = !config.fhir.baseUrl;
    const fhirStore = embedded ? createFhirStore(db) : undefined;
    // Index the FHIR R4 definitions now (about a second) rather than on the first write.
    isResourceType('Observation');
    if (fhirStore) registerFhirRoutes(http, fhirStore, { prefix: '/fhir', baseUrl: () => `${httpUrl}/fhir` });
    registerLineageRoutes(http, lineage);
    registerConsoleRoutes(http);
    const digester = await loadPatientDigester(db);
    registerMessageRoutes(http, { db, digester, phi: createPhiAccess({ db, lineage, cipher }) });
    const breaker = createCircuitBreaker({
      ...config.fhir.circuitBreaker,
      onStateChange: (state) => {
        metrics.fhirCircuitState.set(state === 'closed' ? 0 : state === 'half-open' ? 1 : 2);
        metrics.fhirCircuitTransitions.inc({ state });
        (state === 'open' ? logger.warn : logger.info).call(logger, { state }, 'FHIR circuit breaker');
      },
    });
    const monitoring = startMonitoring(config, base, {
      http,
      db,
      lineage,
      logger,
      metrics,
      mappings,
      externalUrl: () => httpUrl,
    });
    closers.set('monitoring', () => monitoring.close());
    const modelApi = registerModelApi(http, {
      db,
      models,
      mappings,
      lineage,
      logger,
      liveSection: async (name, version) => liveSection(await monitoring.report(name, version)),
    });

    const queueOpts = {
      concurrency: config.processing.concurrency,
      maxAttempts: config.processing.maxAttempts,
      backoffMs: config.processing.backoffMs,
      maxBackoffMs: config.processing.maxBackoffMs,
      onGiveUp: async (id: string, err: unknown) => pipeline.giveUp(id, err),
    };
    // Without Redis an intake-role process only stores: the workers claim from the inbox table.
    const queue: WorkQueue = config.redisUrl
      ? createBullmqQueue(config.redisUrl, {
          ...queueOpts,
          ...(opts.queuePrefix ? { prefix: opts.queuePrefix } : {}),
        })
      : runs.processing
        ? createInProcessQueue(queueOpts)
        : storedOnlyQueue(db);
    let claimer: InboxClaimer | undefined;
    closers.set('queue', async () => {
      await claimer?.close();
      await queue.close();
    });
    const replayer = createReplayer({ db, lineage, queue, onQueued: (n) => metrics.replayed.inc(n) });
    registerRecoveryRoutes(http, db, replayer);
    registerStatsRoutes(http, {
      db,
      metrics,
      backlog: () => queue.backlog(),
      circuit: () => breaker.state,
      fhirBaseUrl: () => fhirBaseUrl,
    });

    const inbox = new Inbox(db, lineage, {
      ...config.inbox,
      backlog: () => queue.backlog(),
      onCommitted: (ids, traceparents) => {
        void queue
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
    closers.set('inbox', () => inbox.close());
    const outcomes = createOutcomeWaiter(db);
    closers.set('outcomes', async () => outcomes.close());
    const intake = createHl7Intake({
      inbox,
      application: config.mllp.application,
      facility: config.mllp.facility,
      logger,
      metrics,
      ack: config.ack,
      allowedSenders: config.mllp.allowSenders,
      outcomes,
    });
    if (runs.doors)
      registerHl7Route(http, intake, {
        maxMessageBytes: config.mllp.maxMessageBytes,
        bodyLimitBytes: config.http.bodyLimitBytes,
      });
    const fhirIngest = createFhirIngest({ config, dataDir, db, inbox, logger, metrics });
    closers.set('fhirIngest', () => fhirIngest.close());
    if (runs.doors) registerFhirIngestRoutes(http, fhirIngest);
    const checks: Record<string, Check> = {
      database: async () => {
        await db.ping();
        return { kind: db.kind };
      },
      queue: async () => {
        await queue.ping();
        // The role says what this process does with the queue: fills it (intake), takes (worker), both.
        return { kind: queue.kind, backlog: queue.backlog(), role: config.role };
      },
      fhir: async () => {
        const circuit = breaker.state;
        if (embedded) return { target: 'embedded', circuit };
        const res = await fetch(`${fhirBaseUrl}/metadata`, {
          headers: config.fhir.bearerToken ? { authorization: `Bearer ${config.fhir.bearerToken}` } : {},
          signal: AbortSignal.timeout(2000),
        });
        if (!res.ok) throw new Error(`FHIR server answered ${res.status} to /metadata (circuit ${circuit})`);
        return { target: 'external', circuit };
      },
      models: async () => ({ loaded: models.list().map((m) => `${m.name}@${m.version}`) }),
    };
    registerHealthRoutes(http, metrics, checks);

    await http.listen({ host: config.host, port: config.http.port });
    closers.set('http', async () => {
      stopTlsWatch();
      await http.close();
    });
    const addr = http.server.address();
    const httpPort = typeof addr === 'object' && addr ? addr.port : config.http.port;
    httpUrl = `${config.http.tls ? 'https' : 'http'}://${clientHost.includes(':') ? `[${clientHost}]` : clientHost}:${httpPort}`;
    if (embedded) fhirBaseUrl = `${httpUrl}/fhir`;
    logger.info({ url: httpUrl, fhir: embedded ? 'embedded' : 'external' }, 'http listener ready');

    const writer = guardWriter(
      createFhirWriter({
        baseUrl: fhirBaseUrl,
        bearerToken: embedded ? token.token : config.fhir.bearerToken,
        timeoutMs: config.fhir.timeoutMs,
      }),
      breaker,
    );
    // Results and application ACKs wait in the outbox table; rows a previous run left are resumed.
    const egress = createOruEgress({
      ...config.egress.oru,
      ...(runs.processing ? {} : { destinations: [] }),
      db,
      lineage,
      logger,
      metrics,
      cipher,
    });
    const appAcks = createAppAcks({
      mode: config.ack.mode,
      destinations: runs.processing ? config.ack.applicationAck.destinations : [],
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
    checks.egress = async () => ({
      oruPending: await egress.pending(),
      appAckPending: await appAcks.pending(),
    });
    closers.set('egress', async () => {
      await egress.close();
      await appAcks.close();
    });
    const onFinish = finishHooks([
      ...(config.egress.oru.destinations.length > 0 ? [oruHook(egress, models)] : []),
      ...(config.ack.mode !== 'original' ? [appAcks.hook] : []),
      ...(config.monitoring.enabled ? [monitoring.hook] : []),
    ]);
    // One answer for both writers (messages and re-scoring), so a patient keeps one identity in the chart.
    const identifierSystem = (assigner: string | undefined) =>
      identifierSystemFor(assigner, {
        systems: config.patients.identifierSystems,
        defaultSystemPrefix: config.patients.defaultSystemPrefix,
      });
    const validateBeforeWrite = !embedded;
    const modelCard = cardDocuments(db);
    const pipeline = createPipeline({
      modelCard,
      ...(onFinish ? { onFinish } : {}),
      db,
      lineage,
      mappings,
      models,
      features: createFeatureStore(db),
      writer,
      logger,
      metrics,
      defaultTimezone: config.hl7.defaultTimezone,
      validateBeforeWrite,
      cipher,
      normalizeFhir: (row, bytes) => fhirIngest.normalizeRow(row, bytes),
      identifierSystem,
      patientDigests: digester.digestsOf,
    });
    const startWorkers = () =>
      queue.start(async (id, attempt, traceparent) => {
        try {
          await pipeline.process(id, attempt, traceparent);
        } finally {
          outcomes.notify(id); // ACK timing "processed": whoever waits on this message looks now
        }
      });
    if (opts.startWorkers !== false && runs.processing) startWorkers();
    modelApi.setWriter(writer);
    // Re-scoring is processing: an intake-role process leaves it (and POST .../rescore) to the workers.
    const scoring = !runs.processing
      ? { close: async () => {} }
      : await startModelJobs(config, {
          db,
          models,
          mappings,
          features: createFeatureStore(db),
          writer,
          lineage,
          logger,
          api: modelApi,
          queuePrefix: opts.queuePrefix,
          identifierSystem,
          validateBeforeWrite,
          modelCard,
          onScored: (model, version, n) => metrics.predictions.inc({ model, version }, n),
        });
    closers.set('scoring', () => scoring.close());
    // Messages stored but not processed before the last stop (crash or kill -9) go first; without
    // Redis a worker-role process claims them (and every new one) from the inbox instead.
    const claims = runs.processing && config.role === 'worker' && !config.redisUrl;
    const pending = await db.query<{ message_id: string }>(
      runs.processing && !claims
        ? `select message_id from inbox where status = 'received' order by received_at`
        : 'select null::text as message_id where false',
    );
    if (claims)
      claimer = startInboxClaimer({
        db,
        queue,
        logger,
        target: config.processing.concurrency * 4,
        intervalMs: config.processing.claimIntervalMs,
        leaseMs: config.processing.claimLeaseMs,
      });
    if (pending.rows.length > 0) {
      logger.info({ messages: pending.rows.length }, 'resuming messages stored before the last stop');
      await queue.enqueue(pending.rows.map((r) => r.message_id));
    }

    const mllp: MllpListener | undefined = !runs.doors
      ? undefined
      : await startMllpListener({
          host: config.host,
          port: config.mllp.port,
          maxMessageBytes: config.mllp.maxMessageBytes,
          maxConnections: config.mllp.maxConnections,
          idleTimeoutMs: config.mllp.idleTimeoutMs,
          maxConnectionsPerAddress: config.mllp.maxConnectionsPerAddress,
          allowAddresses: config.mllp.allowAddresses,
          shutdownGraceMs: config.mllp.shutdownGraceMs,
          ...(config.mllp.tls ? { tls: config.mllp.tls } : {}),
          intake,
          logger,
          metrics,
        });
    if (mllp) closers.set('mllp', () => mllp.close());
    const holder = processHolder();
    // An intake-role process leaves the sweep to the workers (without Redis it has no queue to feed).
    const sweeper = runs.processing
      ? startSweeper({ db, queue, logger, intervalMs: config.processing.sweepIntervalMs })
      : { sweep: async () => {}, close: async () => {} };
    const pruner = startPruner({
      db,
      lineage,
      logger,
      days: config.retention.rawMessageDays,
      intervalMs: config.retention.pruneIntervalMs,
      // One run per period for the whole cluster, whichever process claims it.
      claim: () => claimRun(db, 'retention', holder, config.retention.pruneIntervalMs),
      onRun: () => metrics.retentionRuns.inc(),
      onPruned: (n) => metrics.rawPruned.inc(n),
    });
    closers.set('jobs', async () => {
      await sweeper.close();
      await pruner.close();
    });
    metrics.watchStore({
      async oldestAgeSeconds() {
        const r = await db.query<{ age: number | null }>(
          `select extract(epoch from (now() - min(received_at)))::float8 as age from inbox where status = 'received'`,
        );
        return Math.max(0, Number(r.rows[0]?.age ?? 0));
      },
      async deadLetters() {
        const r = await db.query<{ n: number }>(
          'select count(*)::int as n from dead_letter where resolved_at is null',
        );
        return Number(r.rows[0]?.n ?? 0);
      },
    });
    const backlogTimer = setInterval(() => metrics.backlog.set(queue.backlog()), 1000);
    backlogTimer.unref();
    closers.set('timers', async () => {
      clearInterval(backlogTimer);
      access.close();
    });

    return {
      config,
      logger,
      metrics,
      db,
      lineage,
      models,
      queue,
      replayer,
      cipher,
      monitoring,
      circuit: () => breaker.state,
      sweep: sweeper.sweep,
      adminToken: token.token,
      ...('file' in token && token.file ? { adminTokenFile: token.file } : {}),
      reloadTokens: access.reload,
      httpUrl,
      fhirBaseUrl,
      mllpPort: mllp?.port ?? 0,
      startWorkers: () => {
        if (runs.processing) startWorkers();
      },
      async idle(timeoutMs = 30_000) {
        const until = Date.now() + timeoutMs;
        for (;;) {
          const r = await db.query<{ n: number }>(
            `select count(*)::int as n from inbox where status = 'received'`,
          );
          if ((r.rows[0]?.n ?? 0) === 0) return;
          if (Date.now() > until)
            throw new Error(`still ${r.rows[0]?.n} messages unprocessed after ${timeoutMs} ms`);
          await new Promise((res) => setTimeout(res, 25));
        }
      },
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
