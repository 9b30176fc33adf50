import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readHeader } from '../../../src/hl7/header.js';
import { parseHl7 } from '../../../src/hl7/parser.js';
import { buildAppAck } from '../../../src/writeback/hl7/app-ack.js';
import { type FakeMirth, startFakeMirth } from '../../helpers/fake-mirth.js';
import { dbKinds, sendMllp, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { msaCode, vitalsOru } from '../../helpers/messages.js';

/** A vitals ORU from VITALS|WARD5 in enhanced mode: MSH-15 and MSH-16 as given. */
const enhanced = (
  controlId: string,
  accept: string,
  app: string,
  o: { mrn?: string; noPid?: boolean } = {},
) => {
  const msg = vitalsOru({ controlId, mrn: o.mrn ?? `MRN-${controlId}` }).replace(
    '|P|2.5.1\r',
    `|P|2.5.1|||${accept}|${app}\r`,
  );
  return o.noPid ? msg.replace(/PID\|[^\r]*\r/, '') : msg;
};

it('builds the application ACK: swapped MSH, ACK^<trigger>^ACK, MSA-2, ERR 0357 on error, MSH-15 AL / MSH-16 NE', () => {
  const header = readHeader(enhanced('APP-1', 'AL', 'AL'));
  const now = new Date('2024-03-01T10:20:00Z');
  const ok = parseHl7(
    buildAppAck(
      header,
      { status: 'processed', reason: null },
      {
        application: 'GW',
        facility: '',
        controlId: 'C1',
        now,
      },
    ).text,
  );
  assert.equal(ok.get('MSH-3'), 'ML-GATEWAY');
  assert.equal(ok.get('MSH-5'), 'VITALS');
  assert.equal(ok.get('MSH-9'), 'ACK');
  assert.equal(ok.get('MSH-9.2'), 'R01');
  assert.equal(ok.get('MSH-10'), 'C1');
  assert.equal(ok.get('MSH-15'), 'AL');
  assert.equal(ok.get('MSH-16'), 'NE');
  assert.equal(ok.get('MSA-1'), 'AA');
  assert.equal(ok.get('MSA-2'), 'APP-1');
  const failed = buildAppAck(
    header,
    { status: 'failed', reason: 'no patient identifier (PID-3) in the message', failedAt: 'map' },
    { application: 'GW', facility: '', controlId: 'C2', now },
  );
  assert.equal(failed.code, 'AE');
  const m = parseHl7(failed.text);
  assert.equal(m.get('ERR-3.1'), '207');
  assert.equal(m.get('ERR-3.3'), 'HL70357');
  const gaveUp = buildAppAck(
    header,
    { status: 'failed', reason: 'gave up', failedAt: 'retries' },
    {
      application: 'GW',
      facility: '',
      controlId: 'C3',
      now,
    },
  );
  assert.equal(gaveUp.code, 'AR');
});

for (const database of dbKinds()) {
  describe(`enhanced mode: application ACKs after processing (${database})`, () => {
    let t: TestGateway;
    let mirth: FakeMirth;
    before(async () => {
      mirth = await startFakeMirth((msg) => (msg.includes('\rMSA|') ? 'CA' : 'AA'));
      t = await startTestGateway({
        database,
        config: {
          ack: {
            applicationAck: {
              destinations: [
                {
                  name: 'vitals-acks',
                  host: '127.0.0.1',
                  port: mirth.port,
                  senders: ['VITALS'],
                  backoffMs: 20,
                },
              ],
            },
          },
        },
      });
    });
    after(async () => {
      await t?.dispose();
      await mirth?.close();
    });

    const appAcksFor = (controlId: string) =>
      mirth.received.filter((m) =>
        m
          .split('\r')
          .some(
            (s) =>
              s === `MSA|AA|${controlId}` ||
              s.startsWith(`MSA|AE|${controlId}|`) ||
              s.startsWith(`MSA|AR|${controlId}|`),
          ),
      );
    const outboxRows = async (controlId: string) =>
      (
        await t.gw.db.query<{ n: number }>(
          `select count(*)::int as n from egress_outbox o join inbox i using (message_id)
            where o.kind = 'app-ack' and i.control_id = $1`,
          [controlId],
        )
      ).rows[0]?.n ?? 0;
    const waitFor = async (what: () => boolean | Promise<boolean>, ms = 10_000) => {
      for (const until = Date.now() + ms; !(await what()) && Date.now() < until; )
        await new Promise((r) => setTimeout(r, 25));
    };

    it('MSH-16 AL: CA on the socket, then AA at the destination with MSA-2 = the control id', async () => {
      const ack = await sendMllp(t.gw.mllpPort, enhanced('ENH-AL-1', 'AL', 'AL'));
      assert.equal(msaCode(ack), 'CA');
      await waitFor(() => appAcksFor('ENH-AL-1').length > 0);
      const [appAck] = appAcksFor('ENH-AL-1');
      assert.ok(appAck, 'the application ACK arrived');
      const m = parseHl7(appAck);
      assert.equal(m.get('MSH-9'), 'ACK');
      assert.equal(m.get('MSH-9.2'), 'R01');
      assert.equal(m.get('MSH-5'), 'VITALS');
      assert.equal(m.get('MSA-1'), 'AA');
      assert.equal(m.get('MSA-2'), 'ENH-AL-1');
      assert.notEqual(m.get('MSH-10'), 'ENH-AL-1', 'a new MSH-10');
      // The destination's answer is recorded once the outbox row is settled.
      await waitFor(async () => {
        const r = await t.gw.db.query<{ status: string }>(
          `select o.status from egress_outbox o join inbox i using (message_id) where i.control_id = 'ENH-AL-1'`,
        );
        return r.rows[0]?.status === 'sent';
      });
      const res = await fetch(`${t.gw.httpUrl}/lineage?controlId=ENH-AL-1`, {
        headers: { authorization: `Bearer ${t.gw.adminToken}` },
      });
      const [rec] = (await res.json()) as Array<{
        stages: Array<{ stage: string; msa?: string; ack?: string }>;
      }>;
      const sent = rec?.stages.filter((s) => s.stage === 'app-ack-sent') ?? [];
      assert.equal(sent.length, 1);
      assert.equal(sent[0]?.msa, 'AA');
      assert.equal(sent[0]?.ack, 'CA', 'the destination answered with a commit ACK');
      assert.equal(appAcksFor('ENH-AL-1').length, 1, 'sent once');
    });

    it('MSH-16 ER: nothing on success; AE with ERR when the message is dead-lettered', async () => {
      assert.equal(msaCode(await sendMllp(t.gw.mllpPort, enhanced('ENH-ER-OK', 'AL', 'ER'))), 'CA');
      assert.equal(
        msaCode(await sendMllp(t.gw.mllpPort, enhanced('ENH-ER-BAD', 'AL', 'ER', { noPid: true }))),
        'CA',
      );
      await t.gw.idle();
      // The outbox row is written with the outcome: once processed, no row means no ACK, ever.
      assert.equal(await outboxRows('ENH-ER-OK'), 0);
      assert.equal(await outboxRows('ENH-ER-BAD'), 1);
      await waitFor(() => appAcksFor('ENH-ER-BAD').length > 0);
      const m = parseHl7(appAcksFor('ENH-ER-BAD')[0] ?? '');
      assert.equal(m.get('MSA-1'), 'AE');
      assert.equal(m.get('ERR-3.1'), '207');
      assert.match(m.get('MSA-3') ?? '', /GW_PROCESSING_FAILED/);
      assert.equal(appAcksFor('ENH-ER-OK').length, 0);
    });

    it('MSH-16 NE: none; a sender no destination matches: app-ack-skipped in the lineage', async () => {
      assert.equal(msaCode(await sendMllp(t.gw.mllpPort, enhanced('ENH-NE', 'AL', 'NE'))), 'CA');
      const lab = enhanced('ENH-LAB', 'AL', 'AL').replace('|VITALS|WARD5|', '|LAB|CORE|');
      assert.equal(msaCode(await sendMllp(t.gw.mllpPort, lab)), 'CA');
      await t.gw.idle();
      assert.equal(await outboxRows('ENH-NE'), 0);
      assert.equal(await outboxRows('ENH-LAB'), 0);
      const res = await fetch(`${t.gw.httpUrl}/lineage?controlId=ENH-LAB`, {
        headers: { authorization: `Bearer ${t.gw.adminToken}` },
      });
      const [record] = (await res.json()) as Array<{ stages: Array<{ stage: string; reason?: string }> }>;
      const skipped = record?.stages.find((s) => s.stage === 'app-ack-skipped');
      assert.match(skipped?.reason ?? '', /no ack.applicationAck destination matches/);
    });

    it('original mode (no MSH-15/16): AA on the socket and no application ACK', async () => {
      assert.equal(msaCode(await sendMllp(t.gw.mllpPort, vitalsOru({ controlId: 'ORIG-1' }))), 'AA');
      await t.gw.idle();
      assert.equal(await outboxRows('ORIG-1'), 0);
    });
  });
}

describe('enhanced mode: AR when the gateway gave up on a message after retries', () => {
  let t: TestGateway;
  let mirth: FakeMirth;
  before(async () => {
    mirth = await startFakeMirth(() => 'CA');
    t = await startTestGateway({
      database: 'pglite',
      config: {
        // A FHIR server that is never there: the write fails (transiently) until the last attempt.
        fhir: {
          baseUrl: 'http://127.0.0.1:1/fhir',
          timeoutMs: 500,
          circuitBreaker: { failureThreshold: 100 },
        },
        processing: { maxAttempts: 1 },
        ack: {
          applicationAck: { destinations: [{ name: 'acks', host: '127.0.0.1', port: mirth.port }] },
        },
      },
    });
  });
  after(async () => {
    await t?.dispose();
    await mirth?.close();
  });

  it('MSH-16 AL: CA, then AR with ERR 207 once the message is dead-lettered after its retries', async () => {
    assert.equal(msaCode(await sendMllp(t.gw.mllpPort, enhanced('ENH-AR-1', 'AL', 'AL'))), 'CA');
    await t.gw.idle();
    for (const until = Date.now() + 10_000; mirth.received.length === 0 && Date.now() < until; )
      await new Promise((r) => setTimeout(r, 25));
    const m = parseHl7(mirth.received[0] ?? '');
    assert.equal(m.get('MSA-1'), 'AR');
    assert.equal(m.get('MSA-2'), 'ENH-AR-1');
    assert.equal(m.get('ERR-3.1'), '207');
  });
});
