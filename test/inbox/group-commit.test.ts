import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Inbox } from '../../src/inbox/inbox.js';
import { createLineageStore, type LineageStore } from '../../src/lineage/store.js';
import { type TestDatabase, testDatabases } from '../helpers/db.js';

const pg = testDatabases().find((k) => k.name === 'postgres');

/** The one-round-trip group commit (PostgreSQL only): same outcomes as the transaction path. */
describe('inbox group commit in one statement (PostgreSQL)', { skip: !pg && 'needs DATABASE_URL' }, () => {
  let t: TestDatabase;
  let lineage: LineageStore;
  let inbox: Inbox;
  const batches: number[] = [];
  const item = (controlId: string, sender = 'LAB|H') => ({
    channel: 'test',
    sender,
    controlId,
    messageType: 'ORU^R01',
    raw: Buffer.from(
      `MSH|^~\\&|LAB|H|GW|H|20240301||ORU^R01|${controlId}|P|2.5.1\r\u00e9\u0000\xff`,
      'latin1',
    ),
  });

  before(async () => {
    t = await pg!.open();
    lineage = createLineageStore(t.db);
    inbox = new Inbox(t.db, lineage, {
      maxBatch: 256,
      maxDelayMs: 0,
      maxPending: 100_000,
      onCommitted() {},
      backlog: () => 0,
      onBatch: (n) => batches.push(n),
    });
  });
  after(async () => {
    await inbox.close();
    await t.dispose();
  });

  it('stores a batch with its bytes exact and chains the received entries', async () => {
    const got = await Promise.all(Array.from({ length: 50 }, (_, i) => inbox.accept(item(`F-${i}`))));
    assert.ok(got.every((a) => !a.duplicate));
    const rows = await t.db.query<{ raw: Uint8Array; control_id: string }>(
      `select raw, control_id from inbox where control_id = 'F-7'`,
    );
    assert.deepEqual(Buffer.from(rows.rows[0]!.raw), item('F-7').raw);
    const entries = await lineage.entriesFor(got[7]!.messageId);
    assert.equal(entries[0]?.stage, 'received');
    assert.equal(entries[0]?.detail.controlId, 'F-7');
    assert.deepEqual(await lineage.verify().then((v) => v.ok), true);
  });

  it('falls back for duplicates, and re-chains when another writer moved the tail', async () => {
    const first = await inbox.accept(item('D-1'));
    // Another writer appends to the chain (as the pipeline does between intake commits).
    await lineage.appendNow([
      { messageId: first.messageId, stage: 'parsed', at: new Date().toISOString(), detail: {} },
    ]);
    const [again, fresh] = await Promise.all([inbox.accept(item('D-1')), inbox.accept(item('D-2'))]);
    assert.equal(again.duplicate, true);
    assert.equal(again.messageId, first.messageId);
    assert.equal(fresh.duplicate, false);
    const after2 = await inbox.accept(item('D-3'));
    assert.equal(after2.duplicate, false);
    const v = await lineage.verify();
    assert.equal(v.ok, true, JSON.stringify(v));
  });
});
