import { GatewayError } from '../errors/codes.js';
import { type AckCode, buildAck } from '../hl7/ack.js';
import { type MshHeader, readHeader, senderKey, tryReadHeader } from '../hl7/header.js';
import { Hl7ParseError, parseHl7 } from '../hl7/parser.js';
import type { Logger } from '../observability/logger.js';
import { errorInfo } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Inbox } from './inbox.js';

export interface IntakeResult {
  ack: string;
  code: AckCode;
  messageId?: string;
  duplicate?: boolean;
}

export interface Hl7Intake {
  /** One HL7 v2 message in (raw bytes as received), one ACK out. Never throws. */
  receive(raw: Buffer, channel: string): Promise<IntakeResult>;
  /** The AR for a frame over the size limit (only its first bytes were kept). */
  tooLarge(head: Buffer, size: number, limit: number, channel: string): IntakeResult;
}

export interface IntakeOptions {
  inbox: Inbox;
  application: string;
  facility: string;
  logger: Logger;
  metrics: Metrics;
}

/**
 * The transport-agnostic front door for HL7 v2: MLLP and `POST /hl7` both call it. It checks what
 * must hold before a message can be accepted (an MSH, usable delimiters, MSH-9 and MSH-10, a message
 * that parses), stores it durably, and answers the ACK: AA once stored, AR when it cannot be
 * accepted, AE when it cannot be stored now.
 */
export function createHl7Intake(o: IntakeOptions): Hl7Intake {
  const ack = (code: AckCode, header: MshHeader | undefined, channel: string, error?: GatewayError) => {
    o.metrics.acks.inc({ channel, code });
    return buildAck({
      code,
      header,
      application: o.application,
      facility: o.facility,
      ...(error ? { error: { hl7Code: error.hl7Code, text: `${error.code}: ${error.message}` } } : {}),
    });
  };

  return {
    async receive(raw, channel) {
      o.metrics.messagesReceived.inc({ channel });
      const text = raw.toString('utf8');
      let header: MshHeader | undefined;
      try {
        header = readHeader(text);
        if (!header.controlId) throw new GatewayError('GW_HL7_NO_CONTROL_ID');
        if (!header.messageType) throw new GatewayError('GW_HL7_NO_TYPE');
        try {
          parseHl7(text);
        } catch (err) {
          if (err instanceof Hl7ParseError) {
            const e = new GatewayError('GW_HL7_PARSE', err.message);
            Object.assign(e, { hl7Code: err.code });
            throw e;
          }
          throw err;
        }
        const messageType = header.triggerEvent
          ? `${header.messageType}^${header.triggerEvent}`
          : header.messageType;
        const accepted = await o.inbox.accept({
          channel,
          sender: senderKey(header),
          controlId: header.controlId,
          messageType,
          raw,
        });
        return {
          ack: ack('AA', header, channel),
          code: 'AA',
          messageId: accepted.messageId,
          duplicate: accepted.duplicate,
        };
      } catch (err) {
        const gw = err instanceof GatewayError ? err : new GatewayError('GW_INTERNAL');
        if (!(err instanceof GatewayError)) o.logger.error({ err: errorInfo(err), channel }, 'intake failed');
        else o.logger.warn({ code: gw.code, ack: gw.ack, channel }, 'message not accepted');
        return { ack: ack(gw.ack, header ?? tryReadHeader(text), channel, gw), code: gw.ack };
      }
    },

    tooLarge(head, size, limit, channel) {
      o.metrics.messagesReceived.inc({ channel });
      const gw = new GatewayError('GW_HL7_TOO_LARGE', String(size), String(limit));
      o.logger.warn({ code: gw.code, channel, bytes: size }, 'message not accepted');
      return { ack: ack('AR', tryReadHeader(head.toString('utf8')), channel, gw), code: 'AR' };
    },
  };
}
