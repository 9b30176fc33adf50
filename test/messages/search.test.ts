import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { LineageRecord } from '../../src/lineage/store.js';
import type { MessagePage, MessageRow } from '../../src/messages/search.js';
import { MllpClient } from '../../src/mllp/client.js';
import { createLogger } from '../../src/observability/logger.js';
import { runCli } from '../helpers/cli.js';
import { dbKinds, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { adtA01, msaCode, vitalsOru } from '../helpers/messages.js';

type Json = Record<string, unknown>;
const READER = `reader-${randomBytes(12).toString('hex')}`;
const PHI = `phi-${randomBytes(12).toString('hex')}`;
const MRN_A = `MRNA${randomBytes(3).toString('hex')}`;
const MRN_B = `MRNB${randomBytes(3).toString('hex')}`;
const noPatient = (id: string) => vitalsOru({ controlId: id }).replace(/PID\|1\|\|[^|]*\|/, 'PID|1|||');

for (const database of dbKinds()) {
  describe(`GET /messages: search, pagination, raw text with phi:read (${database})`, () => {
    let t: TestGateway;
    const logged: string[] = [];
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
    const search = async (query: string, token?: string) =>
      (await api(`/messages?${query}`, token ? { token } : {})).body as unknown as MessagePage;

    before(async () => {
      t = await startTestGateway({
        database,
        logger: createLogger(
          'debug',
          new Writable({
            write(chunk, _e, cb) {
              logged.push(String(chunk));
              cb();
            },
          }),
        ),
        config: {
          tokens: [
            { name: 'reader', token: READER, scopes: ['read'] },
            { name: 'auditor', token: PHI, scopes: ['read', 'phi:read'] },
          ],
        },
      });
      const c = await MllpClient.connect({ host: '127.0.0.1', port: t.gw.mllpPort });
      // One at a time, so each is received after the one before (newest first is then known).
      for (const m of [
        vitalsOru({ controlId: 'S-1', mrn: MRN_A }),
        vitalsOru({ controlId: 'S-2', mrn: MRN_B }),
        adtA01('S-3'),
        noPatient('S-4'),
        vitalsOru({ controlId: 'S-5', mrn: MRN_A, hr: 70 }),
      ]) {
        assert.equal(msaCode(await c.send(m)), 'AA');
        await new Promise((r) => setTimeout(r, 5));
      }
      await c.close();
      await t.gw.idle();
    });
    after(() => t.dispose());

    it('lists every message newest first, each with its lineage summary', async () => {
      const page = await search('limit=50');
      assert.deepEqual(
        page.items.map((m) => m.controlId),
        ['S-5', 'S-4', 'S-3', 'S-2', 'S-1'],
      );
      assert.equal(page.nextCursor, null);
      const s1 = page.items.find((m) => m.controlId === 'S-1')!;
      assert.equal(s1.status, 'processed');
      assert.equal(s1.messageType, 'ORU^R01');
      assert.equal(s1.sender, 'VITALS|WARD5');
      assert.deepEqual(s1.models, ['aki-risk', 'vitals-deterioration'], 'every model its lineage names');
      assert.deepEqual(s1.lineage.stages, ['received', 'parsed', 'mapped', 'mapped', 'inferred', 'written']);
      assert.equal(s1.lineage.last?.stage, 'written');
      assert.match(s1.lineage.outputs[0] ?? '', /^Observation\//);
      assert.equal('raw' in s1, false, 'no raw text without asking (and phi:read)');
      const s4 = page.items.find((m) => m.controlId === 'S-4')!;
      assert.equal(s4.status, 'failed');
      assert.match(s4.lineage.reason ?? '', /no patient identifier/);
      assert.equal(s4.lineage.deadLetter?.resolvedAt, null);
      assert.equal(page.items.find((m) => m.controlId === 'S-3')!.status, 'ignored');
    });

    it('filters by control id, sender, type, status, model and time', async () => {
      const ids = async (q: string) => (await search(q)).items.map((m) => m.controlId);
      assert.deepEqual(await ids('controlId=S-2'), ['S-2']);
      assert.deepEqual(await ids('type=ORU%5ER01'), ['S-5', 'S-4', 'S-2', 'S-1']);
      assert.deepEqual(await ids('type=ADT'), ['S-3']);
      assert.deepEqual(await ids('sender=ADT%7CHOSP'), ['S-3']);
      assert.deepEqual(await ids('sender=VITALS'), ['S-5', 'S-4', 'S-2', 'S-1']);
      assert.deepEqual(await ids('status=failed,ignored'), ['S-4', 'S-3']);
      assert.deepEqual(await ids('status=processed&model=vitals-deterioration'), ['S-5', 'S-2', 'S-1']);
      assert.deepEqual(await ids('model=no-such-model'), []);
      const all = (await search('')).items;
      const s2 = all.find((m) => m.controlId === 'S-2')!.receivedAt;
      const s5 = all.find((m) => m.controlId === 'S-5')!.receivedAt;
      assert.deepEqual(await ids(`from=${encodeURIComponent(s2)}&to=${encodeURIComponent(s5)}`), [
        'S-4',
        'S-3',
        'S-2',
      ]);
    });

    it('finds a patient by identifier (GET or POST) without keeping or logging the identifier', async () => {
      assert.deepEqual(
        (await search(`patient=${MRN_A}`)).items.map((m) => m.controlId),
        ['S-5', 'S-1'],
      );
      const posted = await api('/messages/search', {
        method: 'POST',
        token: READER,
        body: { patient: MRN_B },
      });
      assert.equal(posted.status, 200);
      assert.deepEqual(
        (posted.body as unknown as MessagePage).items.map((m) => m.controlId),
        ['S-2'],
      );
      assert.deepEqual((await search('patient=NOBODY')).items, []);
      const stored = await t.gw.db.query<{ n: number }>(
        `select count(*)::int as n from inbox where array_to_string(patient_digests, ',') like $1`,
        [`%${MRN_A}%`],
      );
      assert.equal(stored.rows[0]?.n, 0, 'the digest, never the identifier');
      const bad = await api(`/messages?patient=${MRN_A}&limit=0`);
      assert.equal(bad.status, 400);
      assert.doesNotMatch(JSON.stringify(bad.body), new RegExp(MRN_A));
      assert.doesNotMatch(logged.join(''), new RegExp(`${MRN_A}|${MRN_B}`));
    });

    it('pages with an opaque cursor: every message once, in order', async () => {
      const seen: string[] = [];
      let cursor: string | null = '';
      let pages = 0;
      while (cursor !== null) {
        const page: MessagePage = await search(`limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        seen.push(...page.items.map((m) => m.controlId));
        cursor = page.nextCursor;
        pages++;
      }
      assert.deepEqual(seen, ['S-5', 'S-4', 'S-3', 'S-2', 'S-1']);
      assert.equal(pages, 3);
      assert.equal((await api('/messages?cursor=bm90LWEtY3Vyc29y')).status, 400);
      assert.equal((await api('/messages?status=lost')).status, 400);
      assert.equal((await api('/messages?colour=red')).status, 400);
    });

    it('shows raw text only with phi:read, and records who saw which message, when', async () => {
      const denied = await api('/messages?controlId=S-1&raw=true', { token: READER });
      assert.equal(denied.status, 403);
      assert.match(JSON.stringify(denied.body), /phi:read/);
      const before = Date.now();
      const page = (await api('/messages?controlId=S-1&raw=true', { token: PHI })).body as unknown as {
        items: Array<MessageRow & { raw: string }>;
      };
      const m = page.items[0]!;
      assert.match(m.raw, /^MSH\|\^~\\&\|VITALS\|WARD5\|/);
      assert.match(m.raw, new RegExp(`PID\\|1\\|\\|${MRN_A}`));

      const one = (await api(`/messages/${m.messageId}?raw=true`, { token: PHI })).body as unknown as {
        raw: string;
      };
      assert.equal(one.raw, m.raw);
      assert.equal((await api(`/messages/${m.messageId}?raw=true`, { token: READER })).status, 403);

      const views = (await api(`/messages/${m.messageId}/views`, { token: READER })).body.views as Json[];
      assert.deepEqual(
        views.map((v) => [v.principal, v.action, v.messageId]),
        [
          ['auditor', 'search', m.messageId],
          ['auditor', 'view', m.messageId],
        ],
      );
      assert.ok(Date.parse(String(views[0]!.at)) >= before - 1000);
      const rec = (await api(`/lineage/${m.messageId}`)).body as unknown as LineageRecord;
      assert.deepEqual(
        rec.stages.filter((s) => s.stage === 'viewed').map((s) => s.by),
        ['auditor', 'auditor'],
      );
      const audit = (await api(`/lineage/${m.messageId}/audit-events`)).body as {
        entry: Array<{ resource: { action: string; subtype: Array<{ code: string }> } }>;
      };
      assert.deepEqual(
        audit.entry.filter((e) => e.resource.subtype[0]!.code === 'viewed').map((e) => e.resource.action),
        ['R', 'R'],
      );
      assert.equal((await search(`controlId=S-1`)).items[0]!.lineage.views, 2);
      assert.equal((await api('/lineage/verify')).body.ok, true);
      await assert.rejects(
        t.gw.db.query('delete from phi_access'),
        /append-only/,
        'the record of views cannot be removed',
      );
      // Views are not processing: the summary's stages stay as they were.
      assert.equal((await search('controlId=S-1')).items[0]!.lineage.last?.stage, 'written');
    });

    // Once (the CLI is the same whichever database the gateway has).
    it('npx gateway messages search prints the same rows', { skip: database !== dbKinds()[0] }, async () => {
      const base = ['messages', 'search', '--url', t.gw.httpUrl, '--token', READER];
      const failed = await runCli([...base, '--type', 'ORU^R01', '--status', 'failed']);
      assert.equal(failed.code, 0, failed.stderr);
      const lines = failed.stdout.trim().split('\n');
      assert.equal(lines.length, 1);
      assert.match(
        lines[0]!,
        /failed +ORU\^R01 +VITALS\|WARD5 +S-4 .* failed +reason: no patient identifier/,
      );
      const json = await runCli([...base, '--patient', MRN_A, '--json', '--limit', '1', '--all']);
      assert.equal(json.code, 0, json.stderr);
      const rows = json.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as MessageRow);
      assert.deepEqual(
        rows.map((r) => r.controlId),
        ['S-5', 'S-1'],
        'both pages followed',
      );
      const raw = await runCli([...base, '--control-id', 'S-1', '--raw']);
      assert.equal(raw.code, 1);
      assert.match(raw.stderr, /GW_FORBIDDEN: .*phi:read/);
    });
  });
}
