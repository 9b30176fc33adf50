import { createHash } from 'node:crypto';
import { appAckCode, appAckError, wantsAppAck } from '../../acks/app-ack.js';
import { type AckPolicy, isEnhanced } from '../../acks/policy.js';
import { senderAllowed } from '../../acks/senders.js';
import type { Database, Queryable } from '../../db/database.js';
import { type AckCode, buildAck } from '../../hl7/ack.js';
import { decodeHl7Bytes } from '../../hl7/charset.js';
import { type MshHeader, senderKey, tryReadHeader } from '../../hl7/header.js';
import type { LineageStore } from '../../lineage/store.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { FinishedMessage, FinishHook } from '../../pipeline/process.js';
import type { RawCipher } from '../../security/raw-cipher.js';
import { createOutbox, type MllpDestination } from './outbox.js';

export interface AppAckDestination extends MllpDestination {
  /** Original senders (MSH-3|MSH-4, as `mllp.allowSenders`) whose application ACKs go here; empty: any. */
  senders: readonly string[];
}

export interface AppAckOptions {
  /** `ack.mode`: which messages were accepted in enhanced mode. */
  mode: AckPolicy['mode'];
  destinations: readonly AppAckDestination[];
  /** Our MSH-3/MSH-4 where the sender named no receiver (`mllp.application`, `mllp.facility`). */
  application: string;
  facility: string;
  db: Database;
  lineage: LineageStore;
  logger: Logger;
  metrics: Metrics;
  cipher: RawCipher;
  pollMs?: number;
  now?: () => Date;
}

export { appAckCode, wantsAppAck };

/**
 * The application ACK of a finished message (buildAck: sender and receiver swapped, `ACK^<trigger>^ACK`,
 * MSA-2 the received MSH-10), with ERR (HL7 table 0357, 207 unless the parser named a code) on error.
 * MSH-15 `AL`, MSH-16 `NE`: the receiver answers with a commit ACK and sends no ACK of the ACK.
 */
export function buildAppAck(
  header: MshHeader,
  f: Pick<FinishedMessage, 'status' | 'reason' | 'failedAt' | 'errorCode'>,
  o: { application: string; facility: string; controlId: string; now: Date },
): { text: string; code: AckCode } {
  const code = appAckCode(f);
  const text = buildAck({
    code,
    header,
    application: o.application,
    facility: o.facility,
    controlId: o.controlId,
    now: o.now,
    ackTypes: { accept: 'AL', application: 'NE' },
    ...(code === 'AA'
      ? {}
      : {
          error: appAckError(f),
        }),
  });
  return { text, code };
}

/**
 * Enhanced-mode application ACKs (MSH-16: AL always, ER on error, SU on success, NE never): when a
 * message that was accepted with a commit ACK finishes processing, its application ACK is stored in
 * the outbox (kind `app-ack`) in the transaction that records the outcome, and sent to the first
 * destination of `ack.applicationAck.destinations` whose `senders` match the message's MSH-3/MSH-4,
 * with the same checks, retries and lineage as ORU results (`app-ack-sent`, `app-ack-attempt-failed`,
 * `app-ack-gave-up`). No matching destination: an `app-ack-skipped` lineage entry and one log line
 * per sender.
 */
export function createAppAcks(o: AppAckOptions) {
  const now = o.now ?? (() => new Date());
  const outbox = createOutbox({
    kind: 'app-ack',
    db: o.db,
    lineage: o.lineage,
    logger: o.logger,
    destinations: o.destinations,
    cipher: o.cipher,
    ...(o.pollMs ? { pollMs: o.pollMs } : {}),
    now,
    onAttempt: (destination, outcome) => o.metrics.appAckAttempts.inc({ destination, outcome }),
    onPending: (n) => o.metrics.egressPending.set({ kind: 'app-ack' }, n),
  });
  const warned = new Set<string>();

  /** The header of the received message, when it is HL7 v2 and still readable. */
  async function headerOf(tx: Queryable, f: FinishedMessage) {
    let bytes = f.bytes;
    if (!bytes) {
      const r = await tx.query<{ raw: Uint8Array | null }>('select raw from inbox where message_id = $1', [
        f.messageId,
      ]);
      const raw = r.rows[0]?.raw;
      if (!raw) return undefined;
      try {
        bytes = o.cipher.open(raw);
      } catch {
        return undefined;
      }
    }
    return tryReadHeader(decodeHl7Bytes(bytes).text);
  }

  const write: FinishHook['write'] = async (tx, f) => {
    if (o.mode === 'original') return;
    const header = await headerOf(tx, f);
    if (!header) return; // FHIR input, or a body no longer readable
    const enhanced = isEnhanced(o.mode, header);
    if (!enhanced || !wantsAppAck(header.applicationAckType, f.status !== 'failed')) return;
    const sender = senderKey(header);
    const dest = o.destinations.find((d) => d.senders.length === 0 || senderAllowed(header, d.senders));
    if (!dest) {
      const reason = 'no ack.applicationAck destination matches the sender (MSH-3/MSH-4)';
      await o.lineage.append(tx, [
        {
          messageId: f.messageId,
          stage: 'app-ack-skipped',
          at: now().toISOString(),
          detail: { reason, sender },
        },
      ]);
      if (!warned.has(sender)) {
        warned.add(sender);
        o.logger.warn({ sender, reason }, 'application ACK not sent');
      }
      return;
    }
    const code = appAckCode(f);
    const controlId = createHash('sha256')
      .update(`app-ack\u0000${f.messageId}\u0000${dest.name}\u0000${code}`)
      .digest('hex')
      .slice(0, 20);
    const ack = buildAppAck(header, f, {
      application: o.application,
      facility: o.facility,
      controlId,
      now: now(),
    });
    await outbox.add(tx, [
      {
        messageId: f.messageId,
        destination: dest.name,
        orderKey: sender,
        controlId,
        text: ack.text,
        detail: { msa: ack.code },
      },
    ]);
  };

  return {
    hook: { write, committed: () => outbox.wake() } satisfies FinishHook,
    pending: outbox.pending,
    idle: outbox.idle,
    close: outbox.close,
  };
}

export type AppAcks = ReturnType<typeof createAppAcks>;
