import type { Span } from '@opentelemetry/api';
import {
  type AckPolicy,
  ackCodeFor,
  checkHeader,
  DEFAULT_ACK_POLICY,
  errorAck,
  isEnhanced,
  processedOutcomeError,
  worstAck,
} from '../acks/policy.js';
import { assertStorable } from '../acks/storable.js';
import { GatewayError } from '../errors/codes.js';
import { type AckCode, buildAck, hl7Timestamp } from '../hl7/ack.js';
import { batchHeaders, buildBatchAck, splitMessages } from '../hl7/batch.js';
import { decodeHl7Bytes, encodeForCharset } from '../hl7/charset.js';
import { type MshHeader, readHeader, senderKey, stripPreamble, tryReadHeader } from '../hl7/header.js';
import { Hl7ParseError, parseHl7 } from '../hl7/parser.js';
import type { Inbox } from '../inbox/inbox.js';
import type { Logger } from '../observability/logger.js';
import { errorInfo } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { inSpan, traceparentOf } from '../observability/tracing.js';
import type { OutcomeWaiter } from './processing-wait.js';

export interface IntakeResult {
  /** The whole answer: one ACK, or for a batch every ACK (or the batch ACK). */
  ack: string;
  /** The worst code of the answer (success < reject < error). */
  code: AckCode;
  /** One ACK per message received (a batch has several). */
  acks: string[];
  messageId?: string;
  duplicate?: boolean;
}

export interface Hl7Intake {
  /** One HL7 v2 message or batch in (raw bytes as received), its ACK(s) out. Never throws. */
  receive(raw: Buffer, channel: string): Promise<IntakeResult>;
  /** The AR for a frame over the size limit (only its first bytes were kept). */
  tooLarge(head: Buffer, size: number, limit: number, channel: string): IntakeResult;
}

export type { AckPolicy } from '../acks/policy.js';
export { DEFAULT_ACK_POLICY } from '../acks/policy.js';

export interface IntakeOptions {
  inbox: Inbox;
  application: string;
  facility: string;
  logger: Logger;
  metrics: Metrics;
  ack?: Partial<AckPolicy>;
  /** Sender allow-list on MSH-3/MSH-4 (`APP|FAC`, `*` wildcards); empty or unset: anyone. */
  allowedSenders?: readonly string[];
  /** Needed for ACK timing "processed". */
  outcomes?: OutcomeWaiter;
}

/**
 * The transport-agnostic front door for HL7 v2: MLLP and `POST /hl7` both call it. It decodes the
 * bytes by MSH-18, splits batches, checks what must hold before a message can be accepted (an MSH,
 * usable delimiters, MSH-9 and MSH-10, an accepted processing id and sender, a message that parses),
 * stores it durably, and answers: AA (CA) once stored or processed, AR (CR) when it cannot be
 * accepted, AE (CE) when it cannot be stored or processed now.
 */
