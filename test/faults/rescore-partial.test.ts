import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { openDatabase } from '../../src/db/open.js';
import { registerFhirRoutes } from '../../src/fhir-server/routes.js';
import { createFhirStore } from '../../src/fhir-server/store.js';
import { sendMllp, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';
import { PG_URL, pgSchema, until } from './harness.js';

const PATIENTS = ['RP-01', 'RP-02', 'RP-03', 'RP-04', 'RP-05', 'RP-06', 'RP-07', 'RP-08', 'RP-09', 'RP-X'];
/** The EHR refuses this patient's re-scored Observation (its last in the group, by key). */
const REFUSED = 'RP-X';

describe('fault: one write of a re-scoring job refused', { skip: !PG_URL && 'needs DATABASE_URL' }, () => {
  let schema: Awaited<ReturnType<typeof pgSchema>>;
  let db: Awaited<ReturnType<typeof openDatabase>>;
  let fhir: FastifyInstance;
  let refuse = false;
  let t: TestGateway;

  before(async () => {
    schema = await pgSchema('fhir');
    db = await openDatabase({ databaseUrl: PG_URL!, dataDir: '', schema: schema.schema });
    // A FHIR server apart from the gateway that, once told to, answers 500 to any transaction
    // about one patient.
    fhir = Fastify({ bodyLimit: 10 * 1024 * 1024, forceCloseConnections: true });
    fhir.addHook('preHandler', async (req, reply) => {
      if (refuse && req.method === 'POST' && JSON.stringify(req.body ?? '').includes(REFUSED))
        return reply.code(500).send({
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', code: 'exception', diagnostics: 'refused by the test' }],
        });
    });
    let port = 0;
    registerFhirRoutes(fhir, createFhirStore(db), {
      prefix: '/fhir',
      baseUrl: () => `http://127.0.0.1:${port}/fhir`,
    });
    await fhir.listen({ host: '127.0.0.1', port: 0 });
    const addr = fhir.server.address();
    port = typeof addr === 'object' && addr ? addr.port : 0;
    t = await startTestGateway({
      database: 'postgres',
      config: {
        fhir: { baseUrl: `http://127.0.0.1:${port}/fhir`, circuitBreaker: { failureThreshold: 100 } },
        // One attempt: the job fails for good, and what it wrote must still be on record.
        processing: { maxAttempts: 1, concurrency: 4 },
      },
    });
  });
  after(async () => {
    await t?.dispose();
    await fhir?.close();
    await db?.close();
    await schema?.dispose();
  });

  it('records the lineage of every Observation it wrote, though the job failed', async () => {
    const now = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
    for (const [i, mrn] of PATIENTS.entries())
      assert.equal(
        msaCode(await sendMllp(t.gw.mllpPort, vitalsOru({ controlId: `RP-${i}`, mrn, time: now }))),
        'AA',
      );
    await t.gw.idle();
    const observations = async () =>
      (
        await db.query<{ n: number }>(
          `select count(*)::int as n from fhir_resource where resource_type = 'Observation'`,
        )
      ).rows[0]!.n;
    const dead = async () =>
      (await t.gw.db.query<{ stage: string; reason: string }>('select stage, reason from dead_letter')).rows;
    // Processed in the gateway's inbox and written in the EHR are two databases: wait for both.
    await until(
      'each message written to the EHR',
      async () => (await observations()) >= PATIENTS.length || (await dead()).length > 0,
      20_000,
    );
    assert.deepEqual(await dead(), [], 'no message failed');
    assert.equal(await observations(), PATIENTS.length, 'each message scored and written once');

    refuse = true;
    const r = await fetch(`${t.gw.httpUrl}/models/vitals-deterioration/rescore`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.gw.adminToken}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(r.status, 202);
    const written = async () =>
      (
        await t.gw.db.query<{ detail: { outputs: Array<{ resource: string }> } }>(
          `select detail from lineage where message_id like 'rescore:%' and stage = 'written'`,
        )
      ).rows;
    await until('the re-scored patients on record', async () => (await written()).length >= 9, 20_000);
    // The job has failed (one attempt), and nothing more arrives.
    await new Promise((x) => setTimeout(x, 500));
    const entries = await written();
    assert.equal(entries.length, PATIENTS.length - 1, 'every patient but the refused one');
    assert.equal(await observations(), 2 * PATIENTS.length - 1, 'nine re-scored Observations in the EHR');
    // Each lineage entry names an Observation the EHR holds.
    for (const e of entries) {
      const ref = e.detail.outputs[0]!.resource.replace(/\/_history\/.*$/, '');
      const [type, id] = ref.split('/').slice(-2);
      const found = await db.query(`select 1 from fhir_resource where resource_type = $1 and id = $2`, [
        type,
        id,
      ]);
      assert.equal(found.rows.length, 1, ref);
    }
  });
});
