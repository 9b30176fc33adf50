import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Database } from '../../../src/db/database.js';
import { createLineageStore, type LineageStore } from '../../../src/lineage/store.js';
import { createLogger } from '../../../src/observability/logger.js';
import {
  type AttemptOutcome,
  createOutbox,
  type MllpDestination,
} from '../../../src/writeback/hl7/outbox.js';
import { type TestDatabase, testDatabases } from '../../helpers/db.js';
import { type FakeMirth, startFakeMirth } from '../../helpers/fake-mirth.js';

/** An HL7 message whose MSH-10 is `id` (the fake Mirth answers with MSA-2 = MSH-10). */
const hl7 = (id: string) =>
  `MSH|^~\\&|ML-GATEWAY|HOSP|MIRTH|HOSP|20240301||ORU^R01^ORU_R01|${id}|P|2.5.1\rOBX|1|NM\r`;
const controlOf = (message: string) => message.split('\r')[0]?.split('|')[9];

function destination(port: number, over: Partial<MllpDestination> = {}): MllpDestination {
  return {
    name: 'mirth',
    host: '127.0.0.1',
    port,
    timeoutMs: 2000,
    maxAttempts: 5,
    backoffMs: 5,
    maxBackoffMs: 20,
    ...over,
  };
}

interface Row {
  control_id: string;
  status: string;
  attempts: number;
  last_ack: string | null;
  has_body: boolean;
  lease_owner: string | null;
}

async function rows(db: Database): Promise<Row[]> {
  return (
    await db.query<Row>(
      `select control_id, status, attempts, last_ack, (body is not null) as has_body, lease_owner
         from egress_outbox order by id`,
    )
  ).rows;
}

