import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import type { LineageRecord } from '../../../src/lineage/store.js';
import { sendMllp, startTestGateway } from '../../helpers/gateway.js';
import { vitalsOru } from '../../helpers/messages.js';

describe('an alias move reaches every gateway on the same database', {
  skip: !process.env.DATABASE_URL,
}, () => {
  it('promotes on one gateway and the other scores with the new version within refreshMs', async () => {
    const config = { models: { refreshMs: 100 } };
    const one = await startTestGateway({ database: 'postgres', config });
    const two = await startTestGateway({ database: 'postgres', schema: one.schema!, config });
    try {
      const call = async (path: string, method: string, body: unknown) => {
        const res = await fetch(`${one.gw.httpUrl}${path}`, {
          method,
          headers: { authorization: `Bearer ${one.gw.adminToken}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        assert.ok(res.ok, `${path}: ${res.status} ${await res.text()}`);
      };
      const card = parse(readFileSync('fixtures/mlflow/vitals-deterioration/card.yaml', 'utf8'));
      const onnx = readFileSync('fixtures/mlflow/vitals-deterioration/model.onnx').toString('base64');
      await call('/models/vitals-deterioration/versions', 'POST', { card, onnx });
      await call('/models/vitals-deterioration/versions/1.1.0/validate', 'POST', {});
      await call('/models/vitals-deterioration/versions/1.1.0/approve', 'POST', { reason: 'test' });
      await call('/models/vitals-deterioration/aliases/production', 'PUT', { version: '1.1.0' });
      await new Promise((r) => setTimeout(r, 400));
      await sendMllp(two.gw.mllpPort, vitalsOru({ controlId: 'XPROC-1', mrn: 'X1' }));
      await two.gw.idle();
      const rec = (await two.gw.lineage.byControlId('XPROC-1')) as LineageRecord[];
      assert.equal(rec[0]!.outputs[0]!.modelVersion, '1.1.0');
    } finally {
      await two.stop();
      await one.dispose();
    }
  });
});
