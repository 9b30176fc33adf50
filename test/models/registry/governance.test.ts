import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { parseModelCard } from '../../../src/models/registry/card.js';
import {
  aliasAt,
  aliases,
  aliasHistory,
  GovernanceError,
  getVersion,
  moveAlias,
  registerVersion,
  setApproved,
  setRetired,
  setValidated,
} from '../../../src/models/registry/governance.js';
import { inCanary } from '../../../src/models/runtime/governed.js';
import { readOnnxSignature, sha256Hex } from '../../../src/models/runtime/onnx-model.js';
import { type TestDatabase, testDatabases } from '../../helpers/db.js';

const card = parseModelCard(parse(readFileSync('models/vitals-deterioration/card.yaml', 'utf8')), 'card');
const onnx = readFileSync('models/vitals-deterioration/model.onnx');

const moveAliasOk = async (...a: Parameters<typeof moveAlias>) => (await moveAlias(...a))!;

for (const kind of testDatabases()) {
  describe(`model registry records (${kind.name})`, () => {
    let t: TestDatabase;
    before(async () => {
      t = await kind.open();
    });
    after(async () => t.dispose());

    const register = async (version: string) =>
      registerVersion(t.db, {
        name: 'vitals-deterioration',
        version,
        kind: 'onnx',
        sha256: sha256Hex(onnx),
        onnx,
        signature: await readOnnxSignature(onnx),
        mappingVersion: 'm1',
        card: { ...card, version },
        source: 'test',
        by: 'alice',
      });

    it('keeps the ONNX signature, refuses other bytes under a registered version, and never changes a version', async () => {
      const v = await register('2.0.0');
      assert.equal(v.status, 'draft');
      assert.deepEqual(v.signature.inputs, [{ name: 'features', type: 'float32', shape: ['N', 6] }]);
      assert.equal(v.mappingVersion, 'm1');
      assert.equal((await register('2.0.0')).createdAt, v.createdAt, 'same bytes again: the same version');
      await assert.rejects(
        registerVersion(t.db, {
          name: v.name,
          version: v.version,
          kind: 'onnx',
          sha256: 'f'.repeat(64),
          onnx,
          signature: v.signature,
          card,
          source: 'test',
          by: 'x',
        }),
        GovernanceError,
      );
      await assert.rejects(
        t.db.query(`update model_version set sha256 = 'x' where version = '2.0.0'`),
        /immutable/,
      );
      await assert.rejects(t.db.query(`delete from model_version where version = '2.0.0'`), /never deleted/);
    });

    it('walks draft -> validated -> approved -> retired and refuses skipped steps', async () => {
      await register('2.1.0');
      await assert.rejects(
        setApproved(t.db, 'vitals-deterioration', '2.1.0', 'bob', 'ok'),
        /draft; only validated/,
      );
      await assert.rejects(
        moveAlias(t.db, { name: 'vitals-deterioration', alias: 'production', version: '2.1.0', by: 'bob' }),
        /production needs approved/,
      );
      await setValidated(t.db, 'vitals-deterioration', '2.1.0', { cases: [] });
      await moveAlias(t.db, { name: 'vitals-deterioration', alias: 'shadow', version: '2.1.0', by: 'bob' });
      await assert.rejects(setApproved(t.db, 'vitals-deterioration', '2.1.0', 'bob', '  '), /needs a reason/);
      await setApproved(t.db, 'vitals-deterioration', '2.1.0', 'carol', 'committee 2026-11-20');
      const v = (await getVersion(t.db, 'vitals-deterioration', '2.1.0'))!;
      assert.equal(v.status, 'approved');
      assert.equal(v.approvedBy, 'carol');
      assert.equal(v.approvalReason, 'committee 2026-11-20');
      assert.ok(v.approvedAt);
      await assert.rejects(setRetired(t.db, 'vitals-deterioration', '2.1.0', 'bob'), /behind shadow/);
      await moveAlias(t.db, { name: 'vitals-deterioration', alias: 'shadow', version: null, by: 'bob' });
      await setRetired(t.db, 'vitals-deterioration', '2.1.0', 'bob');
      assert.equal((await getVersion(t.db, 'vitals-deterioration', '2.1.0'))!.status, 'retired');
    });

    it('keeps every alias move: which version was live at time T, rollback is a move', async () => {
      for (const v of ['3.0.0', '3.1.0']) {
        await register(v);
        await setValidated(t.db, 'vitals-deterioration', v, {});
        await setApproved(t.db, 'vitals-deterioration', v, 'carol', 'ok');
      }
      const m1 = await moveAliasOk(t.db, {
        name: 'vitals-deterioration',
        alias: 'production',
        version: '3.0.0',
        by: 'ops',
      });
      await new Promise((r) => setTimeout(r, 20));
      const m2 = await moveAliasOk(t.db, {
        name: 'vitals-deterioration',
        alias: 'production',
        version: '3.1.0',
        by: 'ops',
      });
      await new Promise((r) => setTimeout(r, 20));
      const m3 = await moveAliasOk(t.db, {
        name: 'vitals-deterioration',
        alias: 'production',
        version: '3.0.0',
        by: 'ops',
        reason: 'rollback',
      });
      assert.equal(m3.fromVersion, '3.1.0');
      const at = (iso: string, ms: number) => new Date(Date.parse(iso) + ms);
      assert.equal(await aliasAt(t.db, 'vitals-deterioration', 'production', at(m1.at, -1)), null);
      assert.equal(await aliasAt(t.db, 'vitals-deterioration', 'production', at(m1.at, 5)), '3.0.0');
      assert.equal(await aliasAt(t.db, 'vitals-deterioration', 'production', at(m2.at, 5)), '3.1.0');
      assert.equal(await aliasAt(t.db, 'vitals-deterioration', 'production', at(m3.at, 5)), '3.0.0');
      const h = await aliasHistory(t.db, 'vitals-deterioration');
      assert.deepEqual(
        h.filter((x) => x.alias === 'production').map((x) => [x.fromVersion, x.version, x.reason]),
        [
          [null, '3.0.0', null],
          ['3.0.0', '3.1.0', null],
          ['3.1.0', '3.0.0', 'rollback'],
        ],
      );
      assert.equal(
        (await aliases(t.db, 'vitals-deterioration')).find((a) => a.alias === 'production')?.version,
        '3.0.0',
      );
      await assert.rejects(t.db.query('delete from model_alias_history'), /append-only/);
    });
  });
}

describe('canary share', () => {
  it('is stable by patient and close to the configured share', () => {
    const keys = Array.from({ length: 4000 }, (_, i) => `HOSP|MRN${i}`);
    const picked = keys.filter((k) => inCanary('m', k, 0.25));
    assert.ok(picked.length > 900 && picked.length < 1100, String(picked.length));
    assert.deepEqual(
      keys.filter((k) => inCanary('m', k, 0.25)),
      picked,
    );
    assert.equal(keys.filter((k) => inCanary('m', k, 0)).length, 0);
    assert.equal(keys.filter((k) => inCanary('m', k, 1)).length, 4000);
  });
});