export function createHl7Intake(o: IntakeOptions): Hl7Intake {
  const policy: AckPolicy = { ...DEFAULT_ACK_POLICY, ...o.ack };
  const enhanced = (h: MshHeader | undefined) => isEnhanced(policy.mode, h);

  const ack = (
    base: 'AA' | 'AE' | 'AR',
    header: MshHeader | undefined,
    channel: string,
    error?: GatewayError,
  ) => {
    const code = ackCodeFor(base, enhanced(header));
    o.metrics.acks.inc({ channel, code });
    // Every message received gets exactly one ACK here: the per-sender counts of a Mirth channel.
    const sender = o.metrics.sender(header ? senderKey(header) : undefined);
    o.metrics.senderReceived.inc({ sender });
    o.metrics.senderAcks.inc({ sender, code });
    const text = buildAck({
      code,
      header,
      application: o.application,
      facility: o.facility,
      ...(error ? { error: errorAck(error).error } : {}),
    });
    return { ack: text, code, acks: [text] } satisfies IntakeResult;
  };

  /** One message, in a span of its own (a batch has one per message): the root of its processing. */
  const one = (text: string, raw: Buffer, channel: string): Promise<IntakeResult> =>
    inSpan('intake', { 'gateway.channel': channel }, async (span) => {
      const r = await accept(text, raw, channel, span);
      span.setAttribute('hl7.ack_code', r.code);
      if (r.messageId)
        span.setAttributes({ 'gateway.message.id': r.messageId, 'gateway.duplicate': !!r.duplicate });
      return r;
    });

  async function accept(text: string, raw: Buffer, channel: string, span: Span): Promise<IntakeResult> {
    o.metrics.messagesReceived.inc({ channel });
    let header: MshHeader | undefined;
    try {
      header = readHeader(text);
      // Names of systems and of the message, never of a patient.
      span.setAttributes({
        'hl7.message_type': [header.messageType, header.triggerEvent].filter(Boolean).join('^'),
        'hl7.control_id': header.controlId,
        'hl7.version': header.version,
        'hl7.sender': senderKey(header),
      });
      checkHeader(header, policy, o.allowedSenders);
      try {
        parseHl7(text);
      } catch (err) {
        // The parser's own 0357 code goes into ERR.
        if (err instanceof Hl7ParseError)
          throw new GatewayError('GW_HL7_PARSE', { hl7Code: err.code }, err.message);
        throw err;
      }
      // Before it joins a group commit: a row the database can never store is refused alone.
      assertStorable(text, header);
      const messageType = header.triggerEvent
        ? `${header.messageType}^${header.triggerEvent}`
        : header.messageType;
      const traceparent = traceparentOf();
      const item = {
        channel,
        sender: senderKey(header),
        controlId: header.controlId,
        messageType,
        raw,
        ...(traceparent ? { traceparent } : {}),
      };
      const accepted = await inSpan('intake.commit', {}, () => o.inbox.accept(item));
      if (policy.timing === 'processed' && !enhanced(header) && o.outcomes) {
        const outcome = await o.outcomes.wait(accepted.messageId, policy.processedTimeoutMs);
        const notProcessed = processedOutcomeError(outcome, policy.processedTimeoutMs);
        if (notProcessed) throw notProcessed;
      }
      return { ...ack('AA', header, channel), messageId: accepted.messageId, duplicate: accepted.duplicate };
    } catch (err) {
      const gw = err instanceof GatewayError ? err : new GatewayError('GW_INTERNAL');
      if (!(err instanceof GatewayError)) o.logger.error({ err: errorInfo(err), channel }, 'intake failed');
      else o.logger.warn({ code: gw.code, ack: gw.ack, channel }, 'message not accepted');
      return ack(gw.ack, header ?? tryReadHeader(text), channel, gw);
    }
  }

  return {
    async receive(raw, channel) {
      const decoded = decodeHl7Bytes(raw);
      const text = decoded.text;
      const head = stripPreamble(text).slice(0, 3);
      const isBatch = head === 'FHS' || head === 'BHS' || countMsh(text) > 1;
      if (!isBatch) return one(text, raw, channel);
      const { messages } = splitMessages(text);
      // Each message is stored as bytes in the character set it declared.
      const results = await Promise.all(
        messages.map((m) => one(m, encodeForCharset(m, decoded.declared), channel)),
      );
      const acks = results.map((r) => r.ack);
      const code = worstAck(results.map((r) => r.code));
      const answer =
        policy.batch === 'batch'
          ? buildBatchAck(batchHeaders(text), acks, {
              application: o.application,
              facility: o.facility,
              timestamp: hl7Timestamp(new Date()),
              controlId: `B${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`,
            })
          : acks.join('');
      if (results.length === 0) return ack('AR', undefined, channel, new GatewayError('GW_HL7_NO_MSH'));
      return { ack: answer, code, acks };
    },

    tooLarge(head, size, limit, channel) {
      o.metrics.messagesReceived.inc({ channel });
      const gw = new GatewayError('GW_HL7_TOO_LARGE', String(size), String(limit));
      o.logger.warn({ code: gw.code, channel, bytes: size }, 'message not accepted');
      return ack('AR', tryReadHeader(decodeHl7Bytes(head).text), channel, gw);
    },
  };
}

/** MSH segments at the start of a line (more than one: messages sent one after another). */
function countMsh(text: string): number {
  let n = text.startsWith('MSH') || text.startsWith('\uFEFFMSH') ? 1 : 0;
  for (let i = text.indexOf('MSH', 1); i >= 0 && n < 2; i = text.indexOf('MSH', i + 3)) {
    const prev = text.charCodeAt(i - 1);
    if (prev === 13 || prev === 10) n++;
  }
  return n;
}
