import type { FastifyInstance } from 'fastify';
import { splitMessages } from '../../hl7/batch.js';
import type { Hl7Intake } from '../intake.js';

const HL7_TYPES = ['x-application/hl7-v2+er7', 'application/hl7-v2', 'text/plain'];

/**
 * `POST /hl7`: one message or a batch as the body; answers one ACK per message, in order. The HTTP
 * status follows the worst ACK: 200 all AA, 503 any AE (retry later), 400 any AR.
 */
export function registerHl7Route(app: FastifyInstance, intake: Hl7Intake): void {
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(HL7_TYPES, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    scope.post('/hl7', async (req, reply) => {
      const body = req.body as Buffer;
      const { messages } = splitMessages(body.toString('utf8'));
      if (messages.length === 0) messages.push('');
      const acks: string[] = [];
      let worst = 0;
      for (const m of messages) {
        const r = await intake.receive(Buffer.from(m, 'utf8'), 'http');
        acks.push(r.ack);
        worst = Math.max(worst, r.code === 'AA' ? 0 : r.code === 'AR' ? 1 : 2);
      }
      return reply.status([200, 400, 503][worst]!).type('x-application/hl7-v2+er7').send(acks.join('\n'));
    });
  });
}
