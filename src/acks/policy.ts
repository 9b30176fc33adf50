import { GatewayError } from '../errors/codes.js';
import type { AckCode } from '../hl7/ack.js';
import type { MshHeader } from '../hl7/header.js';
import { senderAllowed } from './senders.js';

/**
 * The ACK rules of the gateway, in one place: which code a received message gets (AA/AE/AR, or
 * CA/CE/CR in enhanced mode), what must hold in its header before it is accepted, how an error
 * becomes MSA + ERR, and how `POST /hl7` turns the worst ACK into an HTTP status. The doors
 * (intake/) ask here; hl7/ack.ts only formats the ACK message.
 */

/** How ACKs are given, as Mirth users configure them (config key `ack`). */
export interface AckPolicy {
  /** auto: enhanced mode (CA/CE/CR commit ACKs) when the sender fills MSH-15 or MSH-16. */
  mode: 'auto' | 'original' | 'enhanced';
  /** stored: AA once durably stored; processed: once the pipeline finished it (original mode). */
  timing: 'stored' | 'processed';
  /** Accepted MSH-11.1 values; others get AR (ERR 202). Empty: any. */
  processingIds: readonly string[];
  processedTimeoutMs: number;
  /** A batch is answered with one ACK per message or with a batch ACK (FHS/BHS … BTS/FTS). */
  batch: 'per-message' | 'batch';
}

export const DEFAULT_ACK_POLICY: AckPolicy = Object.freeze({
  mode: 'auto',
  timing: 'stored',
  processingIds: [],
  processedTimeoutMs: 30_000,
  batch: 'per-message',
});

/** Enhanced mode (commit ACKs): always, never, or (auto) when the sender filled MSH-15 or MSH-16. */
export function isEnhanced(mode: AckPolicy['mode'], h: MshHeader | undefined): boolean {
  return mode === 'enhanced' || (mode === 'auto' && !!h && !!(h.acceptAckType || h.applicationAckType));
}

const ENHANCED: Record<'AA' | 'AE' | 'AR', AckCode> = { AA: 'CA', AE: 'CE', AR: 'CR' };
const RANK: Record<AckCode, number> = { AA: 0, CA: 0, AR: 1, CR: 1, AE: 2, CE: 2 };

/** MSA-1: the original-mode code, or its commit-ACK twin in enhanced mode. */
export function ackCodeFor(base: 'AA' | 'AE' | 'AR', enhanced: boolean): AckCode {
  return enhanced ? ENHANCED[base] : base;
}

/** The worst code of several ACKs (success < reject < error): the answer to a batch. */
export function worstAck(codes: readonly AckCode[]): AckCode {
  return codes.reduce<AckCode>((w, c) => (RANK[c] > RANK[w] ? c : w), codes[0] ?? 'AA');
}

/** `POST /hl7`: 200 all AA/CA, 400 any AR/CR, 503 any AE/CE (retry later). */
export function httpStatusOfAck(code: AckCode): number {
  return [200, 400, 503][RANK[code]]!;
}

/**
 * What must hold in a header before the message is accepted (AR otherwise): MSH-10 and MSH-9, a
 * processing id in `ack.processingIds`, a sender on `mllp.allowSenders`. Throws the GatewayError.
 */
export function checkHeader(
  header: MshHeader,
  policy: Pick<AckPolicy, 'processingIds'>,
  allowedSenders: readonly string[] | undefined,
): void {
  if (!header.controlId) throw new GatewayError('GW_HL7_NO_CONTROL_ID');
  if (!header.messageType) throw new GatewayError('GW_HL7_NO_TYPE');
  if (policy.processingIds.length > 0 && !policy.processingIds.includes(header.processingId)) {
    throw new GatewayError(
      'GW_HL7_PROCESSING_ID',
      header.processingId || '(empty)',
      policy.processingIds.join(', '),
    );
  }
  if (allowedSenders && allowedSenders.length > 0 && !senderAllowed(header, allowedSenders)) {
    throw new GatewayError('GW_SENDER_NOT_ALLOWED', `${header.sendingApplication}|${header.sendingFacility}`);
  }
}

/** With `ack.timing: processed`: AE (GW_NOT_PROCESSED) unless the message was processed in time. */
export function processedOutcomeError(
  outcome: 'processed' | 'failed' | 'timeout' | string,
  timeoutMs: number,
): GatewayError | undefined {
  if (outcome === 'failed') return new GatewayError('GW_NOT_PROCESSED', 'failed');
  if (outcome === 'timeout')
    return new GatewayError('GW_NOT_PROCESSED', `did not finish within ${timeoutMs} ms`);
  return undefined;
}

/** MSA + ERR of an error ACK: the one error -> HL7 ACK mapping. */
export interface ErrorAck {
  /** Original-mode MSA-1 (ackCodeFor() makes it CR/CE in enhanced mode). */
  base: 'AR' | 'AE';
  /** ERR: HL7 table 0357 code, `CODE: text` (no message content), ERR-2 location, ERR-4 severity. */
  error: {
    hl7Code: string;
    text: string;
    location?: { segment: string; field: number };
    severity?: 'E' | 'W' | 'F';
  };
}

export function errorAck(err: GatewayError): ErrorAck {
  return {
    base: err.ack,
    error: {
      hl7Code: err.hl7Code,
      text: `${err.code}: ${err.message}`,
      ...(err.location ? { location: err.location } : {}),
      ...(err.severity !== 'E' ? { severity: err.severity } : {}),
    },
  };
}
