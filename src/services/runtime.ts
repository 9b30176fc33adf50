/**
 * What the gateway's services share: set by the service that makes each part (named beside it),
 * read by those after it in src/services/index.ts. Before its service ran a field is unset.
 */
import type { GatewayConfig } from '../config/schema.js';
import type { Database } from '../db/database.js';
import type { Mapping } from '../features/mapping.js';
import type { FhirStore } from '../fhir-server/store.js';
import type { TokenAccess } from '../http/access.js';
import type { Check } from '../http/health.js';
import type { createHttpServer } from '../http/server.js';
import type { InboxClaimer } from '../inbox/claim.js';
import type { Inbox } from '../inbox/inbox.js';
import type { createFhirIngest } from '../intake/fhir/service.js';
import type { Hl7Intake } from '../intake/hl7-intake.js';
import type { MllpListener } from '../intake/mllp/listener.js';
import type { createOutcomeWaiter } from '../intake/processing-wait.js';
import type { LineageStore } from '../lineage/store.js';
import type { PatientDigester } from '../messages/patient-digest.js';
import type { GovernedRegistry } from '../models/runtime/governed.js';
import type { Monitoring } from '../monitoring/monitor.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { ModelApi } from '../pipeline/rescore-service.js';
import type { WorkQueue } from '../queue/work-queue.js';
import type { Replayer } from '../recovery/replay.js';
import type { RawCipher } from '../security/raw-cipher.js';
import type { CircuitBreaker } from '../writeback/fhir/breaker.js';
import type { FhirWriter } from '../writeback/fhir/writer.js';
import type { createAppAcks } from '../writeback/hl7/app-ack.js';
import type { createOruEgress } from '../writeback/hl7/oru/sender.js';

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

export interface Runtime {
  config: GatewayConfig;
  opts: StartOptions;
  /** Base directory of relative paths, and the data directory resolved against it. */
  base: string;
  dataDir: string;
  logger: Logger;
  metrics: Metrics;
  /** storage: the admin token (or this process's internal one), database, lineage, raw cipher. */
  token: { token: string; internal?: true; file?: string };
  db: Database;
  lineage: LineageStore;
  cipher: RawCipher;
  /** models */
  mappings: readonly Mapping[];
  models: GovernedRegistry;
  /** http: the server (listening from `listen` on), its token access, breaker, embedded store. */
  http: ReturnType<typeof createHttpServer>;
  access: TokenAccess;
  breaker: CircuitBreaker;
  embedded: boolean;
  fhirStore: FhirStore | undefined;
  digester: PatientDigester;
  /** Health checks (/health/ready), added to by later services. */
  checks: Record<string, Check>;
  /** monitoring */
  monitoring: Monitoring;
  modelApi: ModelApi;
  /** egress: results and application ACKs waiting in the outbox. */
  egress: ReturnType<typeof createOruEgress>;
  appAcks: ReturnType<typeof createAppAcks>;
  /** queue */
  queue: WorkQueue;
  replayer: Replayer;
  /** The handler the queue hands a message to once workers start (pipeline). */
  giveUp(messageId: string, err: unknown): Promise<void>;
  /** intake */
  inbox: Inbox;
  outcomes: ReturnType<typeof createOutcomeWaiter>;
  intake: Hl7Intake;
  fhirIngest: ReturnType<typeof createFhirIngest>;
  /** listen: where this process answers ('' before). */
  httpUrl: string;
  fhirBaseUrl: string;
  /** pipeline */
  writer: FhirWriter;
  startWorkers(): void;
  /** Absent in a worker-role process (no doors). */
  mllp?: MllpListener;
  /** A worker-role process without Redis: claims received rows from the inbox. */
  claimer?: InboxClaimer;
  sweep(): Promise<void>;
}
