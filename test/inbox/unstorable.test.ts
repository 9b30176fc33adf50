import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { GatewayError } from '../../src/errors/codes.js';
import { Inbox } from '../../src/inbox/inbox.js';
import { nulLocation } from '../../src/inbox/storable.js';
import { createLineageStore } from '../../src/lineage/store.js';
import { MllpClient } from '../../src/mllp/client.js';
import { testDatabases } from '../helpers/db.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';

const seg = (ack: string, name: string) => ack.split('\r').find((s) => s.startsWith(name)) ?? '';

/** Headers no database row can hold, each with the field its AR must name. */
function badMessages(n: number): Array<{ text: string; field: string }> {
  const base = (id: string) => vitalsOru({ controlId: id, mrn: `MRN-BAD-${id.length}` });
  const kinds = [
    { field: 'MSH-10', make: (i: number) => base(`L${i}-${'x'.repeat(3000)}`) },
    { field: 'MSH-10', make: (i: number) => base(`XL${i}-${'y'.repeat(9000)}`) },
    { field: 'MSH-10', make: (i: number) => base(`N${i}\u0000Z`) },
    { field: 'MSH-4', make: (i: number) => base(`F${i}`).replace('|WARD5|', '|WA\u0000RD5|') },
    { field: 'MSH-12', make: (i: number) => base(`V${i}`).replace('|P|2.5.1', '|P|2.5\u0000.1') },
    { field: 'OBX-5', make: (i: number) => base(`O${i}`).replace('||128|', '||12\u00008|') },
    { field: 'MSH-3', make: (i: number) => base(`A${i}`).replace('|VITALS|', `|${'V'.repeat(800)}|`) },
  ];
  return Array.from({ length: n }, (_, i) => {
    const k = kinds[i % kinds.length]!;
    return { text: k.make(i), field: k.field };
  });
}

describe('a message that can never be stored is refused alone (issue 12, item 1)', () => {
  it('finds the field of a NUL byte', () => {
    assert.deepEqual(nulLocation('MSH|^~\\&|A|B\u0000|C', '|'), { segment: 'MSH', field: 4 });
    assert.deepEqual(nulLocation('MSH|^~\\&|A\rOBX|1|NM|x||1\u00002', '|'), { segment: 'OBX', field: 5 });
    assert.equal(nulLocation('MSH|^~\\&|A', '|'), undefined);
  });

  for (const kind of testDatabases()) {
    it(`${kind.name}: the inbox stores a group commit's good rows when the database refuses one`, async () => {
      const { db, dispose } = await kind.open();
      const inbox = new Inbox(db, createLineageStore(db), {
        maxBatch: 64,
        maxDelayMs: 0,
        maxPending: 1000,
        onCommitted() {},
        backlog: () => 0,
      });
      try {
        const item = (controlId: string) => ({
          channel: 't',
          sender: 'APP|FAC',
          controlId,
          messageType: 'ORU^R01',
          raw: Buffer.from(`MSH|^~\\&|APP|FAC|||||ORU^R01|${controlId}|P|2.5`),
        });
        // The first commit takes the first message alone; the rest share the next one.
        const all = [
          inbox.accept(item('G-0')),
          inbox.accept(item('G-1')),
          inbox.accept(item('BAD-\u0000')),
          inbox.accept(item(`BIG-${randomBytes(6000).toString('base64')}`)), // incompressible
          inbox.accept(item('G-2')),
        ];
        const settled = await Promise.allSettled(all);
        const ok = settled.filter((s) => s.status === 'fulfilled').length;
        assert.equal(ok, 3, 'every good row is stored');
        for (const i of [2, 3]) {
          const s = settled[i]!;
          assert.equal(s.status, 'rejected');
          const err = (s as PromiseRejectedResult).reason as GatewayError;
          assert.ok(err instanceof GatewayError);
          assert.equal(err.code, 'GW_STORE_REFUSED');
          assert.equal(err.ack, 'AR', 'a row the database refuses is not worth retrying');
        }
        const n = await db.query<{ n: number }>(`select count(*)::int as n from inbox`);
        assert.equal(n.rows[0]!.n, 3);
      } finally {
        await inbox.close();
        await dispose();
      }
    });
  }

  describe('over MLLP, many connections, real PostgreSQL', { skip: !process.env.DATABASE_URL }, () => {
    let t: TestGateway;
    before(async () => {
      t = await startTestGateway({ database: 'postgres' });
    });
    after(async () => {
      await t?.dispose();
    });

    it('valid messages on 8 connections never get AE; each bad header gets AR naming its field', async () => {
      const port = t.gw.mllpPort;
      const bad = badMessages(42);
      const senders = Array.from({ length: 8 }, (_, c) => c);
      const validAcks: string[] = [];
      const badAcks: Array<{ ack: string; field: string }> = [];
      const run = async (c: number) => {
        const client = await MllpClient.connect({ host: '127.0.0.1', port });
        try {
          for (let i = 0; i < 30; i++)
            validAcks.push(await client.send(vitalsOru({ controlId: `OK-${c}-${i}`, mrn: `MRN-${c}` })));
        } finally {
          await client.close();
        }
      };
      const runBad = async () => {
        const client = await MllpClient.connect({ host: '127.0.0.1', port });
        try {
          for (const b of bad) badAcks.push({ ack: await client.send(b.text), field: b.field });
        } finally {
          await client.close();
        }
      };
      await Promise.all([...senders.map(run), runBad(), runBad()]);
      assert.equal(validAcks.length, 240);
      const notAa = validAcks.filter((a) => msaCode(a) !== 'AA');
      assert.equal(notAa.length, 0, `valid messages not AA: ${notAa.map((a) => seg(a, 'MSA')).join('; ')}`);
      for (const { ack, field } of badAcks) {
        assert.equal(msaCode(ack), 'AR', `${field}: ${seg(ack, 'ERR')}`);
        const err = seg(ack, 'ERR').split('|');
        assert.equal(err[2], `${field.split('-')[0]}^1^${field.split('-')[1]}`, 'ERR-2 names the field');
        assert.match(err[8] ?? '', new RegExp(`${field}\\b`), 'ERR-8 names the field');
      }
      // None of the refused messages was stored (so none is processed, retried or dead-lettered).
      const stored = await fetch(`${t.gw.httpUrl}/messages?limit=500`, {
        headers: { authorization: `Bearer ${t.gw.adminToken}` },
      });
      const body = (await stored.json()) as { messages?: Array<{ controlId: string }> };
      const ids = (body.messages ?? []).map((m) => m.controlId);
      assert.equal(ids.filter((id) => !id.startsWith('OK-')).length, 0);
    });
  });
});
