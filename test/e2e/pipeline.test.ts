import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from 'fhir-kit-client';
import { validateFhir } from '../../src/fhir/validate.js';
import type { LineageRecord } from '../../src/lineage/store.js';
import { MllpClient } from '../../src/mllp/client.js';
import { dbKinds, predictions, sendMllp, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { adtA01, msaCode, vitalsOru } from '../helpers/messages.js';

type Bundle = { total?: number; entry?: Array<{ resource: Record<string, unknown> }> };

for (const database of dbKinds()) {
  describe(`end to end over MLLP (${database})`, () => {
    let t: TestGateway;
    let fhir: Client;
    const api = async (path: string) => {
      const res = await fetch(`${t.gw.httpUrl}${path}`, {
        headers: { authorization: `Bearer ${t.gw.adminToken}` },
      });
      return { status: res.status, body: (await res.json()) as unknown };
    };

    before(async () => {
      t = await startTestGateway({ database });
      fhir = new Client({
        baseUrl: t.gw.fhirBaseUrl,
        customHeaders: { authorization: `Bearer ${t.gw.adminToken}` },
      });
    });
    after(async () => t?.dispose());

    it('turns a vitals ORU^R01 into a validated Observation with its lineage', async () => {
      const client = await MllpClient.connect({ host: '127.0.0.1', port: t.gw.mllpPort });
      const ack = await client.send(vitalsOru({ controlId: 'E2E-1' }));
      await client.close();
      assert.equal(msaCode(ack), 'AA');
      assert.match(ack, /\rMSA\|AA\|E2E-1/);
      await t.gw.idle();

      const found = (await fhir.search({
        resourceType: 'Observation',
        searchParams: { code: 'vitals-deterioration-probability' },
      })) as Bundle;
      assert.equal(found.entry?.length, 1);
      const obs = found.entry![0]!.resource;
      assert.deepEqual(
        validateFhir(obs as never).filter((i) => i.severity === 'error'),
        [],
      );
      const q = obs.valueQuantity as { value: number };
      assert.ok(q.value > 0.5 && q.value <= 1, `a septic-looking patient scores high, got ${q.value}`);
      assert.equal((obs.subject as { identifier: { value: string } }).identifier.value, 'MRN1001');
      assert.equal(Date.parse(String(obs.effectiveDateTime)), Date.parse('2024-03-01T10:15:00+00:00'));
      assert.ok((obs.meta as { security: Array<{ code: string }> }).security.some((s) => s.code === 'AIAST'));

      const { status, body } = await api('/lineage?controlId=E2E-1');
      assert.equal(status, 200);
      const records = body as LineageRecord[];
      assert.equal(records.length, 1);
      const rec = records[0]!;
      // Both demo mappings listen to ORU^R01: each records what it took; only vitals is complete.
      assert.deepEqual(
        rec.stages.map((s) => `${s.stage}${s.model ? `:${s.model}` : ''}`),
        [
          'received',
          'parsed',
          'mapped:aki-risk',
          'mapped:vitals-deterioration',
          'inferred:vitals-deterioration',
          'written',
        ],
      );
      const aki = rec.stages.find((s) => s.stage === 'mapped' && s.model === 'aki-risk')!;
      assert.equal(aki.complete, false);
      assert.deepEqual(aki.waitingFor, ['creatinine', 'urea_nitrogen']);
      assert.equal(rec.source.controlId, 'E2E-1');
      assert.match(rec.source.sha256, /^[0-9a-f]{64}$/);
      assert.equal(rec.outputs.length, 1);
      assert.equal(rec.outputs[0]!.resource, `Observation/${obs.id}`);
      assert.equal(rec.outputs[0]!.model, 'vitals-deterioration');
      const one = await api(`/lineage/${rec.messageId}`);
      assert.equal((one.body as LineageRecord).messageId, rec.messageId);
      const verify = await api('/lineage/verify');
      assert.equal((verify.body as { ok: boolean }).ok, true);

      const device = await fhir.read({
        resourceType: 'Device',
        id: String(obs.device && (obs.device as { reference: string }).reference.split('/')[1]),
      });
      assert.equal((device as { resourceType: string }).resourceType, 'Device');
      const prov = (await fhir.search({
        resourceType: 'Provenance',
        searchParams: { _count: '50' },
      })) as Bundle;
      assert.ok(
        prov.entry?.some((e) =>
          (e.resource.target as Array<{ reference: string }>).some(
            (r) => r.reference === `Observation/${obs.id}`,
          ),
        ),
      );
    });

    it('ACKs a duplicate AA again without processing it twice', async () => {
      assert.equal(msaCode(await sendMllp(t.gw.mllpPort, vitalsOru({ controlId: 'E2E-1' }))), 'AA');
      await t.gw.idle();
      assert.equal((await predictions(t.gw.httpUrl, t.gw.adminToken)).length, 1);
      const { body } = await api('/lineage?controlId=E2E-1');
      assert.equal((body as unknown[]).length, 1);
    });

    it('stores and records as ignored a message type no mapping uses', async () => {
      const client = await MllpClient.connect({ host: '127.0.0.1', port: t.gw.mllpPort });
      assert.equal(msaCode(await client.send(adtA01('E2E-ADT'))), 'AA');
      await client.close();
      await t.gw.idle();
      const { body } = await api('/lineage?controlId=E2E-ADT');
      const stages = (body as LineageRecord[])[0]!.stages.map((s) => s.stage);
      assert.deepEqual(stages, ['received', 'parsed', 'ignored']);
    });

    it('answers AR with an ERR segment for what cannot be accepted, and keeps serving', async () => {
      const client = await MllpClient.connect({ host: '127.0.0.1', port: t.gw.mllpPort });
      const noMsh = await client.send('PID|1||X\r');
      assert.equal(msaCode(noMsh), 'AR');
      assert.match(noMsh, /\rERR\|/);
      const noId = await client.send('MSH|^~\\&|A|B|C|D|20240101||ORU^R01||P|2.5\rPID|1\r');
      assert.equal(msaCode(noId), 'AR');
      assert.match(noId, /101\^Required field missing\^HL70357/);
      const ok = await client.send(adtA01('E2E-AFTER-BAD'));
      assert.equal(msaCode(ok), 'AA');
      await client.close();
    });

    it('serves many connections at once, each ACK on its own connection in order', async () => {
      const clients = await Promise.all(
        Array.from({ length: 5 }, () => MllpClient.connect({ host: '127.0.0.1', port: t.gw.mllpPort })),
      );
      const acks = await Promise.all(
        clients.map((c, i) =>
          Promise.all(Array.from({ length: 20 }, (_, j) => c.send(adtA01(`CONN${i}-${j}`)))),
        ),
      );
      for (const [i, list] of acks.entries()) {
        for (const [j, ack] of list.entries()) {
          assert.match(ack, new RegExp(`\\rMSA\\|AA\\|CONN${i}-${j}(\\r|\\|)`));
        }
      }
      await Promise.all(clients.map((c) => c.close()));
    });

    it('answers POST /hl7 with the ACK of each message of a batch', async () => {
      const body = `FHS|^~\\&\rBHS|^~\\&\r${adtA01('HTTP-1')}\r${adtA01('HTTP-2')}\rBTS|2\rFTS|1\r`;
      const res = await fetch(`${t.gw.httpUrl}/hl7`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.gw.adminToken}`, 'content-type': 'x-application/hl7-v2+er7' },
        body,
      });
      assert.equal(res.status, 200);
      const text = await res.text();
      assert.match(text, /MSA\|AA\|HTTP-1/);
      assert.match(text, /MSA\|AA\|HTTP-2/);
      const unauth = await fetch(`${t.gw.httpUrl}/hl7`, { method: 'POST', body: 'x' });
      assert.equal(unauth.status, 401);
    });
  });
}
