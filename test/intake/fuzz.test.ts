import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Database } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open.js';
import { Inbox } from '../../src/inbox/inbox.js';
import { createHl7Intake } from '../../src/intake/hl7-intake.js';
import { createLineageStore } from '../../src/lineage/store.js';
import { MllpClient } from '../../src/mllp/client.js';
import { encodeFrame, MllpDecoder } from '../../src/mllp/codec.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { ackCode } from '../../src/writeback/hl7/oru/message.js';
import { startTestGateway } from '../helpers/gateway.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';

const DIR = new URL('../../fixtures/hl7v2/', import.meta.url);
const seeds = readdirSync(DIR)
  .filter((f) => f.endsWith('.hl7'))
  .map((f) => readFileSync(new URL(f, DIR)));
const SPECIAL = [
  0x0d, 0x0a, 0x7c, 0x5e, 0x7e, 0x5c, 0x26, 0x0b, 0x1c, 0x00, 0xff, 0xef, 0xbb, 0xbf, 0x4d, 0x53, 0x48,
];

type Mutation = { at: number; kind: number; len: number; byte: number };
const mutation = fc.record({
  at: fc.nat(),
  kind: fc.integer({ min: 0, max: 6 }),
  len: fc.integer({ min: 1, max: 64 }),
  byte: fc.oneof(fc.constantFrom(...SPECIAL), fc.integer({ min: 0, max: 255 })),
});

/** Applies byte-level mutations: flip, insert, delete, duplicate, truncate, overwrite with delimiters. */
function mutate(seed: Buffer, ms: Mutation[]): Buffer {
  let b = seed;
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    switch (m.kind) {
      case 0:
        b = Buffer.concat([b.subarray(0, at), Buffer.from([m.byte]), b.subarray(at + 1)]);
        break;
      case 1:
        b = Buffer.concat([b.subarray(0, at), Buffer.alloc(m.len % 8 || 1, m.byte), b.subarray(at)]);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at + m.len), b.subarray(at)]);
        break;
      case 4:
        b = b.subarray(0, at);
        break;
      case 5:
        b = Buffer.concat([
          b.subarray(0, at),
          b.subarray(at, at + m.len).map(() => m.byte),
          b.subarray(at + m.len),
        ]);
        break;
      default:
        b = Buffer.concat([b, b.subarray(0, m.len)]);
    }
  }
  return b;
}

const ACK_CODES = new Set(['AA', 'AE', 'AR', 'CA', 'CE', 'CR']);

describe('fuzzing: mutated fixtures through the MLLP codec and the intake', () => {
  let db: Database;
  before(async () => {
    db = await openDatabase({ dataDir: '', pgliteDir: 'memory://' });
  });
  after(() => db.close());

  it('100,000 mutated inputs: no crash, no hang, exactly one well-formed ACK per frame', async () => {
    // The real intake and inbox; the inbox is kept full so that accepted messages take the
    // back-pressure path (AE) instead of 100,000 commits. Storing is fuzzed over a socket below.
    const inbox = new Inbox(db, createLineageStore(db), {
      maxBatch: 64,
      maxDelayMs: 0,
      maxPending: 1,
      onCommitted() {},
      backlog: () => 1,
    });
    const intake = createHl7Intake({
      inbox,
      application: 'GW',
      facility: '',
      logger: createLogger('silent'),
      metrics: createMetrics(),
    });
    let frames = 0;
    let slowest = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: seeds.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 4096 }), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        async (seedIndex, ms, chunks, batch) => {
          const payload = mutate(seeds[seedIndex]!, ms);
          const wire = Buffer.concat([encodeFrame(payload), ...(batch ? [encodeFrame(seeds[0]!)] : [])]);
          const decoder = new MllpDecoder(64 * 1024);
          const t0 = performance.now();
          const decoded = [];
          let off = 0;
          let c = 0;
          while (off < wire.length) {
            const n = chunks[c++ % chunks.length]!;
            decoded.push(...decoder.push(wire.subarray(off, off + n)));
            off += n;
          }
          for (const f of decoded) {
            const r =
              f.kind === 'frame'
                ? await intake.receive(f.payload, 'fuzz')
                : intake.tooLarge(f.head, f.size, 65536, 'fuzz');
            frames++;
            assert.equal(typeof r.ack, 'string');
            assert.ok(r.acks.length >= 1, 'at least the ACK of the frame');
            for (const a of r.acks) {
              assert.ok(a.startsWith('MSH'), 'an ACK starts with MSH');
              assert.ok(
                ACK_CODES.has(ackCode(a) ?? ''),
                `MSA-1 is an ACK code: ${JSON.stringify(a.slice(0, 200))}`,
              );
            }
          }
          slowest = Math.max(slowest, performance.now() - t0);
        },
      ),
      { numRuns: 100_000, seed: 20241124 },
    );
    assert.ok(frames >= 100_000, `every input gave a frame (${frames})`);
    assert.ok(slowest < 1000, `no input took a second or more (slowest ${slowest.toFixed(1)} ms)`);
  });

  it('over real sockets: 3,000 mutated frames on 6 connections, one ACK each, and the listener still serves', async () => {
    const t = await startTestGateway({ database: 'pglite' });
    try {
      const rnd = fc.sample(
        fc.tuple(fc.nat({ max: seeds.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 })),
        { numRuns: 3000, seed: 42 },
      );
      const clients = await Promise.all(
        Array.from({ length: 6 }, () =>
          MllpClient.connect({ host: '127.0.0.1', port: t.gw.mllpPort, timeoutMs: 30_000 }),
        ),
      );
      const acks = await Promise.all(
        rnd.map(([s, ms], i) => {
          // Framing bytes inside the payload would split it into several frames: keep one frame each.
          const payload = mutate(seeds[s]!, ms).filter((b) => b !== 0x0b && b !== 0x1c);
          return clients[i % clients.length]!.send(Buffer.from(payload));
        }),
      );
      assert.equal(acks.length, 3000);
      for (const a of acks) assert.ok(ACK_CODES.has(ackCode(a) ?? ''), a.slice(0, 120));
      await Promise.all(clients.map((c) => c.close()));
      const fresh = await MllpClient.connect({ host: '127.0.0.1', port: t.gw.mllpPort });
      assert.equal(msaCode(await fresh.send(vitalsOru({ controlId: 'AFTER-FUZZ' }))), 'AA');
      await fresh.close();
    } finally {
      await t.dispose();
    }
  });
});
