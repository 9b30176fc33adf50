/** What the pipeline is given (process.ts): its stores, models, writer, and the rules it follows. */
import type { Database } from '../db/database.js';
import type { Mapping } from '../features/mapping.js';
import type { FeatureStore } from '../features/state.js';
import type { InboxRow } from '../inbox/processing.js';
import type { LineageStore } from '../lineage/store.js';
import type { ModelRegistry } from '../models/runtime/loader.js';
import type { ClinicalEvent } from '../normalize/event.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { RawCipher } from '../security/raw-cipher.js';
import type { FhirWriter } from '../writeback/fhir/writer.js';
import type { FinishHook } from './finish-hooks.js';
import type { PredictionWriterDeps } from './prediction.js';

export interface PipelineDeps {
  db: Database;
  lineage: LineageStore;
  mappings: readonly Mapping[];
  models: ModelRegistry;
  features: FeatureStore;
  writer: FhirWriter;
  logger: Logger;
  metrics: Metrics;
  defaultTimezone: string;
  identifierSystem(assigner: string | undefined): string;
  /**
   * Validate every resource before writing. Off for the embedded store, which validates what it
   * is given itself (and answers 400 with the issues).
   */
  validateBeforeWrite: boolean;
  /** Opens raw bodies sealed at rest. */
  cipher: RawCipher;
  /** The model card DocumentReference, written with a version's first result (PredictionWriterDeps). */
  modelCard?: PredictionWriterDeps['modelCard'];
  now?: () => Date;
  /** Rows written with a message's outcome, in its transaction (the egress outbox: ORU, application ACKs). */
  onFinish?: FinishHook;
  /** FHIR inputs (channels `fhir`, `subscription`): JSON bytes -> event (src/normalize/fhir/rows.ts). */
  normalizeFhir?(row: InboxRow, bytes: Buffer): Promise<ClinicalEvent>;
  /** Keyed digests of the patient's identifiers, kept with the message for search by patient. */
  patientDigests?(patient: ClinicalEvent['patient']): string[];
  /** Most messages in one batch (default 64). */
  maxBatch?: number;
  /** Batches processed at once (default 2): one writes while the next reads and scores. */
  maxBatchesInFlight?: number;
}
