import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LineageRecord } from '../../../src/lineage/store.js';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';

/**
 * Every fixture in fixtures/fhir/manifest.json, sent in order to a real gateway (PGlite): accepted
 * or rejected as the manifest says, and what it became (HTTP answer, each stored message's lineage)
 * equal to `<fixture>.expected.json`. UPDATE_GOLDEN=1 rewrites the golden files.
 */

const DIR = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'fhir');
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

interface Case {
  file: string;
  endpoint: 'fhir' | 'subscription';
  expect: 'accepted' | 'rejected';
}

const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as Case[];

function summary(rec: LineageRecord) {
  return {
    status: rec.status,
    stages: rec.stages.map((s) => {
      const x = s as unknown as Record<string, unknown>;
      return {
        stage: s.stage,
        ...(x.model ? { model: x.model } : {}),
        ...(x.messageType ? { messageType: x.messageType } : {}),
        ...(x.observations !== undefined ? { observations: x.observations } : {}),
        ...(x.features ? { features: x.features } : {}),
        ...(x.complete !== undefined ? { complete: x.complete } : {}),
        ...(x.waitingFor ? { waitingFor: x.waitingFor } : {}),
        ...(x.rejected && (x.rejected as unknown[]).length ? { rejected: x.rejected } : {}),
        ...(x.score !== undefined ? { score: x.score } : {}),
        ...(x.reason ? { reason: x.reason } : {}),
      };
    }),
    outputs: rec.outputs.length,
  };
}

describe('FHIR fixtures: accepted or rejected as a user expects, golden files', () => {
  let t: TestGateway;
  const auth = () => ({ authorization: `Bearer ${t.gw.adminToken}` });

  before(async () => {
    t = await startTestGateway({
      database: 'pglite',
      // One source server, unreachable on purpose: the IG's foci live on example.org, not on it.
      config: { sources: [{ name: 'ehr', baseUrl: 'http://127.0.0.1:9/fhir', timeoutMs: 500 }] },
    });
  });
  after(async () => t?.dispose());

  for (const c of manifest) {
    it(`${c.endpoint}: ${c.file} is ${c.expect}`, async () => {
      if (c.endpoint === 'subscription') {
        // Each notification is the first the gateway hears of the IG's one subscription.
        await t.gw.db.query('delete from fhir_subscription');
      }
      const body = readFileSync(join(DIR, c.file));
      const path = c.endpoint === 'fhir' ? '/ingest/fhir' : '/ingest/fhir/subscription';
      const res = await fetch(`${t.gw.httpUrl}${path}`, {
        method: 'POST',
        headers: { ...auth(), 'content-type': 'application/fhir+json' },
        body,
      });
      const text = await res.text();
      assert.equal(res.status < 300, c.expect === 'accepted', `${c.file}: HTTP ${res.status} ${text}`);
      const answer = JSON.parse(text) as { resourceType: string };
      assert.ok(['OperationOutcome', 'Bundle'].includes(answer.resourceType));
      await t.gw.idle();
      const ids = [...new Set(text.match(UUID) ?? [])];
      const messages = [];
      for (const id of ids) {
        const r = await fetch(`${t.gw.httpUrl}/lineage/${id}`, { headers: auth() });
        if (r.status === 200) messages.push(summary((await r.json()) as LineageRecord));
      }
      const got = { status: res.status, answer: JSON.parse(text.replace(UUID, '<id>')), messages };
      const golden = join(DIR, c.file.replace(/\.json$/, `.${c.endpoint}.expected.json`));
      if (process.env.UPDATE_GOLDEN || !existsSync(golden))
        writeFileSync(golden, `${JSON.stringify(got, null, 2)}\n`);
      assert.deepEqual(
        got,
        JSON.parse(readFileSync(golden, 'utf8')),
        `${c.file} drifted from its golden file`,
      );
    });
  }
});
