import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Database } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open.js';
import { Inbox } from '../../src/inbox/inbox.js';
import { type AckPolicy, createHl7Intake, type Hl7Intake } from '../../src/intake/hl7-intake.js';
import { createLineageStore } from '../../src/lineage/store.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';

const seg = (ack: string, name: string) => ack.split('\r').find((s) => s.startsWith(name)) ?? '';

describe('intake: ACK semantics, batches, character sets', () => {
  let db: Database;
  let inbox: Inbox;
  const make = (ack: Partial<AckPolicy> = {}, allowedSenders: string[] = []): Hl7Intake =>
    createHl7Intake({
      inbox,
      application: 'ML-GATEWAY',
      facility: '',
      logger: createLogger('silent'),
      metrics: createMetrics(),
      ack,
      allowedSenders,
    });

  before(async () => {
    db = await openDatabase({ dataDir: '', pgliteDir: 'memory://' });
    inbox = new Inbox(db, createLineageStore(db), {
      maxBatch: 64,
      maxDelayMs: 0,
      maxPending: 1000,
      onCommitted() {},
      backlog: () => 0,
    });
  });
  after(async () => {
    await inbox.close();
    await db.close();
  });

  it('original mode: AA; enhanced mode (MSH-15/16 filled): CA commit ACK after the store', async () => {
    const intake = make();
    const plain = await intake.receive(Buffer.from(vitalsOru({ controlId: 'ACK-1' })), 'test');
    assert.equal(plain.code, 'AA');
    const enhancedMsg = vitalsOru({ controlId: 'ACK-2' }).replace('|P|2.5.1', '|P|2.5.1|||AL|NE');
    const enhanced = await intake.receive(Buffer.from(enhancedMsg), 'test');
    assert.equal(enhanced.code, 'CA');
    assert.equal(msaCode(enhanced.ack), 'CA');
    assert.equal(seg(enhanced.ack, 'MSA').split('|')[2], 'ACK-2');
    // Forced enhanced mode answers CA even without MSH-15; forced original mode AA even with it.
    assert.equal(
      (await make({ mode: 'enhanced' }).receive(Buffer.from(vitalsOru({ controlId: 'ACK-3' })), 't')).code,
      'CA',
    );
    assert.equal(
      (await make({ mode: 'original' }).receive(Buffer.from(enhancedMsg.replace('ACK-2', 'ACK-4')), 't'))
        .code,
      'AA',
    );
  });

  it('enhanced mode rejects with CR and ERR (table 0357)', async () => {
    const bad = 'MSH|^~\\&|LAB|H|GW|H|20240301||ORU^R01||P|2.5.1|||AL|NE\rPID|1\r';
    const r = await make().receive(Buffer.from(bad), 'test');
    assert.equal(r.code, 'CR');
    assert.match(seg(r.ack, 'ERR'), /\|101\^Required field missing\^HL70357\|E\|/);
    assert.match(seg(r.ack, 'MSA'), /^MSA\|CR\|\|GW_HL7_NO_CONTROL_ID: MSH-10/);
  });

  it('MSH-11 processing id not accepted: AR with ERR 202 (and the id named, not the message)', async () => {
    const intake = make({ processingIds: ['P'] });
    const t = vitalsOru({ controlId: 'PID-T' }).replace('|P|2.5.1', '|T|2.5.1');
    const r = await intake.receive(Buffer.from(t), 'test');
    assert.equal(r.code, 'AR');
    assert.match(seg(r.ack, 'ERR'), /\|202\^Unsupported processing id\^HL70357\|/);
    assert.match(seg(r.ack, 'MSA'), /processing id T is not accepted here \(accepted: P\)/);
    assert.equal(seg(r.ack, 'MSH').split('|')[10], 'T', 'the ACK keeps the sender processing id');
    assert.equal((await intake.receive(Buffer.from(vitalsOru({ controlId: 'PID-P' })), 'test')).code, 'AA');
  });

  it('sender allow-list on MSH-3/MSH-4 with wildcards', async () => {
    const intake = make({}, ['VITALS|WARD*', 'LAB']);
    assert.equal((await intake.receive(Buffer.from(vitalsOru({ controlId: 'AL-1' })), 't')).code, 'AA');
    const other = vitalsOru({ controlId: 'AL-2' }).replace('|VITALS|WARD5|', '|EVIL|WARD5|');
    const r = await intake.receive(Buffer.from(other), 't');
    assert.equal(r.code, 'AR');
    assert.match(r.ack, /GW_SENDER_NOT_ALLOWED: sender EVIL\|WARD5|GW_SENDER_NOT_ALLOWED: sender EVIL WARD5/);
    const lab = vitalsOru({ controlId: 'AL-3' }).replace('|VITALS|WARD5|', '|LAB|ANYWHERE|');
    assert.equal((await intake.receive(Buffer.from(lab), 't')).code, 'AA');
  });

  it('a batch (FHS/BHS…BTS/FTS) gets one ACK per message, or a batch ACK when configured', async () => {
    const msgs = [
      vitalsOru({ controlId: 'B-1' }),
      'MSH|^~\\&|LAB|H|GW|H|20240301||ORU^R01||P|2.5.1\rPID|1\r',
      vitalsOru({ controlId: 'B-3' }),
    ];
    const batch = `FHS|^~\\&|LAB|H|GW|H|20240301||||F-77\rBHS|^~\\&|LAB|H|GW|H|20240301||||BH-9\r${msgs.join('')}BTS|3\rFTS|1\r`;
    const per = await make().receive(Buffer.from(batch), 'test');
    assert.equal(per.acks.length, 3);
    assert.deepEqual(per.acks.map(msaCode), ['AA', 'AR', 'AA']);
    assert.equal(per.code, 'AR', 'the worst code');
    assert.equal(per.ack, per.acks.join(''));

    const b = await make({ batch: 'batch' }).receive(Buffer.from(batch.replace(/B-(\d)/g, 'BB-$1')), 'test');
    const lines = b.ack.split('\r').filter(Boolean);
    assert.match(lines[0]!, /^FHS\|\^~\\&\|GW\|H\|LAB\|H\|\d{14}/);
    assert.equal(lines[0]!.split('|')[11], 'F-77', 'FHS-12 references the received FHS-11');
    assert.equal(lines[1]!.split('|')[11], 'BH-9');
    assert.equal(lines.filter((l) => l.startsWith('MSA')).length, 3);
    assert.deepEqual(lines.slice(-2), ['BTS|3', 'FTS|1']);
  });

  it('concatenated messages without an envelope are a batch too', async () => {
    const r = await make().receive(
      Buffer.from(vitalsOru({ controlId: 'CC-1' }) + vitalsOru({ controlId: 'CC-2', sep: '\n' })),
      't',
    );
    assert.deepEqual(r.acks.map(msaCode), ['AA', 'AA']);
  });

  it('stores the bytes as sent and decodes them by MSH-18 (8859/1)', async () => {
    const text = vitalsOru({ controlId: 'L1-1' })
      .replace('|P|2.5.1', '|P|2.5.1||||||8859/1')
      .replace('Testpatient^Alex', 'Müller^Renée');
    const raw = Buffer.from(text, 'latin1');
    const r = await make().receive(raw, 't');
    assert.equal(r.code, 'AA');
    const row = (
      await db.query<{ raw: Uint8Array }>('select raw from inbox where message_id = $1', [r.messageId])
    ).rows[0]!;
    assert.deepEqual(Buffer.from(row.raw), raw);
  });
});
