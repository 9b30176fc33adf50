// biome-ignore-all lint/suspicious/noExplicitAny: JSON answers of the API under test
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import type { LineageRecord } from '../../../src/lineage/store.js';
import { sendMllp, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { vitalsOru } from '../../helpers/messages.js';

/**
 * A model of kind `remote` on gateway B is scored by gateway A's Open Inference Protocol endpoint
 * (the real ONNX model behind A's V2 route), under B's governance: registered, validated by
 * replaying the golden cases through the endpoint, approved, aliased, recorded in both lineages.
 */
describe('remote models over the Open Inference Protocol (KServe V2)', () => {
  let a: TestGateway;
  let b: TestGateway;
  const call = async (g: TestGateway, path: string, method = 'GET', body?: unknown) => {
    const res = await fetch(`${g.gw.httpUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${g.gw.adminToken}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  before(async () => {
    a = await startTestGateway({ database: 'pglite' });
    b = await startTestGateway({
      database: 'pglite',
      config: { models: { remote: { tokens: { [new URL(a.gw.httpUrl).origin]: a.gw.adminToken } } } },
    });
  });
  after(async () => {
    await b?.dispose();
    await a?.dispose();
  });

  it('registers, validates through the endpoint, approves and scores production with it', async () => {
    const card = parse(readFileSync('models/vitals-deterioration/card.yaml', 'utf8'));
    card.version = '2.0.0';
    const reg = await call(b, '/models/vitals-deterioration/versions', 'POST', {
      card,
      remoteUrl: `${a.gw.httpUrl}#vitals-deterioration`,
    });
    assert.equal(reg.status, 201, JSON.stringify(reg.body));
    assert.equal(reg.body.kind, 'remote');
    const val = await call(b, '/models/vitals-deterioration/versions/2.0.0/validate', 'POST', {});
    assert.equal(val.body.ok, true, JSON.stringify(val.body.evidence));
    assert.equal(val.body.evidence.cases.length, 7);
    await call(b, '/models/vitals-deterioration/versions/2.0.0/approve', 'POST', { reason: 'remote trial' });
    const move = await call(b, '/models/vitals-deterioration/aliases/production', 'PUT', {
      version: '2.0.0',
    });
    assert.equal(move.status, 200);

    await sendMllp(b.gw.mllpPort, vitalsOru({ controlId: 'REMOTE-1', mrn: 'RM1' }));
    await b.gw.idle();
    const rec = ((await call(b, '/lineage?controlId=REMOTE-1')).body as LineageRecord[])[0]!;
    assert.equal(rec.status, 'processed');
    assert.equal(rec.outputs[0]!.modelVersion, '2.0.0');
    const inferred = rec.stages.find((s) => s.stage === 'inferred')!;
    assert.ok((inferred.score as number) > 0.5, 'the septic vitals score high through the remote model');
    const seen = await a.gw.db.query<{ n: number }>(
      `select count(*)::int as n from lineage where message_id like 'v2:%' and detail->>'modelVersion' = '1.0.0'`,
    );
    assert.ok(seen.rows[0]!.n >= 2, 'the endpoint recorded the golden replay and the message');
  });

  it('fails a validation when the endpoint is away, and the version stays a draft', async () => {
    const card = parse(readFileSync('models/vitals-deterioration/card.yaml', 'utf8'));
    card.version = '2.1.0';
    await call(b, '/models/vitals-deterioration/versions', 'POST', {
      card,
      remoteUrl: 'http://127.0.0.1:9#x',
    });
    const val = await call(b, '/models/vitals-deterioration/versions/2.1.0/validate', 'POST', {});
    assert.equal(val.body.ok, false);
    assert.match(val.body.evidence.problems[0], /unreachable/);
    assert.equal(val.body.version.status, 'draft');
  });
});
