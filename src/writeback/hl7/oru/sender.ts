import { createHash } from 'node:crypto';
import type { Database, Queryable } from '../../../db/database.js';
import type { LineageStore } from '../../../lineage/store.js';
import type { Logger } from '../../../observability/logger.js';
import type { Metrics } from '../../../observability/metrics.js';
import type { RawCipher } from '../../../security/raw-cipher.js';
import { createOutbox, type MllpDestination, type OutboxRow } from '../outbox.js';
import { buildResultOru, type ResultToSend } from './message.js';

export interface OruDestination extends MllpDestination {
  receivingApplication: string;
  receivingFacility: string;
}

export interface OruEgressOptions {
  destinations: readonly OruDestination[];
  sendingApplication: string;
  sendingFacility: string;
  processingId: string;
  db: Database;
  lineage: LineageStore;
  logger: Logger;
  metrics: Metrics;
  /** Seals the stored ORU text (it names the patient) when it has a key. */
  cipher?: RawCipher;
  pollMs?: number;
  now?: () => Date;
}

/** The results of one triggering message for one patient. */
export interface OruJob {
  messageId: string;
  patient: { value: string; assigner?: string };
  sourceControlId: string;
  effectiveAt: string;
  results: readonly ResultToSend[];
}

/**
 * Sends each job as an ORU^R01 to every destination over MLLP (TLS optional), through the durable
 * outbox (src/writeback/hl7/outbox.ts): the ORU is built once and stored (sealed) with the job, so results
 * not yet acknowledged survive a restart. The ACK is checked (AA/CA success, AE/CE and transport
 * failures retried with back-off, AR/CR refused); per destination the results of one patient go
 * strictly in order; every attempt is a lineage entry of the triggering message (`oru-sent`,
 * `oru-attempt-failed`, `oru-gave-up`). The MSH-10 of a result is derived from the message and
 * destination, so a resend after a lost ACK is recognisable as a duplicate.
 */
export function createOruEgress(o: OruEgressOptions) {
  const now = o.now ?? (() => new Date());
  const outbox = createOutbox({
    kind: 'oru',
    db: o.db,
    lineage: o.lineage,
    logger: o.logger,
    destinations: o.destinations,
    ...(o.cipher ? { cipher: o.cipher } : {}),
    ...(o.pollMs ? { pollMs: o.pollMs } : {}),
    now,
    onAttempt: (destination, outcome) => o.metrics.egressAttempts.inc({ destination, outcome }),
    onPending: (n) => o.metrics.egressPending.set({ kind: 'oru' }, n),
  });

  function rows(job: OruJob): OutboxRow[] {
    const patient = `${job.patient.assigner ?? ''}\u0000${job.patient.value}`;
    return o.destinations.map((dest) => {
      const controlId = createHash('sha256')
        .update(`${job.messageId}\u0000${dest.name}`)
        .digest('hex')
        .slice(0, 20);
      const text = buildResultOru({
        ...job,
        sendingApplication: o.sendingApplication,
        sendingFacility: o.sendingFacility,
        receivingApplication: dest.receivingApplication,
        receivingFacility: dest.receivingFacility,
        processingId: o.processingId,
        controlId,
        now: now(),
      });
      return { messageId: job.messageId, destination: dest.name, orderKey: patient, controlId, text };
    });
  }

  return {
    /**
     * Stores the job for every destination: inside `tx` when given (it then goes out once that
     * commits and wake() is called), else on its own, and wakes the sender. Rejects when the rows
     * could not be stored.
     */
    async enqueue(job: OruJob, tx?: Queryable): Promise<void> {
      if (job.results.length === 0 || o.destinations.length === 0) return;
      if (tx) await outbox.add(tx, rows(job));
      else await outbox.addNow(rows(job));
    },
    wake: outbox.wake,
    pending: outbox.pending,
    /** Resolves when every stored job has been delivered or given up. */
    idle: outbox.idle,
    close: outbox.close,
  };
}

export type OruEgress = ReturnType<typeof createOruEgress>;
