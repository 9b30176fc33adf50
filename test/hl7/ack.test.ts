import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '../../src/errors/codes.js';
import { buildAck } from '../../src/hl7/ack.js';
import { splitMessages } from '../../src/hl7/batch.js';
import { readHeader } from '../../src/hl7/header.js';

const MSG =
  'MSH|^~\\&|LAB|HOSP|GW|ML|20240101120000||ORU^R01^ORU_R01|CTRL42|P|2.5.1|||AL|NE\rPID|1||123^^^HOSP^MR\r';

describe('MSH header', () => {
  it('reads the fields an ACK needs', () => {
    const h = readHeader(MSG);
    assert.equal(h.sendingApplication, 'LAB');
    assert.equal(h.controlId, 'CTRL42');
    assert.equal(h.messageType, 'ORU');
    assert.equal(h.triggerEvent, 'R01');
    assert.equal(h.version, '2.5.1');
    assert.equal(h.acceptAckType, 'AL');
  });

  it('honours delimiters declared in MSH-1/MSH-2 and ignores a BOM', () => {
    const h = readHeader('\uFEFFMSH#*@!%#APP#FAC#GW#ML#2024##ADT*A01#C9#T#2.3\rPID#1');
    assert.equal(h.fieldSep, '#');
    assert.equal(h.messageType, 'ADT');
    assert.equal(h.triggerEvent, 'A01');
    assert.equal(h.controlId, 'C9');
  });

  it('refuses a message with no MSH or unusable delimiters', () => {
    assert.throws(
      () => readHeader('PID|1||x'),
      (e: GatewayError) => e.code === 'GW_HL7_NO_MSH',
    );
    assert.throws(
      () => readHeader('MSHA^~\\&|x'),
      (e: GatewayError) => e.code === 'GW_HL7_BAD_DELIMITERS',
    );
    assert.throws(
      () => readHeader('MSH|^^\\&|x'),
      (e: GatewayError) => e.code === 'GW_HL7_BAD_DELIMITERS',
    );
  });
});

describe('ACK', () => {
  it('swaps sender and receiver, keeps the version, echoes MSH-10', () => {
    const ack = buildAck({ code: 'AA', header: readHeader(MSG), application: 'X', facility: 'Y' });
    const [msh, msa] = ack.split('\r');
    const f = msh!.split('|');
    assert.equal(f[2], 'GW');
    assert.equal(f[3], 'ML');
    assert.equal(f[4], 'LAB');
    assert.equal(f[5], 'HOSP');
    assert.equal(f[8], 'ACK^R01^ACK');
    assert.notEqual(f[9], 'CTRL42');
    assert.ok(f[9]!.length > 0);
    assert.equal(f[11], '2.5.1');
    assert.equal(msa, 'MSA|AA|CTRL42');
  });

  it('carries an ERR with a table 0357 code on AR/AE (ERR-3 from 2.5, ERR-1 before)', () => {
    const err = new GatewayError('GW_HL7_NO_CONTROL_ID');
    const v25 = buildAck({
      code: 'AR',
      header: readHeader(MSG),
      application: 'X',
      facility: 'Y',
      error: { hl7Code: err.hl7Code, text: err.message },
    });
    const errSeg = v25.split('\r').find((s) => s.startsWith('ERR'))!;
    assert.equal(errSeg.split('|')[3], '101^Required field missing^HL70357');
    const v23 = buildAck({
      code: 'AE',
      header: readHeader(MSG.replace('2.5.1', '2.3')),
      application: 'X',
      facility: 'Y',
      error: { hl7Code: '207', text: 'try | again' },
    });
    const seg23 = v23.split('\r').find((s) => s.startsWith('ERR'))!;
    assert.equal(seg23, 'ERR|^^^207&Application internal error&HL70357');
    assert.ok(v23.includes('MSA|AE|CTRL42|try   again'));
  });

  it('answers even when no header could be read', () => {
    const ack = buildAck({
      code: 'AR',
      header: undefined,
      application: 'GW',
      facility: '',
      error: { hl7Code: '100', text: 'no MSH' },
    });
    assert.match(ack, /^MSH\|\^~\\&\|GW\|/);
    assert.match(ack, /\rMSA\|AR\|\|no MSH\r/);
  });
});

describe('batch splitting', () => {
  it('splits FHS/BHS batches and concatenated messages, any line ending', () => {
    const batch = `FHS|^~\\&\r\nBHS|^~\\&\nMSH|^~\\&|A|B|||||ORU^R01|1|P|2.5\nPID|1\r\nMSH|^~\\&|A|B|||||ORU^R01|2|P|2.5\rBTS|2\rFTS|1\r`;
    const { messages, enveloped } = splitMessages(batch);
    assert.equal(enveloped, true);
    assert.equal(messages.length, 2);
    assert.equal(messages[0], 'MSH|^~\\&|A|B|||||ORU^R01|1|P|2.5\rPID|1\r');
  });
});
