import type { FastifyInstance } from 'fastify';
import type { Hl7Intake } from '../intake.js';

const HL7_TYPES = ['x-application/hl7-v2+er7', 'application/hl7-v2', 'text/plain'];

/**
 * `POST /hl7`: one message or a batch as the body; answers one ACK per message, in order (or one
 * batch ACK, config `ack.batch`). The HTTP status follows the worst ACK: 200 all AA/CA, 503 any
 * AE/CE (retry later), 400 any AR/CR.
 */
export function registerHl7Route(app: FastifyInstance, intake: Hl7Intake): void {
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(HL7_TYPES, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    scope.post('/hl7', async (req, reply) => {
      const body = req.body as Buffer;
      const r = await intake.receive(body, 'http');
      const worst = r.code === 'AA' || r.code === 'CA' ? 0 : r.code === 'AR' || r.code === 'CR' ? 1 : 2;
      // A batch ACK is one message; otherwise one ACK per message, one after another.
      const acks = r.ack.startsWith('FHS') || r.ack.startsWith('BHS') ? [r.ack] : r.acks;
      return reply.status([200, 400, 503][worst]!).type('x-application/hl7-v2+er7').send(acks.join('\n'));
    });
  });
}
