import assert from 'node:assert/strict';
import { type AddressInfo, createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Database } from '../../../src/db/database.js';
import { parseHl7 } from '../../../src/hl7/parser.js';
import { createLineageStore, type LineageStore } from '../../../src/lineage/store.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { pruneEgressBodies } from '../../../src/retention/prune.js';
import { createRawCipher } from '../../../src/security/raw-cipher.js';
import { ackCode, buildResultOru } from '../../../src/writeback/hl7/oru/message.js';
import {
  createOruEgress,
  type OruDestination,
  type OruEgressOptions,
  type OruJob,
} from '../../../src/writeback/hl7/oru/sender.js';
import { type TestDatabase, testDatabases } from '../../helpers/db.js';
import { type FakeMirth, startFakeMirth } from '../../helpers/fake-mirth.js';
import { sendMllp, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { msaCode, vitalsOru } from '../../helpers/messages.js';

const result = {
  model: 'vitals-deterioration',
  modelVersion: '1.0.0',
  modelSha256: 'f0dd',
  score: 0.8123456789,
  interpretation: 'H',
  code: {
    system: 'http://example.org/model-output',
    code: 'vitals-deterioration-probability',
    display: 'Probability of deterioration',
  },
  unit: { code: '1', display: 'probability' },
  resource: 'Observation/abc',
};
const job = (messageId: string, mrn: string): OruJob => ({
  messageId,
  patient: { value: mrn, assigner: 'HOSP' },
  sourceControlId: `CTRL-${messageId}`,
  effectiveAt: '2024-03-01T10:15:00Z',
  results: [result],
});

const egressOptions = (
  db: Database,
  lineage: LineageStore,
  destinations: OruDestination[],
): OruEgressOptions => ({
  destinations,
  sendingApplication: 'ML-GATEWAY',
  sendingFacility: '',
  processingId: 'P',
  db,
  lineage,
  logger: createLogger('silent'),
  metrics: createMetrics(),
  pollMs: 50,
});

it('builds an ORU^R01 v2.5.1 that parses: PID-3, OBR per model, OBX NM score, interpretation, method', () => {
  const text = buildResultOru({
    ...job('m1', 'MRN|7'),
    sendingApplication: 'ML-GATEWAY',
    sendingFacility: 'HOSP',
    receivingApplication: 'MIRTH',
    receivingFacility: 'EHR',
    processingId: 'P',
    controlId: 'X1',
    now: new Date('2024-03-01T10:16:00Z'),
  });
  const m = parseHl7(text);
  assert.equal(m.get('MSH-9.1'), 'ORU');
  assert.equal(m.get('MSH-9.2'), 'R01');
  assert.equal(m.get('MSH-18'), 'UNICODE UTF-8');
  assert.equal(m.get('PID-3.1'), 'MRN|7', 'delimiters in values are escaped and decode back');
  assert.equal(m.get('OBR-2'), 'CTRL-m1');
  assert.equal(m.get('OBR-25'), 'F');
  assert.equal(m.get('OBR[1]/OBX[1]-5'), '0.812346');
  assert.equal(m.get('OBX-6.1'), '1');
  assert.equal(m.get('OBX-8'), 'H');
  assert.equal(m.get('OBX-14'), '20240301101500+0000');
  assert.equal(m.get('OBX-17.2'), 'vitals-deterioration 1.0.0');
  assert.match(m.get('NTE-3') ?? '', /Observation\/abc/);
  assert.equal(ackCode('MSH|^~\\&|A\rMSA|CE|X\r'), 'CE');
});

for (const kind of testDatabases()) {
  describe(`ORU^R01 results back to Mirth through the outbox (${kind.name})`, () => {
    let t: TestDatabase;
    let lineage: LineageStore;
    before(async () => {
      t = await kind.open();
      lineage = createLineageStore(t.db);
    });
    after(() => t.dispose());

    it('retries AE/CE with back-off, stops at AR, keeps order per patient, records every attempt', async () => {
      const answers = new Map<string, string[]>();
      // Patient A's first result: AE, then CE, then AA. Patient B: AR (refused, not retried).
      const mirth = await startFakeMirth((msg) => {
        const mrn = /PID\|1\|\|([^^]+)/.exec(msg)?.[1] ?? '';
        const seen = answers.get(mrn) ?? [];
        const code = mrn === 'B' ? 'AR' : (['AE', 'CE'][seen.length] ?? 'AA');
        seen.push(code);
        answers.set(mrn, seen);
        return code;
      });
      const dest: OruDestination = {
        name: 'mirth',
        host: '127.0.0.1',
        port: mirth.port,
        receivingApplication: 'MIRTH',
        receivingFacility: '',
        timeoutMs: 2000,
        maxAttempts: 5,
        backoffMs: 20,
        maxBackoffMs: 100,
      };
      const egress = createOruEgress(egressOptions(t.db, lineage, [dest]));
      try {
        egress.enqueue(job('a1', 'A'));
        egress.enqueue(job('a2', 'A'));
        egress.enqueue(job('b1', 'B'));
        await egress.idle();
        const ofA = mirth.received
          .filter((m) => m.includes('PID|1||A^'))
          .map((m) => /OBR\|1\|CTRL-(\w+)/.exec(m)?.[1]);
        assert.deepEqual(ofA, ['a1', 'a1', 'a1', 'a2'], 'a2 waits until a1 is acknowledged');
        const stages = async (id: string) =>
          (await lineage.entriesFor(id)).map((e) => `${e.stage}:${e.detail.ack ?? ''}`);
        assert.deepEqual(await stages('a1'), [
          'oru-attempt-failed:AE',
          'oru-attempt-failed:CE',
          'oru-sent:AA',
        ]);
        assert.deepEqual(await stages('a2'), ['oru-sent:AA']);
        assert.deepEqual(await stages('b1'), ['oru-attempt-failed:AR', 'oru-gave-up:']);
        const a1 = await lineage.entriesFor('a1');
        assert.equal(a1[0]?.detail.controlId, a1[2]?.detail.controlId, 'a retry resends the same MSH-10');
        const rows = await t.db.query<{
          message_id: string;
          status: string;
          attempts: number;
          body: unknown;
        }>(
          `select message_id, status, attempts, body from egress_outbox where message_id in ('a1', 'a2', 'b1')
            order by message_id`,
        );
        assert.deepEqual(
          rows.rows.map(
            (r) => `${r.message_id}:${r.status}:${r.attempts}:${r.body === null ? 'no body' : 'body'}`,
          ),
          ['a1:sent:3:no body', 'a2:sent:1:no body', 'b1:refused:1:body'],
          'the outbox keeps the state; a delivered ORU no longer keeps its text',
        );
        // After the retention period the refused ORU's text goes too; the row and lineage stay.
        assert.equal(await pruneEgressBodies(t.db, lineage, 30, new Date()), 0, 'not before its time');
        const later = new Date(Date.now() + 31 * 86_400_000);
        assert.equal(await pruneEgressBodies(t.db, lineage, 30, later), 1);
        const b1 = await t.db.query<{ status: string; body: unknown }>(
          `select status, body from egress_outbox where message_id = 'b1'`,
        );
        assert.deepEqual(b1.rows, [{ status: 'refused', body: null }]);
        assert.equal((await stages('b1')).at(-1), 'egress-pruned:');
      } finally {
        await egress.close();
        await mirth.close();
      }
    });

    it("sends one patient's results in the order their messages were received, not processed", async () => {
      // Two messages of patient C: 'c-early' received first, 'c-late' second; processing finished
      // the other way round, so c-late's result reaches the outbox first.
      for (const [id, at] of [
        ['c-early', '2024-03-01T10:00:00Z'],
        ['c-late', '2024-03-01T10:05:00Z'],
      ] as const)
        await t.db.query(
          `insert into inbox (message_id, channel, sender, control_id, message_type, sha256, raw, received_at, status)
           values ($1, 'mllp', 'LAB|HOSP', $1, 'ORU^R01', 'x', '\\x00', $2, 'processed')`,
          [id, at],
        );
      let up = false;
      const mirth = await startFakeMirth(() => (up ? 'AA' : 'AE'));
      const egress = createOruEgress(
        egressOptions(t.db, lineage, [
          {
            name: 'order',
            host: '127.0.0.1',
            port: mirth.port,
            receivingApplication: '',
            receivingFacility: '',
            timeoutMs: 2000,
            maxAttempts: 100,
            backoffMs: 200,
            maxBackoffMs: 200,
          },
        ]),
      );
      try {
        egress.enqueue(job('c-late', 'C'));
        for (const until = Date.now() + 5000; mirth.received.length === 0 && Date.now() < until; )
          await new Promise((r) => setTimeout(r, 10));
        egress.enqueue(job('c-early', 'C')); // arrives while c-late is in back-off after an AE
        up = true;
        await egress.idle();
        const sent = mirth.received.map((m) => /OBR\|1\|CTRL-([\w-]+)/.exec(m)?.[1]);
        assert.equal(sent[0], 'c-late', 'tried first: it was alone');
        assert.deepEqual(sent.slice(-2), ['c-early', 'c-late'], 'then the earlier message goes first');
      } finally {
        await egress.close();
        await mirth.close();
      }
    });

    it('retries when the destination is down or does not answer in time, then gives up', async () => {
      const silent = await startFakeMirth(() => 'none');
      const down = { host: '127.0.0.1', receivingApplication: '', receivingFacility: '' };
      const egress = createOruEgress(
        egressOptions(t.db, lineage, [
          { ...down, name: 'down', port: 1, timeoutMs: 500, maxAttempts: 2, backoffMs: 10, maxBackoffMs: 20 },
          {
            ...down,
            name: 'silent',
            port: silent.port,
            timeoutMs: 200,
            maxAttempts: 2,
            backoffMs: 10,
            maxBackoffMs: 20,
          },
        ]),
      );
      try {
        egress.enqueue(job('c1', 'C'));
        await egress.idle();
        const entries = (await lineage.entriesFor('c1'))
          .map((e) => `${e.detail.destination}:${e.stage}`)
          .sort();
        assert.deepEqual(entries, [
          'down:oru-attempt-failed',
          'down:oru-attempt-failed',
          'down:oru-gave-up',
          'silent:oru-attempt-failed',
          'silent:oru-attempt-failed',
          'silent:oru-gave-up',
        ]);
        assert.equal(silent.received.length, 2);
      } finally {
        await egress.close();
        await silent.close();
      }
    });

    it('seals the stored ORU when a key is configured, and opens it to send', async () => {
      const mirth = await startFakeMirth(() => 'AA');
      const cipher = createRawCipher({ id: 'egress-k', key: Buffer.alloc(32, 7) });
      const egress = createOruEgress({
        ...egressOptions(t.db, lineage, [
          {
            name: 'sealed',
            host: '127.0.0.1',
            port: mirth.port,
            receivingApplication: '',
            receivingFacility: '',
            timeoutMs: 2000,
            maxAttempts: 3,
            backoffMs: 10,
            maxBackoffMs: 20,
          },
        ]),
        cipher,
        pollMs: 60_000,
      });
      try {
        // Stored inside a transaction that has not committed yet: nothing is sent before it does.
        await t.db.transaction(async (tx) => {
          await egress.enqueue(job('s1', 'MRN-SEALED'), tx);
          const r = await tx.query<{ body: Uint8Array; body_key_id: string }>(
            `select body, body_key_id from egress_outbox where message_id = 's1'`,
          );
          assert.equal(r.rows[0]?.body_key_id, 'egress-k');
          assert.ok(!Buffer.from(r.rows[0]!.body).toString('latin1').includes('MRN-SEALED'));
        });
        egress.wake();
        await egress.idle();
        assert.equal(mirth.received.length, 1);
        assert.match(mirth.received[0] ?? '', /PID\|1\|\|MRN-SEALED\^/);
      } finally {
        await egress.close();
        await mirth.close();
      }
    });

    it('two processes on one database: each result is sent once, each patient in order', async () => {
      const mirth = await startFakeMirth(() => 'AA');
      const dest: OruDestination = {
        name: 'shared',
        host: '127.0.0.1',
        port: mirth.port,
        receivingApplication: '',
        receivingFacility: '',
        timeoutMs: 2000,
        maxAttempts: 3,
        backoffMs: 10,
        maxBackoffMs: 20,
      };
      const one = createOruEgress(egressOptions(t.db, lineage, [dest]));
      const two = createOruEgress(egressOptions(t.db, lineage, [dest]));
      try {
        const ids: string[] = [];
        for (let i = 0; i < 30; i++) {
          const id = `p${String(i).padStart(2, '0')}`;
          ids.push(id);
          await (i % 2 ? one : two).enqueue(job(id, `P${i % 3}`));
        }
        await Promise.all([one.idle(), two.idle()]);
        const sent = mirth.received.map((m) => /OBR\|1\|CTRL-(\w+)/.exec(m)?.[1] ?? '');
        assert.deepEqual([...sent].sort(), ids, 'every result once');
        for (const p of ['P0', 'P1', 'P2']) {
          const ofP = mirth.received
            .filter((m) => m.includes(`PID|1||${p}^`))
            .map((m) => /OBR\|1\|CTRL-(\w+)/.exec(m)?.[1] ?? '');
          assert.deepEqual(ofP, [...ofP].sort(), `patient ${p} in order`);
        }
      } finally {
        await one.close();
        await two.close();
        await mirth.close();
      }
    });
  });

  describe(`ORU egress across a restart (${kind.name})`, () => {
    it('destination down, gateway stopped and started again on the same database: each result arrives once, in order', async () => {
      // The destination is down: its port is held by a listener that drops every connection (a
      // freed port could be handed to the gateway's own listeners), and comes back up there later.
      const down = createServer((socket) => socket.destroy());
      await new Promise<void>((r) => down.listen(0, '127.0.0.1', () => r()));
      const port = (down.address() as AddressInfo).port;
      const config = {
        egress: {
          oru: {
            destinations: [
              { name: 'mirth', host: '127.0.0.1', port, backoffMs: 20, maxBackoffMs: 200, maxAttempts: 1000 },
            ],
          },
        },
      };
      const first = await startTestGateway({ database: kind.name, config });
      const { dataDir, schema } = first;
      let second: TestGateway | undefined;
      let mirth: FakeMirth | undefined;
      try {
        for (const [i, c] of ['RST-1', 'RST-2', 'RST-3'].entries()) {
          const ack = await sendMllp(
            first.gw.mllpPort,
            vitalsOru({ controlId: c, mrn: 'MRN-RST', hr: 120 + i, time: `2024030110${15 + i}00` }),
          );
          assert.equal(msaCode(ack), 'AA');
        }
        await first.gw.idle();
        // All three wait in the outbox, in the order their messages were received (processing may
        // finish in another order); the first has been tried while the destination was down.
        const state = async () => {
          const r = await first.gw.db.query<{ status: string; attempts: number }>(
            `select status, attempts from egress_outbox where kind = 'oru'
              order by source_received_at, id`,
          );
          return r.rows.map((x, i) => (i === 0 && x.attempts > 0 ? `${x.status}:tried` : x.status)).join(' ');
        };
        const expected = 'pending:tried pending pending';
        for (const until = Date.now() + 10_000; (await state()) !== expected && Date.now() < until; )
          await new Promise((r) => setTimeout(r, 25));
        assert.equal(await state(), expected);
        // The on-call view: readiness names what waits for the destination (details need a token).
        const ready = (await (
          await fetch(`${first.gw.httpUrl}/health/ready`, {
            headers: { authorization: `Bearer ${first.gw.adminToken}` },
          })
        ).json()) as {
          checks: { egress: { status: string; oruPending: number; appAckPending: number } };
        };
        assert.deepEqual(
          { ...ready.checks.egress, ms: 0 },
          { status: 'up', ms: 0, oruPending: 3, appAckPending: 0 },
        );
        await first.stop();

        await new Promise((r) => down.close(r));
        mirth = await startFakeMirth(() => 'AA', port);
        second = await startTestGateway({
          database: kind.name,
          dataDir,
          ...(schema ? { schema } : {}),
          config,
        });
        for (const until = Date.now() + 15_000; mirth.received.length < 3 && Date.now() < until; )
          await new Promise((r) => setTimeout(r, 25));
        await new Promise((r) => setTimeout(r, 300)); // a duplicate would arrive now
        const sent = mirth.received.map((m) => /OBR\|1\|([^|]+)\|/.exec(m)?.[1]);
        assert.deepEqual(sent, ['RST-1', 'RST-2', 'RST-3'], 'once each, in order');
        const res = await fetch(`${second.gw.httpUrl}/lineage?controlId=RST-1`, {
          headers: { authorization: `Bearer ${second.gw.adminToken}` },
        });
        const [record] = (await res.json()) as Array<{ stages: Array<{ stage: string }> }>;
        const stages = record?.stages.map((s) => s.stage) ?? [];
        assert.equal(stages.filter((s) => s === 'oru-sent').length, 1);
        assert.ok(stages.includes('oru-attempt-failed'), 'the failed attempts before the restart are in it');
      } finally {
        await second?.stop();
        await first.stop();
        await mirth?.close();
        if (down.listening) down.close();
        if (second) await second.dispose();
        else await first.dispose();
      }
    });
  });
}
