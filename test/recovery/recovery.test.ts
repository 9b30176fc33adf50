import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { validateFhir } from '../../src/fhir/validate.js';
import { entryHash, type LineageEntry } from '../../src/lineage/chain.js';
import type { LineageRecord } from '../../src/lineage/store.js';
import { MllpClient } from '../../src/mllp/client.js';
import type { DeadLetter } from '../../src/recovery/dead-letters.js';
import { pruneRawMessages } from '../../src/retention/prune.js';
import { dbKinds, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';

type Json = Record<string, unknown>;
const OPS = `ops-${randomBytes(12).toString('hex')}`;
const VIEWER = `viewer-${randomBytes(12).toString('hex')}`;

/** An ORU^R01 without PID-3: it is accepted (AA) but cannot be scored for anyone. */
const noPatient = (id: string) => vitalsOru({ controlId: id }).replace(/PID\|1\|\|[^|]*\|/, 'PID|1|||');

for (const database of dbKinds()) {
  describe(`dead letters, replay, encryption at rest, pruning, AuditEvents (${database})`, () => {
    let t: TestGateway;
    const api = async (path: string, o: { token?: string; method?: string; body?: unknown } = {}) => {
      const res = await fetch(`${t.gw.httpUrl}${path}`, {
        method: o.method ?? 'GET',
        headers: {
          authorization: `Bearer ${o.token ?? t.gw.adminToken}`,
          ...(o.body ? { 'content-type': 'application/json' } : {}),
        },
        ...(o.body ? { body: JSON.stringify(o.body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as Json };
    };
    const send = async (...messages: string[]) => {
      const c = await MllpClient.connect({ host: '127.0.0.1', port: t.gw.mllpPort });
      const acks = [];
      for (const m of messages) acks.push(msaCode(await c.send(m)));
      await c.close();
      await t.gw.idle();
      return acks;
    };
    const record = async (controlId: string) =>
      ((await api(`/lineage?controlId=${controlId}`)).body as unknown as LineageRecord[])[0]!;
    const observations = async () =>
      ((await api('/fhir/Observation?code=vitals-deterioration-probability&_count=100')).body.entry ??
        []) as Json[];
    const waitReplay = async (replayId: string) => {
      for (let i = 0; i < 200; i++) {
        const p = (await api(`/replay/${replayId}`, { token: OPS })).body;
        if (p.pending === 0) return p;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error('replay did not finish');
    };

    before(async () => {
      t = await startTestGateway({
        database,
        config: {
          encryption: { keyId: 'k2026', key: randomBytes(32).toString('base64') },
          tokens: [
            { name: 'ops', token: OPS, scopes: ['replay', 'read'] },
            { name: 'viewer', sha256: createHash('sha256').update(VIEWER).digest('hex'), scopes: ['read'] },
          ],
          processing: { backoffMs: 10 },
        },
      });
    });
    after(async () => t?.dispose());

    it('stores raw bodies encrypted with their key id, and still scores them', async () => {
      const raw = vitalsOru({ controlId: 'RC-1', mrn: 'MRN-RC1' });
      assert.deepEqual(await send(raw), ['AA']);
      const row = (
        await t.gw.db.query<{ raw: Uint8Array; raw_key_id: string; sha256: string }>(
          `select raw, raw_key_id, sha256 from inbox where control_id = 'RC-1'`,
        )
      ).rows[0]!;
      assert.equal(Buffer.from(row.raw).subarray(0, 4).toString(), 'GWE1');
      assert.equal(row.raw_key_id, 'k2026');
      assert.equal(Buffer.from(row.raw).indexOf('MRN-RC1'), -1, 'no clear text at rest');
      assert.equal(row.sha256, createHash('sha256').update(raw).digest('hex'), 'hash of the bytes received');
      assert.equal((await record('RC-1')).status, 'processed');
    });

    it('a poisoned message goes to the dead-letter store with its reason; others go on', async () => {
      assert.deepEqual(await send(noPatient('RC-POISON'), vitalsOru({ controlId: 'RC-2', mrn: 'MRN-RC2' })), [
        'AA',
        'AA',
      ]);
      assert.equal((await record('RC-2')).status, 'processed');
      const { status, body } = await api('/dead-letters', { token: VIEWER });
      assert.equal(status, 200);
      const items = body.items as DeadLetter[];
      assert.equal(items.length, 1);
      assert.equal(items[0]!.controlId, 'RC-POISON');
      assert.equal(items[0]!.stage, 'map');
      assert.match(items[0]!.reason, /no patient identifier \(PID-3\)/);
      assert.equal(items[0]!.replayable, true);
      const stages = (await record('RC-POISON')).stages;
      assert.deepEqual(stages.at(-1), { ...stages.at(-1), stage: 'failed', during: 'map' });
    });

    it('replay needs the replay scope, keeps the message id, records `replayed`, writes no second Observation', async () => {
      const denied = await api('/replay', { method: 'POST', token: VIEWER, body: { messageIds: ['RC-1'] } });
      assert.equal(denied.status, 403);
      assert.equal((denied.body.error as Json).code, 'GW_FORBIDDEN');
      const before = await observations();
      const first = await record('RC-1');
      const { status, body } = await api('/replay', {
        method: 'POST',
        token: OPS,
        body: { messageIds: ['RC-1'] },
      });
      assert.equal(status, 202);
      assert.deepEqual(body.queued, [first.messageId]);
      const progress = await waitReplay(String(body.replayId));
      assert.deepEqual(progress.byStatus, { processed: 1 });
      const again = await record('RC-1');
      assert.equal(again.messageId, first.messageId);
      const names = again.stages.map((s) => s.stage);
      assert.deepEqual(names.slice(names.indexOf('replayed')), [
        'replayed',
        'parsed',
        'mapped',
        'mapped',
        'inferred',
        'written',
      ]);
      const replayed = again.stages.find((s) => s.stage === 'replayed')!;
      assert.equal(replayed.by, 'ops');
      assert.equal(replayed.previousStatus, 'processed');
      assert.equal(again.outputs.length, 2);
      assert.equal(again.outputs[0]!.resource, again.outputs[1]!.resource, 'the same Observation both times');
      assert.equal((await observations()).length, before.length);
    });

    it('replays by status, model and time range; a dead letter replayed and failing again stays open', async () => {
      const dry = await api('/replay', {
        method: 'POST',
        token: OPS,
        body: {
          status: ['processed'],
          model: 'vitals-deterioration',
          from: '2000-01-01T00:00:00Z',
          dryRun: true,
        },
      });
      assert.equal(dry.status, 200);
      assert.equal((dry.body.queued as string[]).length, 2);
      const none = await api('/replay', { method: 'POST', token: OPS, body: { to: '2000-01-01T00:00:00Z' } });
      assert.equal(none.body.matched, 0);
      const bad = await api('/replay', { method: 'POST', token: OPS, body: {} });
      assert.equal(bad.status, 400);
      const r = await api('/replay', { method: 'POST', token: OPS, body: { status: ['failed'] } });
      assert.equal((r.body.queued as string[]).length, 1);
      await waitReplay(String(r.body.replayId));
      const items = (await api('/dead-letters')).body.items as DeadLetter[];
      assert.equal(items.length, 1);
      assert.equal(items[0]!.attempts, 2);
    });

    it('prunes raw bodies after the retention period; hashes and lineage stay; replay answers GW_RAW_PRUNED', async () => {
      const rc1 = await record('RC-1');
      const later = new Date(Date.now() + 3 * 86_400_000);
      const pruned = await pruneRawMessages(t.gw.db, t.gw.lineage, 2, later);
      assert.equal(pruned, 3);
      const row = (
        await t.gw.db.query<{ raw: unknown; sha256: string; raw_pruned_at: unknown }>(
          `select raw, sha256, raw_pruned_at from inbox where message_id = $1`,
          [rc1.messageId],
        )
      ).rows[0]!;
      assert.equal(row.raw, null);
      assert.equal(row.sha256, rc1.source.sha256);
      assert.ok(row.raw_pruned_at);
      assert.equal((await record('RC-1')).stages.at(-1)!.stage, 'pruned');
      const replay = await api('/replay', { method: 'POST', token: OPS, body: { messageIds: ['RC-1'] } });
      assert.equal(replay.status, 409);
      assert.equal((replay.body.error as Json).code, 'GW_RAW_PRUNED');
      assert.equal((replay.body.skipped as Json[])[0]!.messageId, rc1.messageId);
      // A pruned message that is somehow queued again fails with a clear reason, not a crash.
      await t.gw.db.query(
        `update inbox set status = 'received', updated_at = now() - interval '1 hour' where message_id = $1`,
        [rc1.messageId],
      );
      await t.gw.sweep();
      await t.gw.idle();
      const dl = ((await api('/dead-letters')).body.items as DeadLetter[]).find(
        (d) => d.messageId === rc1.messageId,
      );
      assert.match(dl?.reason ?? '', /raw message was pruned/);
      assert.equal(dl?.replayable, false);
      assert.equal(((await api('/lineage/verify')).body as Json).ok, true);
    });

    it('exports a record as valid R4 AuditEvents that carry the chain, from raw bytes to resource and back', async () => {
      const rec = await record('RC-2');
      const { status, body } = await api(`/lineage/${rec.messageId}/audit-events`);
      assert.equal(status, 200);
      assert.equal(body.resourceType, 'Bundle');
      assert.equal(body.type, 'collection');
      const events = (body.entry as Array<{ resource: Json }>).map((e) => e.resource);
      assert.equal(events.length, rec.stages.length);
      for (const ev of events) {
        const errors = validateFhir(ev as never).filter(
          (i) => i.severity === 'error' || i.severity === 'fatal',
        );
        assert.deepEqual(errors, [], JSON.stringify(errors));
      }
      // Recompute every entry's hash from the AuditEvents alone.
      for (const ev of events) {
        const detail = Object.fromEntries(
          (
            (ev.entity as Json[])[0]!.detail as Array<{
              type: string;
              valueString?: string;
              valueBase64Binary?: string;
            }>
          ).map((d) => [d.type, d.valueString ?? Buffer.from(d.valueBase64Binary!, 'base64').toString()]),
        );
        const entry: LineageEntry = {
          seq: Number(detail['lineage-seq']),
          messageId: rec.messageId,
          stage: (ev.subtype as Json[])[0]!.code as string,
          at: ev.recorded as string,
          detail: JSON.parse(detail['lineage-detail']!),
          prevHash: detail['lineage-prev-hash']!,
          hash: detail['lineage-hash']!,
        };
        assert.equal(entryHash(entry.prevHash, entry), entry.hash);
        assert.equal(detail['raw-sha256'], rec.source.sha256);
      }
      // ...to the Observation written, and back from it to the message through its Provenance.
      const written = events.find((e) => (e.subtype as Json[])[0]!.code === 'written')!;
      const obsRef = ((written.entity as Json[])[1]!.what as Json).reference as string;
      assert.equal(obsRef, rec.outputs[0]!.resource);
      const prov = (await api(`/fhir/${rec.outputs[0]!.provenance}`)).body;
      const source = (prov.entity as Array<{ what: { identifier?: { value: string } } }>).find(
        (e) => e.what.identifier,
      );
      assert.equal(source?.what.identifier?.value, 'RC-2');
      assert.equal((await record(source!.what.identifier!.value)).messageId, rec.messageId);
    });

    it('shows the circuit state in /health/ready and /metrics', async () => {
      const ready = await api('/health/ready');
      assert.equal(((ready.body.checks as Json).fhir as Json).circuit, 'closed');
      const metrics = await (await fetch(`${t.gw.httpUrl}/metrics`)).text();
      assert.match(metrics, /gateway_fhir_circuit_state 0/);
      assert.match(metrics, /gateway_messages_replayed_total 2/);
    });
  });
}
