// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
/**
 * The governed retraining loop, on real PostgreSQL when DATABASE_URL is set: a critical alert
 * opens a retrain request (and an operator can), the training pipeline is told by webhook, the
 * de-identified dataset downloads as CSV and Arrow with an admin token only, and a version
 * registered from the request goes draft -> validated -> shadow with its shadow report shown,
 * never to production without an approval.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { MllpClient } from '../../src/mllp/client.js';
import { dbKinds, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { akiOru, type Receiver, startReceiver, trainingLike, uninformativeAki, until } from './helpers.js';

const READER = { name: 'reader', token: 'reader-token-0000001', scopes: ['read'] };

describe(`model monitoring: governed retraining (${dbKinds().at(-1)})`, () => {
  let t: TestGateway;
  let hook: Receiver;
  let seq = 0;
  const call = async (path: string, init: { method?: string; body?: unknown; token?: string } = {}) => {
    const res = await fetch(`${t.gw.httpUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${init.token ?? t.gw.adminToken}`,
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    const buf = Buffer.from(await res.arrayBuffer());
    const type = res.headers.get('content-type') ?? '';
    return {
      status: res.status,
      type,
      buf,
      body: type.includes('json') ? JSON.parse(buf.toString()) : buf.toString(),
    } as any;
  };
  const send = async (n: number, seed: number, shift = 1) => {
    const c = await MllpClient.connect({ host: '127.0.0.1', port: t.gw.mllpPort });
    await Promise.all(
      trainingLike(seed, n).map((p) => {
        seq++;
        return c.send(
          akiOru({
            controlId: `R${seq}`,
            mrn: `R${seq}`,
            panel: { ...p, urea: Math.round(p.urea * shift), age: seq === 1 ? 97 : p.age },
            at: new Date(Date.parse('2026-11-20T08:00:00Z') + seq * 60_000),
          }),
        );
      }),
    );
    await c.close();
    await t.gw.idle();
  };

  before(async () => {
    hook = await startReceiver();
    t = await startTestGateway({
      database: dbKinds().at(-1)!,
      config: {
        tokens: [READER],
        models: { refreshMs: 100 },
        monitoring: {
          windowSize: 100,
          minSamples: 60,
          evaluateIntervalMs: 3_600_000,
          alerts: { webhooks: [{ name: 'am', url: hook.url }], minIntervalMs: 0 },
          retrain: {
            webhooks: [{ name: 'mlflow', url: hook.url, headers: { authorization: 'Bearer pipeline' } }],
            onAlert: true,
          },
        },
      },
    });
  });
  after(async () => {
    await t?.dispose();
    await hook?.close();
  });

  it('a critical alert opens a retrain request with its evidence and tells the training pipeline', async () => {
    await send(100, 31, 2.5);
    await t.gw.monitoring.evaluate();
    const list = (await call('/models/aki-risk/retrain-requests')).body;
    assert.equal(list.length, 1);
    assert.equal(list[0].trigger, 'alert');
    assert.equal(list[0].rows, 100);
    const one = (await call(`/models/aki-risk/retrain-requests/${list[0].id}`)).body;
    assert.ok(one.evidence.report.alerts.some((a: any) => a.labels.feature === 'urea_nitrogen'));
    await until(() => hook.received.some((b) => b.type === 'retrain-requested'), 20_000, 'retrain-requested');
    const note = hook.received.find((b) => b.type === 'retrain-requested')!;
    assert.equal(note._headers.authorization, 'Bearer pipeline');
    assert.equal(note.id, list[0].id);
    assert.equal(note.dataset.rows, 100);
    assert.match(note.dataset.csv, /\/dataset\.csv$/);
    // Another alert round does not open a second request for the same version.
    await t.gw.monitoring.evaluate();
    assert.equal((await call('/models/aki-risk/retrain-requests')).body.length, 1);
    const entries = await t.gw.lineage.entriesFor(`retrain:${list[0].id}`);
    assert.equal(entries[0]?.stage, 'retrain.requested');
  });

  it('an operator opens one; its dataset downloads (admin only), de-identified, as CSV and Arrow', async () => {
    assert.equal((await call('/models/aki-risk/retrain-requests', { method: 'POST', body: {} })).status, 400);
    const denied = await call('/models/aki-risk/retrain-requests', {
      method: 'POST',
      body: { reason: 'x' },
      token: READER.token,
    });
    assert.equal(denied.status, 403);
    const opened = await call('/models/aki-risk/retrain-requests', {
      method: 'POST',
      body: { reason: 'urea drift after the analyser change' },
    });
    assert.equal(opened.status, 201, JSON.stringify(opened.body));
    assert.equal(opened.body.trigger, 'operator');
    assert.equal(opened.body.openedBy, 'admin');
    const id = opened.body.id;
    assert.equal(
      (await call(`/models/aki-risk/retrain-requests/${id}/dataset.csv`, { token: READER.token })).status,
      403,
    );
    const csv = await call(`/models/aki-risk/retrain-requests/${id}/dataset.csv`);
    assert.equal(csv.status, 200);
    assert.match(csv.type, /text\/csv/);
    const lines = csv.body.trim().split('\n');
    assert.equal(lines[0], 'creatinine,urea_nitrogen,potassium,sodium,age,score,label,source,alias');
    assert.equal(lines.length, 101);
    assert.ok(!/R\d+|Testpatient|HOSP\^MR/.test(csv.body), 'no identifier in the dataset');
    const ages = lines.slice(1).map((l: string) => Number(l.split(',')[4]));
    assert.ok(Math.max(...ages) <= 90, 'ages above 89 are reported as 90');
    const arrow = await call(`/models/aki-risk/retrain-requests/${id}/dataset.arrow`);
    assert.equal(arrow.status, 200);
    const table = tableFromIPC(arrow.buf);
    assert.equal(table.numRows, 100);
    assert.deepEqual(
      table.schema.fields.map((f) => f.name),
      ['creatinine', 'urea_nitrogen', 'potassium', 'sodium', 'age', 'score', 'label', 'source', 'alias'],
    );
    assert.equal(table.getChild('source')!.get(0), 'LAB|HOSP');
  });

  it('a version retrained from the request goes draft -> validated -> shadow, with its shadow report; production needs an approval', async () => {
    const id = (await call('/models/aki-risk/retrain-requests')).body[0].id;
    const v = await uninformativeAki('1.2.0');
    const bad = await call('/models/aki-risk/versions', {
      method: 'POST',
      body: { ...v, retrainedFrom: 'rr-none' },
    });
    assert.equal(bad.status, 400);
    const reg = await call('/models/aki-risk/versions', {
      method: 'POST',
      body: { ...v, retrainedFrom: id },
    });
    assert.equal(reg.status, 201, JSON.stringify(reg.body));
    assert.equal(reg.body.status, 'draft');
    assert.equal(reg.body.retrainedFrom, id);
    assert.equal(
      (await call('/models/aki-risk/aliases/production', { method: 'PUT', body: { version: '1.2.0' } }))
        .status,
      409,
    );
    assert.equal(
      (await call('/models/aki-risk/versions/1.2.0/validate', { method: 'POST', body: {} })).body.ok,
      true,
    );
    assert.equal(
      (await call('/models/aki-risk/aliases/production', { method: 'PUT', body: { version: '1.2.0' } }))
        .status,
      409,
    );
    assert.equal(
      (await call('/models/aki-risk/aliases/shadow', { method: 'PUT', body: { version: '1.2.0' } })).status,
      200,
    );
    await send(70, 77);
    const r = (await call(`/models/aki-risk/retrain-requests/${id}`)).body;
    assert.equal(r.candidates.length, 1);
    const c = r.candidates[0];
    assert.deepEqual([c.version, c.status, c.alias], ['1.2.0', 'validated', 'shadow']);
    assert.equal(c.shadowReport.against, '1.0.0');
    assert.equal(c.shadowReport.patients, 70);
    assert.ok(c.shadowReport.bandAgreement >= 0 && c.shadowReport.bandAgreement <= 1);
    const prod = (await call('/models/aki-risk')).body.aliases.production.version;
    assert.equal(prod, '1.0.0');
  });
});
