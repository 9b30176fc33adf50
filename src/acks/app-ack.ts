import { GatewayError } from '../errors/codes.js';
import type { AckCode } from '../hl7/ack.js';
import type { ErrorAck } from './policy.js';

/** What the application ACK rules read of a finished message (pipeline/process.ts's FinishedMessage). */
export interface FinishedOutcome {
  status: string;
  failedAt?: string | undefined;
  reason?: string | null | undefined;
  /** The parser's HL7 table 0357 code, when it was the parser that refused the message. */
  errorCode?: string | undefined;
}

/** Whether MSH-16 (HL7 table 0155) asks for an application ACK of this outcome. Empty: none. */
export function wantsAppAck(applicationAckType: string, success: boolean): boolean {
  switch (applicationAckType.trim().toUpperCase()) {
    case 'AL':
      return true;
    case 'ER':
      return !success;
    case 'SU':
      return success;
    default:
      return false;
  }
}

/**
 * MSA-1 of the application ACK: `AA` when the message was processed (or had nothing to score); `AE`
 * when it was dead-lettered for what it contains; `AR` when it was dead-lettered after the retries
 * of a transient failure (the gateway could not process it, whatever it contains).
 */
export function appAckCode(f: Pick<FinishedOutcome, 'status' | 'failedAt'>): AckCode {
  return f.status !== 'failed' ? 'AA' : f.failedAt === 'retries' ? 'AR' : 'AE';
}

/** ERR of a failed message's application ACK: GW_PROCESSING_FAILED, 207 unless the parser named a code. */
export function appAckError(f: FinishedOutcome): ErrorAck['error'] {
  const err = new GatewayError(
    'GW_PROCESSING_FAILED',
    f.errorCode ? { hl7Code: f.errorCode } : {},
    f.failedAt ?? 'unknown',
    f.reason ?? '',
  );
  return { hl7Code: err.hl7Code, text: `${err.code}: ${err.message}`.slice(0, 240) };
}
