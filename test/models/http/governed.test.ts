// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import type { LineageRecord } from '../../../src/lineage/store.js';
import { predictions, sendMllp, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { msaCode, vitalsOru } from '../../helpers/messages.js';

const CARD = parse(readFileSync('fixtures/mlflow/vitals-deterioration/card.yaml', 'utf8'));
const ONNX = readFileSync('fixtures/mlflow/vitals-deterioration/model.onnx').toString('base64');
const TOKENS = [
  {
    name: 'aki-reader',
    token: 'aki-reader-token-0001',
    scopes: ['model:aki-risk:read', 'model:aki-risk:infer'],
  },
  { name: 'vitals-admin', token: 'vitals-admin-token-01', scopes: ['model:vitals-deterioration:admin'] },
  { name: 'committee', token: 'committee-token-00001', scopes: ['models:approve'] },
];

describe('governed models (registry, aliases, cards, scopes, V2)', () => {
  let t: TestGateway;
  const call = async (path: string, init: { method?: string; body?: unknown; token?: string } = {}) => {
    const res = await fetch(`${t.gw.httpUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${init.token ?? t.gw.adminToken}`,
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    const text = await res.text();
    let body: any = text;
    try {
      body = JSON.parse(text);
    } catch {}
    return { status: res.status, body, type: res.headers.get('content-type') ?? '' };
  };
  const record = async (controlId: string) =>
    ((await call(`/lineage?controlId=${controlId}`)).body as LineageRecord[])[0]!;

  before(async () => {
    t = await startTestGateway({
      database: 'pglite',
      config: { tokens: TOKENS, models: { refreshMs: 100 } },
    });
  });
  after(async () => t?.dispose());

  it('registers the bundled models at start as approved and behind production', async () => {
    const { status, body } = await call('/models');
    assert.equal(status, 200);
    const vitals = body.find((m: any) => m.name === 'vitals-deterioration');
    assert.deepEqual(vitals.aliases, { production: { version: '1.0.0', share: 1 } });
    assert.equal(vitals.versions[0].status, 'approved');
    assert.equal(vitals.versions[0].approvedBy, 'bootstrap');
    assert.equal(vitals.versions[0].signature.inputs[0].name, 'features');
    assert.ok(vitals.versions[0].mappingVersion);
  });

  it('takes a version from draft to production only through validation and an approval with models:approve', async () => {
    const denied = await call('/models/vitals-deterioration/versions', {
      method: 'POST',
      token: 'aki-reader-token-0001',
      body: { card: CARD, onnx: ONNX },
    });
    assert.equal(denied.status, 403);
    const reg = await call('/models/vitals-deterioration/versions', {
      method: 'POST',
      token: 'vitals-admin-token-01',
      body: { card: CARD, onnx: ONNX, source: 'test' },
    });
    assert.equal(reg.status, 201, JSON.stringify(reg.body));
    assert.equal(reg.body.status, 'draft');
    assert.equal(reg.body.createdBy, 'vitals-admin');
    const early = await call('/models/vitals-deterioration/aliases/production', {
      method: 'PUT',
      body: { version: '1.1.0' },
    });
    assert.equal(early.status, 409);
    const v = await call('/models/vitals-deterioration/versions/1.1.0/validate', {
      method: 'POST',
      token: 'vitals-admin-token-01',
      body: {},
    });
    assert.equal(v.body.ok, true, JSON.stringify(v.body));
    assert.equal(v.body.evidence.cases.length, CARD.goldenCases.length);
    const selfApproval = await call('/models/vitals-deterioration/versions/1.1.0/approve', {
      method: 'POST',
      token: 'vitals-admin-token-01',
      body: { reason: 'looks fine' },
    });
    assert.equal(selfApproval.status, 403, 'a model admin cannot approve');
    const ok = await call('/models/vitals-deterioration/versions/1.1.0/approve', {
      method: 'POST',
      token: 'committee-token-00001',
      body: { reason: 'AI governance committee, minutes 2026-11-20' },
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.approvedBy, 'committee');
    const audit = await call('/models/vitals-deterioration/audit');
    const denials = audit.body.filter((a: any) => !a.allowed);
    assert.ok(denials.some((a: any) => a.principal === 'aki-reader' && a.action === 'register'));
    assert.ok(denials.some((a: any) => a.principal === 'vitals-admin' && a.action === 'approve'));
    assert.ok(
      audit.body.some((a: any) => a.allowed && a.action === 'approve' && a.principal === 'committee'),
    );
  });

  it('shadow scores and records but never writes; production alone writes', async () => {
    const move = await call('/models/vitals-deterioration/aliases/shadow', {
      method: 'PUT',
      body: { version: '1.1.0', reason: 'shadow trial' },
    });
    assert.equal(move.status, 200);
    assert.equal(
      msaCode(await sendMllp(t.gw.mllpPort, vitalsOru({ controlId: 'SHADOW-1', mrn: 'S1' }))),
      'AA',
    );
    await t.gw.idle();
    const r = await record('SHADOW-1');
    const inferred = r.stages.filter((s) => s.stage === 'inferred');
    assert.deepEqual(
      inferred.map((s) => [s.modelVersion, s.alias ?? 'production', s.written ?? true]),
      [
        ['1.0.0', 'production', true],
        ['1.1.0', 'shadow', false],
      ],
    );
    assert.deepEqual(
      r.outputs.map((o) => o.modelVersion),
      ['1.0.0'],
    );
    const obs = await predictions(t.gw.httpUrl, t.gw.adminToken, 'vitals-deterioration', 'S1');
    assert.equal(obs.length, 1);
  });

  it('canary scores its share of patients, stable by patient', async () => {
    await call('/models/vitals-deterioration/aliases/shadow', { method: 'PUT', body: { version: null } });
    await call('/models/vitals-deterioration/aliases/canary', {
      method: 'PUT',
      body: { version: '1.1.0', share: 0.5 },
    });
    const seen: boolean[] = [];
    for (let i = 0; i < 8; i++) {
      await sendMllp(t.gw.mllpPort, vitalsOru({ controlId: `CAN-${i}`, mrn: `C${i}` }));
      await sendMllp(t.gw.mllpPort, vitalsOru({ controlId: `CAN-${i}-again`, mrn: `C${i}` }));
    }
    await t.gw.idle();
    for (let i = 0; i < 8; i++) {
      const a = (await record(`CAN-${i}`)).stages.some((s) => s.alias === 'canary');
      const b = (await record(`CAN-${i}-again`)).stages.some((s) => s.alias === 'canary');
      assert.equal(a, b, 'the same patient gets the same answer');
      seen.push(a);
    }
    assert.ok(seen.includes(true) && seen.includes(false), String(seen));
    await call('/models/vitals-deterioration/aliases/canary', { method: 'PUT', body: { version: null } });
  });

  it('promotes and rolls back by alias moves, and tells which version was live at time T', async () => {
    const before = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 10));
    const up = await call('/models/vitals-deterioration/aliases/production', {
      method: 'PUT',
      body: { version: '1.1.0', reason: 'promote' },
    });
    assert.equal(up.body.fromVersion, '1.0.0');
    await sendMllp(t.gw.mllpPort, vitalsOru({ controlId: 'PROMOTED-1', mrn: 'P1' }));
    await t.gw.idle();
    assert.equal((await record('PROMOTED-1')).outputs[0]!.modelVersion, '1.1.0');
    const during = new Date().toISOString();
    await call('/models/vitals-deterioration/aliases/production', {
      method: 'PUT',
      body: { version: '1.0.0', reason: 'rollback' },
    });
    const h = await call('/models/vitals-deterioration/history');
    assert.deepEqual(
      h.body.moves.filter((m: any) => m.alias === 'production').map((m: any) => m.version),
      ['1.0.0', '1.1.0', '1.0.0'],
    );
    assert.equal(
      (await call(`/models/vitals-deterioration/history?at=${before}`)).body.aliases.production,
      '1.0.0',
    );
    assert.equal(
      (await call(`/models/vitals-deterioration/history?at=${during}`)).body.aliases.production,
      '1.1.0',
    );
    const retire = await call('/models/vitals-deterioration/versions/1.0.0/retire', {
      method: 'POST',
      body: {},
    });
    assert.equal(retire.status, 409, 'a version behind production cannot be retired');
  });

  it('renders the card as Markdown and FHIR, and links it from every output', async () => {
    const md = await call('/models/vitals-deterioration/card');
    assert.match(md.type, /text\/markdown/);
    assert.match(md.body, /^# Model card: vitals-deterioration 1\.0\.0/);
    assert.match(md.body, /## Intended use/);
    assert.match(md.body, /\| healthy young adult \|/);
    const fhir = await call('/models/vitals-deterioration/card?format=fhir&version=1.1.0');
    const [device, doc] = fhir.body.entry.map((e: any) => e.resource);
    assert.equal(device.resourceType, 'Device');
    assert.equal(doc.type.coding[0].code, 'AIModelCard');
    assert.equal(doc.subject.reference, `Device/${device.id}`);
    const [obs] = await predictions(t.gw.httpUrl, t.gw.adminToken, 'vitals-deterioration', 'S1');
    const prov = await call(`/fhir/Provenance?target=Observation/${obs!.id}`);
    const provenance =
      prov.body.entry?.[0]?.resource ??
      (
        await call(
          `/fhir/Provenance/${(await record('SHADOW-1')).outputs[0]!.provenance}`.replace(
            'Provenance/Provenance/',
            'Provenance/',
          ),
        )
      ).body;
    const cardRef = provenance.entity.find((e: any) => e.what.reference?.startsWith('DocumentReference/'));
    assert.ok(cardRef, 'the Provenance names the model card');
    const stored = await call(`/fhir/${cardRef.what.reference}`);
    assert.equal(stored.status, 200, 'the card DocumentReference is in the FHIR store');
    assert.equal(stored.body.type.coding[0].code, 'AIModelCard');
    assert.match(Buffer.from(stored.body.content[0].attachment.data, 'base64').toString(), /# Model card/);
  });

  it('checks per-model scopes and audits every denial', async () => {
    assert.equal((await call('/models/aki-risk', { token: 'aki-reader-token-0001' })).status, 200);
    const denied = await call('/models/vitals-deterioration', { token: 'aki-reader-token-0001' });
    assert.equal(denied.status, 403);
    const list = await call('/models', { token: 'aki-reader-token-0001' });
    assert.deepEqual(
      list.body.map((m: any) => m.name),
      ['aki-risk'],
    );
    const infer = await call('/v2/models/vitals-deterioration/infer', {
      method: 'POST',
      token: 'aki-reader-token-0001',
      body: {
        inputs: [{ name: 'features', shape: [1, 6], datatype: 'FP32', data: [80, 16, 97, 37, 120, 50] }],
      },
    });
    assert.equal(infer.status, 403);
    const audit = (await call('/models/vitals-deterioration/audit')).body;
    assert.ok(audit.some((a: any) => !a.allowed && a.principal === 'aki-reader' && a.action === 'read'));
    assert.ok(audit.some((a: any) => !a.allowed && a.principal === 'aki-reader' && a.action === 'v2.infer'));
  });

  it('serves the Open Inference Protocol (KServe V2) with lineage', async () => {
    const meta = await call('/v2/models/aki-risk', { token: 'aki-reader-token-0001' });
    assert.equal(meta.status, 200);
    assert.deepEqual(meta.body.inputs, [{ name: 'features', datatype: 'FP32', shape: [-1, 5] }]);
    const golden = CARD.goldenCases.slice(0, 3);
    const r = await call('/v2/models/vitals-deterioration/versions/1.1.0/infer', {
      method: 'POST',
      body: {
        id: 'v2-test-1',
        inputs: [
          { name: 'features', shape: [3, 6], datatype: 'FP32', data: golden.flatMap((g: any) => g.features) },
        ],
      },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.model_version, '1.1.0');
    for (const [i, p] of (r.body.outputs[0].data as number[]).entries())
      assert.ok(Math.abs(p - golden[i].probability) < 1e-5);
    const bad = await call('/v2/models/vitals-deterioration/infer', {
      method: 'POST',
      body: { inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: [1, 2, 3, 4, 5] }] },
    });
    assert.equal(bad.status, 400);
    const lineage = await t.gw.lineage.entriesFor('v2:v2-test-1');
    assert.equal(lineage[0]?.detail.modelVersion, '1.1.0');
    assert.equal(lineage[0]?.detail.rows, 3);
    assert.equal(lineage[0]?.detail.principal, 'admin');
  });

  it('re-scores every active patient in mini-batch jobs, writing once per patient and tick', async () => {
    const now = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
    await sendMllp(t.gw.mllpPort, vitalsOru({ controlId: 'RESCORE-1', mrn: 'R1', time: now }));
    await t.gw.idle();
    const count = async () =>
      (await predictions(t.gw.httpUrl, t.gw.adminToken, 'vitals-deterioration', 'R1')).length;
    assert.equal(await count(), 1);
    const r = await call('/models/vitals-deterioration/rescore', { method: 'POST', body: {} });
    assert.equal(r.status, 202);
    assert.ok(r.body.patients >= 1, JSON.stringify(r.body));
    const until = Date.now() + 10_000;
    while (Date.now() < until && (await count()) < 2) await new Promise((res) => setTimeout(res, 50));
    assert.equal(await count(), 2, 'the fresh patient is re-scored; stale vitals (2024) are not');
    assert.equal((await predictions(t.gw.httpUrl, t.gw.adminToken, 'vitals-deterioration', 'S1')).length, 1);
  });
});
