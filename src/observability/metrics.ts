import { readFileSync } from 'node:fs';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { senderLabels } from './sender-label.js';

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export interface MetricsOptions {
  /** Senders (MSH-3|MSH-4) with series of their own; later ones count as "other" (config metrics.maxSenders). */
  maxSenders?: number;
}

/** The gateway's metrics, on a registry of its own (never the global one), so tests can run many. */
export function createMetrics(opts: MetricsOptions = {}) {
  const registry = new Registry();
  // prom-client's standard names (process_cpu_seconds_total, nodejs_eventloop_lag_seconds, ...), as
  // every Node.js dashboard and alert expects them; the job/instance labels tell the gateway apart.
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'gateway_build_info',
    help: 'Always 1: the version of the gateway and of Node.js running it',
    labelNames: ['version', 'nodejs'] as const,
    registers: [registry],
  }).set({ version: VERSION, nodejs: process.versions.node }, 1);
  /** Readers of gauges taken at each scrape from the database (see watch below). */
  const scraped = {
    oldestAgeSeconds: undefined as (() => Promise<number>) | undefined,
    deadLetters: undefined as (() => Promise<number>) | undefined,
  };
  const stageBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
  /** The queue of every open micro-batcher, read at each scrape (see watchModelQueue). */
  const modelQueued = scrapedModelGauge(
    registry,
    'gateway_model_queued_requests',
    'Single-row requests waiting in the micro-batcher, by model and version',
  );
  /** Whether each model version's inference thread is up, read at each scrape (see watchModelThread). */
  const modelThread = scrapedModelGauge(
    registry,
    'gateway_model_inference_thread',
    'Whether stream batches run on the inference thread (1) or on the event loop (0), by model and version',
  );
  const sender = senderLabels(opts.maxSenders ?? 50);
  return {
    registry,
    /** The `sender` label for MSH-3|MSH-4 (bounded: see senderLabels). */
    sender,
    senderReceived: new Counter({
      name: 'gateway_sender_messages_received_total',
      help: 'HL7 v2 messages received, by sender (MSH-3|MSH-4; "other" past metrics.maxSenders)',
      labelNames: ['sender'] as const,
      registers: [registry],
    }),
    senderAcks: new Counter({
      name: 'gateway_sender_acks_total',
      help: 'HL7 acknowledgements sent, by sender and MSA-1 code',
      labelNames: ['sender', 'code'] as const,
      registers: [registry],
    }),
    senderProcessed: new Counter({
      name: 'gateway_sender_messages_processed_total',
      help: 'Messages whose processing ended, by sender and outcome (processed, ignored, failed)',
      labelNames: ['sender', 'outcome'] as const,
      registers: [registry],
    }),
    senderFailed: new Counter({
      name: 'gateway_sender_messages_failed_total',
      help: 'Messages that failed (dead letters), by sender and the step that failed (parse, map, infer, write, retries)',
      labelNames: ['sender', 'stage'] as const,
      registers: [registry],
    }),
    httpSeconds: new Histogram({
      name: 'gateway_http_request_duration_seconds',
      help: 'HTTP requests, by method, route (the pattern, not the URL) and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    oldestAge: new Gauge({
      name: 'gateway_oldest_unprocessed_message_age_seconds',
      help: 'Age of the oldest message accepted and not yet processed (0 when none), read from the inbox at each scrape',
      registers: [registry],
      async collect() {
        // The database away: NaN (no value), and the scrape itself does not fail.
        if (scraped.oldestAgeSeconds) this.set(await scraped.oldestAgeSeconds().catch(() => NaN));
      },
    }),
    deadLetters: new Gauge({
      name: 'gateway_dead_letters',
      help: 'Dead letters not resolved by a replay, read at each scrape',
      registers: [registry],
      async collect() {
        if (scraped.deadLetters) this.set(await scraped.deadLetters().catch(() => NaN));
      },
    }),
    /** Sets the readers of the gauges taken from the database at each scrape. */
    watchStore(readers: { oldestAgeSeconds(): Promise<number>; deadLetters(): Promise<number> }): void {
      scraped.oldestAgeSeconds = readers.oldestAgeSeconds;
      scraped.deadLetters = readers.deadLetters;
    },
    messagesReceived: new Counter({
      name: 'gateway_messages_received_total',
      help: 'Messages received, by channel',
      labelNames: ['channel'] as const,
      registers: [registry],
    }),
    acks: new Counter({
      name: 'gateway_acks_total',
      help: 'HL7 acknowledgements sent, by channel and MSA-1 code',
      labelNames: ['channel', 'code'] as const,
      registers: [registry],
    }),
    authFailures: new Counter({
      name: 'gateway_http_auth_failures_total',
      help: 'Failed HTTP authentications: rejected (401, invalid token) or throttled (429, too many from one address)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    messagesProcessed: new Counter({
      name: 'gateway_messages_processed_total',
      help: 'Messages processed, by outcome (processed, ignored, failed, retried)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    stageSeconds: new Histogram({
      name: 'gateway_stage_duration_seconds',
      help: 'Time spent in each pipeline stage',
      labelNames: ['stage'] as const,
      buckets: stageBuckets,
      registers: [registry],
    }),
    ackSeconds: new Histogram({
      name: 'gateway_ack_latency_seconds',
      help: 'From a complete frame to its ACK written, by code',
      labelNames: ['code'] as const,
      buckets: stageBuckets,
      registers: [registry],
    }),
    inboxBatchSize: new Histogram({
      name: 'gateway_inbox_commit_batch_size',
      help: 'Messages per group commit',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers: [registry],
    }),
    predictions: new Counter({
      name: 'gateway_predictions_total',
      help: 'Model outputs written, by model and version',
      labelNames: ['model', 'version'] as const,
      registers: [registry],
    }),
    backlog: new Gauge({
      name: 'gateway_backlog_messages',
      help: 'Messages accepted and not yet processed',
      registers: [registry],
    }),
    mllpRefused: new Counter({
      name: 'gateway_mllp_connections_refused_total',
      help: 'MLLP connections closed at once: address not allowed, connection limits, shutting down',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    egressAttempts: new Counter({
      name: 'gateway_oru_egress_attempts_total',
      help: 'ORU^R01 results sent to MLLP destinations, by destination and outcome',
      labelNames: ['destination', 'outcome'] as const,
      registers: [registry],
    }),
    egressPending: new Gauge({
      name: 'gateway_egress_pending',
      help: 'Outbox rows (ORU results, application ACKs) not yet acknowledged by their destination, by kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    appAckAttempts: new Counter({
      name: 'gateway_app_ack_attempts_total',
      help: 'Enhanced-mode application ACKs sent to MLLP destinations, by destination and outcome',
      labelNames: ['destination', 'outcome'] as const,
      registers: [registry],
    }),
    fhirCircuitState: new Gauge({
      name: 'gateway_fhir_circuit_state',
      help: 'Circuit breaker around the FHIR writer: 0 closed, 1 half-open, 2 open',
      registers: [registry],
    }),
    fhirCircuitTransitions: new Counter({
      name: 'gateway_fhir_circuit_transitions_total',
      help: 'Circuit breaker state changes, by the state entered',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
    replayed: new Counter({
      name: 'gateway_messages_replayed_total',
      help: 'Messages queued again by POST /replay',
      registers: [registry],
    }),
    rawPruned: new Counter({
      name: 'gateway_raw_messages_pruned_total',
      help: 'Raw message bodies pruned after the retention period',
      registers: [registry],
    }),
    retentionRuns: new Counter({
      name: 'gateway_retention_runs_total',
      help: 'Retention (pruning) runs this process claimed and ran; one per period for the whole cluster',
      registers: [registry],
    }),
    mllpConnections: new Gauge({
      name: 'gateway_mllp_connections',
      help: 'Open MLLP connections',
      registers: [registry],
    }),
    modelBatchSize: new Histogram({
      name: 'gateway_model_batch_size',
      help: 'Rows per micro-batch (one session.run of single-row requests), by model and version',
      labelNames: ['model', 'version'] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
      registers: [registry],
    }),
    modelQueueDelay: new Histogram({
      name: 'gateway_model_queue_delay_seconds',
      help: 'How long the first (longest-waiting) request of each micro-batch waited, by model and version',
      labelNames: ['model', 'version'] as const,
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    /** Shows a batcher's queue in gateway_model_queued_requests; the function returned stops it. */
    watchModelQueue(model: string, version: string, queued: () => number): () => void {
      return modelQueued(model, version, queued);
    },
    /** Shows a version's inference thread in gateway_model_inference_thread; the function returned stops it. */
    watchModelThread(model: string, version: string, up: () => boolean): () => void {
      return modelThread(model, version, () => (up() ? 1 : 0));
    },
    // Model monitoring (issue 13): set from each evaluation of the live windows.
    modelFeaturePsi: new Gauge({
      name: 'gateway_model_feature_psi',
      help: 'Population stability index of a feature in the live window against the card reference',
      labelNames: ['model', 'version', 'feature'] as const,
      registers: [registry],
    }),
    modelFeatureMissing: new Gauge({
      name: 'gateway_model_feature_missing_ratio',
      help: 'Share of the live window where a feature had no value (missing or imputed)',
      labelNames: ['model', 'version', 'feature'] as const,
      registers: [registry],
    }),
    modelPredictionPsi: new Gauge({
      name: 'gateway_model_prediction_psi',
      help: 'Population stability index of the score in the live window against the card reference',
      labelNames: ['model', 'version'] as const,
      registers: [registry],
    }),
    modelAuroc: new Gauge({
      name: 'gateway_model_auroc',
      help: 'AUROC of a model version on its labelled predictions (outcomes from later messages)',
      labelNames: ['model', 'version'] as const,
      registers: [registry],
    }),
    modelAlertsFiring: new Gauge({
      name: 'gateway_model_alerts_firing',
      help: 'Monitoring alerts firing, by model and version',
      labelNames: ['model', 'version'] as const,
      registers: [registry],
    }),
    modelRefused: new Counter({
      name: 'gateway_model_requests_refused_total',
      help: 'Requests refused at once by a full micro-batcher queue (back-pressure), by model and version',
      labelNames: ['model', 'version'] as const,
      registers: [registry],
    }),
    modelExpired: new Counter({
      name: 'gateway_model_requests_expired_total',
      help: 'Requests refused because their deadline passed before their batch started, by model and version',
      labelNames: ['model', 'version'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * A gauge by model and version whose values are read at each scrape from the functions watching
 * it; `watch` adds one (its value is added to its labels') and answers the function that stops it.
 */
function scrapedModelGauge(registry: Registry, name: string, help: string) {
  const readers = new Set<(g: Gauge<'model' | 'version'>) => void>();
  new Gauge({
    name,
    help,
    labelNames: ['model', 'version'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const read of readers) read(this);
    },
  });
  return (model: string, version: string, value: () => number): (() => void) => {
    const read = (g: Gauge<'model' | 'version'>) => g.inc({ model, version }, value());
    readers.add(read);
    return () => void readers.delete(read);
  };
}
