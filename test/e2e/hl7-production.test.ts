import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { MllpClient } from '../../src/mllp/client.js';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import { type FakeMirth, startFakeMirth } from '../helpers/fake-mirth.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';

/**
 * The gateway as an integration engineer would configure it: MLLP over mutual TLS, senders on an
 * allow-list, ACK after processing, results sent back to "Mirth" as ORU^R01.
 */
describe('production HL7 set-up: TLS, ACK after processing, ORU results back', () => {
  let t: TestGateway;
  let pki: TestPki;
  let mirth: FakeMirth;
  const connect = () =>
    MllpClient.connect({
      host: '127.0.0.1',
      port: t.gw.mllpPort,
      timeoutMs: 20_000,
      tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey },
    });

  before(async () => {
    pki = makeTestPki();
    mirth = await startFakeMirth(() => 'AA');
    t = await startTestGateway({
      database: 'pglite',
      config: {
        mllp: {
          port: 0,
          allowSenders: ['VITALS|*', 'LAB'],
          allowAddresses: ['127.0.0.1/32', '::1'],
          tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requireClientCert: true },
        },
        ack: { timing: 'processed', processedTimeoutMs: 15_000, processingIds: ['P'] },
        egress: {
          oru: {
            destinations: [
              {
                name: 'mirth',
                host: '127.0.0.1',
                port: mirth.port,
                receivingApplication: 'MIRTH',
                backoffMs: 50,
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
    rmSync(pki.dir, { recursive: true, force: true });
  });

  it('answers AA only once the message is processed, then sends the score back as ORU^R01', async () => {
    const c = await connect();
    const ack = await c.send(vitalsOru({ controlId: 'PROD-1', mrn: 'MRN-P1' }));
    await c.close();
    assert.equal(msaCode(ack), 'AA');
    const row = await t.gw.db.query<{ status: string }>(
      `select status from inbox where control_id = 'PROD-1'`,
    );
    assert.equal(row.rows[0]?.status, 'processed', 'processed before the ACK was sent');

    const until = Date.now() + 10_000;
    while (mirth.received.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
    const oru = mirth.received[0] ?? '';
    assert.match(oru, /^MSH\|\^~\\&\|ML-GATEWAY\|\|MIRTH\|\|\d{14}\.\d{3}\+0000\|\|ORU\^R01\^ORU_R01\|/);
    assert.match(oru, /\rPID\|1\|\|MRN-P1\^\^\^HOSP\^MR\r/);
    assert.match(oru, /\rOBX\|1\|NM\|vitals-deterioration-probability\^/);
    const res = await fetch(`${t.gw.httpUrl}/lineage?controlId=PROD-1`, {
      headers: { authorization: `Bearer ${t.gw.adminToken}` },
    });
    const [record] = (await res.json()) as Array<{ stages: Array<{ stage: string; destination?: string }> }>;
    const sent = record?.stages.filter((s) => s.stage === 'oru-sent') ?? [];
    assert.deepEqual(
      sent.map((s) => s.destination),
      ['mirth'],
    );
  });

  it('answers AE when processing fails (ACK timing: processed)', async () => {
    const c = await connect();
    // No PID: stored fine, but the pipeline fails it (no patient identifier).
    const msg = vitalsOru({ controlId: 'PROD-2' }).replace(/PID\|[^\r]*\r/, '');
    const ack = await c.send(msg);
    await c.close();
    assert.equal(msaCode(ack), 'AE');
    assert.match(ack, /GW_NOT_PROCESSED: message stored but its processing failed/);
  });

  it('refuses senders off the allow-list and test messages (MSH-11 T)', async () => {
    const c = await connect();
    const other = await c.send(vitalsOru({ controlId: 'PROD-3' }).replace('|VITALS|WARD5|', '|ADT|WARD5|'));
    assert.equal(msaCode(other), 'AR');
    const test = await c.send(vitalsOru({ controlId: 'PROD-4' }).replace('|P|2.5.1', '|T|2.5.1'));
    assert.equal(msaCode(test), 'AR');
    assert.match(test, /202\^Unsupported processing id/);
    await c.close();
  });

  it('takes a batch over POST /hl7 and answers one ACK per message', async () => {
    const body = `BHS|^~\\&|VITALS|WARD5\r${vitalsOru({ controlId: 'PROD-5', mrn: 'MRN-P5' })}${vitalsOru({ controlId: 'PROD-6', mrn: 'MRN-P6' })}BTS|2\r`;
    const res = await fetch(`${t.gw.httpUrl}/hl7`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.gw.adminToken}`, 'content-type': 'x-application/hl7-v2+er7' },
      body,
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.equal(text.match(/MSA\|AA\|PROD-[56]/g)?.length, 2);
  });
});
