import type { FastifyInstance } from 'fastify';
import { httpStatusOfAck } from '../../acks/policy.js';
import { GatewayError } from '../../errors/codes.js';
import type { Hl7Intake } from '../hl7-intake.js';

/** The content types `POST /hl7` takes (any charset parameter; MSH-18 decides the decoding). */
export const HL7_TYPES = ['x-application/hl7-v2+er7', 'application/hl7-v2', 'text/plain'] as const;

export interface Hl7RouteOptions {
  /** `mllp.maxMessageBytes`: the same limit as a frame; larger bodies get 413 with an AR (ERR 104). */
  maxMessageBytes: number;
  /** `http.bodyLimitBytes`: bodies beyond it are not read at all (413 `GW_HL7_TOO_LARGE`, JSON). */
  bodyLimitBytes: number;
}

/**
 * `POST /hl7`: one message or a batch as the body; answers one ACK per message, in order (or one
 * batch ACK, config `ack.batch`). The HTTP status follows the worst ACK: 200 all AA/CA, 503 any
 * AE/CE (retry later), 400 any AR/CR, 413 over `mllp.maxMessageBytes`. An empty body is an AR (no
 * MSH); another content type is 415 naming the ones taken.
 */
export function registerHl7Route(app: FastifyInstance, intake: Hl7Intake, o: Hl7RouteOptions): void {
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser([...HL7_TYPES], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    scope.addContentTypeParser('*', (req, _payload, done) =>
      done(
        new GatewayError(
          'GW_UNSUPPORTED_MEDIA',
          `${req.headers['content-type'] || 'none'} (POST /hl7 takes ${HL7_TYPES.join(', ')})`,
        ),
      ),
    );
    scope.setErrorHandler((err, req) => {
      if ((err as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE')
        throw new GatewayError(
          'GW_HL7_TOO_LARGE',
          String(req.headers['content-length'] ?? `more than ${o.bodyLimitBytes}`),
          String(Math.min(o.maxMessageBytes, o.bodyLimitBytes)),
        );
      throw err;
    });
    scope.post('/hl7', { bodyLimit: Math.max(o.bodyLimitBytes, o.maxMessageBytes) }, async (req, reply) => {
      // No body and no content type: fastify parses nothing; it is an empty message (AR, no MSH).
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (body.length > o.maxMessageBytes) {
        const r = intake.tooLarge(body.subarray(0, 4096), body.length, o.maxMessageBytes, 'http');
        return reply.status(413).type('x-application/hl7-v2+er7').send(r.ack);
      }
      const r = await intake.receive(body, 'http');
      // A batch ACK is one message; otherwise one ACK per message, one after another.
      const acks = r.ack.startsWith('FHS') || r.ack.startsWith('BHS') ? [r.ack] : r.acks;
      return reply.status(httpStatusOfAck(r.code)).type('x-application/hl7-v2+er7').send(acks.join('\n'));
    });
  });
}