for (const kind of testDatabases()) {
  describe(`createOutbox against a TCP fake Mirth (${kind.name})`, () => {
    let t: TestDatabase;
    let lineage: LineageStore;
    before(async () => {
      t = await kind.open();
      lineage = createLineageStore(t.db);
    });
    after(() => t.dispose());

    async function run(
      answer: (message: string, n: number) => string | 'none',
      send: Array<{ messageId: string; orderKey: string; controlId: string }>,
      over: Partial<MllpDestination> = {},
    ): Promise<{ mirth: FakeMirth; outcomes: AttemptOutcome[] }> {
      await t.db.query('delete from egress_outbox');
      const mirth = await startFakeMirth(answer);
      const outcomes: AttemptOutcome[] = [];
      const outbox = createOutbox({
        kind: 'oru',
        db: t.db,
        lineage,
        logger: createLogger('silent'),
        destinations: [destination(mirth.port, over)],
        pollMs: 20,
        onAttempt: (_d, o) => outcomes.push(o),
      });
      try {
        await outbox.addNow(
          send.map((s) => ({ ...s, destination: 'mirth', text: hl7(s.controlId), detail: { model: 'm' } })),
        );
        await outbox.idle(20_000);
      } finally {
        await outbox.close();
        await mirth.close();
      }
      return { mirth, outcomes };
    }

    test('AA: delivered once, body dropped, an `oru-sent` lineage entry with the ACK code', async () => {
      const { mirth, outcomes } = await run(
        () => 'AA',
        [{ messageId: 'm-aa', orderKey: 'p1', controlId: 'C-AA' }],
      );
      assert.deepEqual(mirth.received.map(controlOf), ['C-AA']);
      assert.deepEqual(outcomes, ['sent']);
      const [r] = await rows(t.db);
      assert.deepEqual(r, {
        control_id: 'C-AA',
        status: 'sent',
        attempts: 1,
        last_ack: 'AA',
        has_body: false,
        lease_owner: null,
      });
      const entries = await lineage.entriesFor('m-aa');
      assert.deepEqual(
        entries.map((e) => [e.stage, e.detail.ack, e.detail.controlId, e.detail.model]),
        [['oru-sent', 'AA', 'C-AA', 'm']],
      );
    });

    test('AE is retried with back-off until AA; each attempt is a lineage entry', async () => {
      const { mirth, outcomes } = await run(
        (_m, n) => (n < 3 ? 'AE' : 'AA'),
        [{ messageId: 'm-ae', orderKey: 'p1', controlId: 'C-AE' }],
      );
      assert.equal(mirth.received.length, 3);
      assert.deepEqual(outcomes, ['retry', 'retry', 'sent']);
      const [r] = await rows(t.db);
      assert.equal(r?.status, 'sent');
      assert.equal(r?.attempts, 3);
      const stages = (await lineage.entriesFor('m-ae')).map((e) => [e.stage, e.detail.attempt, e.detail.ack]);
      assert.deepEqual(stages, [
        ['oru-attempt-failed', 1, 'AE'],
        ['oru-attempt-failed', 2, 'AE'],
        ['oru-sent', 3, 'AA'],
      ]);
    });

    test('AR is a refusal: not retried, the body kept, a `gave-up` entry', async () => {
      const { mirth, outcomes } = await run(
        () => 'AR',
        [{ messageId: 'm-ar', orderKey: 'p1', controlId: 'C-AR' }],
      );
      assert.equal(mirth.received.length, 1);
      assert.deepEqual(outcomes, ['refused']);
      const [r] = await rows(t.db);
      assert.deepEqual([r?.status, r?.attempts, r?.last_ack, r?.has_body], ['refused', 1, 'AR', true]);
      assert.deepEqual(
        (await lineage.entriesFor('m-ar')).map((e) => e.stage),
        ['oru-attempt-failed', 'oru-gave-up'],
      );
    });

    test('AE at every attempt: given up after maxAttempts', async () => {
      const { mirth } = await run(() => 'AE', [{ messageId: 'm-up', orderKey: 'p1', controlId: 'C-UP' }], {
        maxAttempts: 2,
      });
      assert.equal(mirth.received.length, 2);
      const [r] = await rows(t.db);
      assert.deepEqual([r?.status, r?.attempts], ['gave-up', 2]);
      assert.deepEqual(
        (await lineage.entriesFor('m-up')).map((e) => e.stage),
        ['oru-attempt-failed', 'oru-attempt-failed', 'oru-gave-up'],
      );
    });

    test('one order key in order: a row in back-off holds those behind it; a control id is queued once', async () => {
      const { mirth } = await run(
        (m, n) => (controlOf(m) === 'K1' && n === 1 ? 'AE' : 'AA'),
        [
          { messageId: 'm-k1', orderKey: 'patient-k', controlId: 'K1' },
          { messageId: 'm-k2', orderKey: 'patient-k', controlId: 'K2' },
          { messageId: 'm-k2', orderKey: 'patient-k', controlId: 'K2' },
          { messageId: 'm-k3', orderKey: 'patient-k', controlId: 'K3' },
        ],
      );
      assert.deepEqual(mirth.received.map(controlOf), ['K1', 'K1', 'K2', 'K3']);
      assert.deepEqual(
        (await rows(t.db)).map((r) => [r.control_id, r.status]),
        [
          ['K1', 'sent'],
          ['K2', 'sent'],
          ['K3', 'sent'],
        ],
      );
    });

    test('no answer within the time-out and a destination that is down are transport failures, retried', async () => {
      const { mirth, outcomes } = await run(
        (_m, n) => (n === 1 ? 'none' : 'AA'),
        [{ messageId: 'm-to', orderKey: 'p1', controlId: 'C-TO' }],
        { timeoutMs: 300 },
      );
      assert.equal(mirth.received.length, 2);
      assert.deepEqual(outcomes, ['retry', 'sent']);
      const failed = (await lineage.entriesFor('m-to')).find((e) => e.stage === 'oru-attempt-failed');
      assert.equal(failed?.detail.ack, undefined, 'no ACK code for a transport failure');
    });

    test('rows left by a close are sent by the next outbox on the same database', async () => {
      await t.db.query('delete from egress_outbox');
      const down = await startFakeMirth(() => 'AA');
      const port = down.port;
      await down.close();
      const first = createOutbox({
        kind: 'oru',
        db: t.db,
        lineage,
        logger: createLogger('silent'),
        destinations: [destination(port, { backoffMs: 60_000, maxBackoffMs: 60_000 })],
        pollMs: 20,
      });
      await first.addNow([
        { messageId: 'm-rs', destination: 'mirth', orderKey: 'p', controlId: 'C-RS', text: hl7('C-RS') },
      ]);
      // The destination is down: the row goes into a long back-off after its first attempt.
      for (let i = 0; i < 500 && (await rows(t.db))[0]?.attempts !== 1; i++)
        await new Promise((r) => setTimeout(r, 10));
      await first.close();
      assert.deepEqual(
        (await rows(t.db)).map((r) => [r.status, r.attempts, r.lease_owner]),
        [['pending', 1, null]],
        'pending, its lease handed back',
      );
      // Due now, and the destination is up again where it was.
      await t.db.query('update egress_outbox set next_attempt_at = now()');
      const up = await startFakeMirth(() => 'AA', port);
      const second = createOutbox({
        kind: 'oru',
        db: t.db,
        lineage,
        logger: createLogger('silent'),
        destinations: [destination(port)],
        pollMs: 20,
      });
      try {
        await second.idle(20_000);
      } finally {
        await second.close();
        await up.close();
      }
      assert.deepEqual(up.received.map(controlOf), ['C-RS']);
      assert.equal((await rows(t.db))[0]?.status, 'sent');
    });
  });
}
