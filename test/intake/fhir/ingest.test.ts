import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LineageRecord } from '../../../src/lineage/store.js';
import { HOSP_SYSTEM, patient, quantityObs, vitalsTransaction } from '../../helpers/fhir-resources.js';
import { dbKinds, sendMllp, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { msaCode, vitalsOru } from '../../helpers/messages.js';

type Json = Record<string, unknown>;
const AT = '2024-03-01T10:15:00+00:00';

for (const database of dbKinds())
  describe(`POST /ingest/fhir: one patient, many doors (${database})`, () => {
    let t: TestGateway;
    const auth = () => ({ authorization: `Bearer ${t.gw.adminToken}` });
    const post = async (body: unknown, path = '/ingest/fhir') => {
      const res = await fetch(`${t.gw.httpUrl}${path}`, {
        method: 'POST',
        headers: { ...auth(), 'content-type': 'application/fhir+json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Json };
    };
    const get = async (path: string) => {
      const res = await fetch(`${t.gw.httpUrl}${path}`, { headers: auth() });
      return (await res.json()) as Json;
    };
    const scores = async (model: string, mrn: string) => {
      const b = await get(
        `/fhir/Observation?code=${model}-probability&subject:identifier=${encodeURIComponent(`${HOSP_SYSTEM}|${mrn}`)}`,
      );
      return ((b.entry ?? []) as Array<{ resource: Json }>).map((e) => e.resource);
    };

    before(async () => {
      t = await startTestGateway({
        database,
        config: { patients: { identifierSystems: { HOSP: HOSP_SYSTEM } } },
      });
    });
    after(async () => t?.dispose());

    it('scores a FHIR-fed and an HL7-fed patient the same way from the same values', async () => {
      assert.equal(
        msaCode(await sendMllp(t.gw.mllpPort, vitalsOru({ controlId: 'SAME-1', mrn: 'MRN-HL7' }))),
        'AA',
      );
      const r = await post(vitalsTransaction('MRN-FHIR', AT, 'same'));
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.type, 'transaction-response');
      const statuses = (r.body.entry as Array<{ response: { status: string } }>).map(
        (e) => e.response.status,
      );
      assert.deepEqual(statuses, Array(6).fill('201 Created'));
      await t.gw.idle();
      const [hl7] = await scores('vitals-deterioration', 'MRN-HL7');
      const [fhir] = await scores('vitals-deterioration', 'MRN-FHIR');
      assert.ok(hl7 && fhir, 'both patients scored');
      const v = (o: Json) => (o.valueQuantity as { value: number }).value;
      assert.equal(v(fhir!), v(hl7!));
      assert.deepEqual(fhir!.interpretation, hl7!.interpretation);
      assert.equal(Date.parse(String(fhir!.effectiveDateTime)), Date.parse(String(hl7!.effectiveDateTime)));
      // The FHIR inputs are cited: derivedFrom and the Provenance.
      const derived = (fhir!.derivedFrom as Array<{ reference: string }>).map((d) => d.reference).sort();
      assert.deepEqual(derived, [
        'Observation/same-bp',
        'Observation/same-hr',
        'Observation/same-rr',
        'Observation/same-spo2',
        'Observation/same-temp',
      ]);
      const prov = await get(`/fhir/Provenance?target=${encodeURIComponent(`Observation/${fhir!.id}`)}`);
      const entities = JSON.stringify((prov.entry as Array<{ resource: Json }>)[0]!.resource.entity);
      assert.match(entities, /Observation\/same-bp/);
    });

    it('fills one feature state from HL7 (creatinine, birth date) and FHIR (urea nitrogen)', async () => {
      const lab = [
        'MSH|^~\\&|LAB|HOSP|ML-GATEWAY|HOSP|20240301100000||ORU^R01^ORU_R01|MIX-LAB-1|P|2.5.1',
        'PID|1||MRN-MIX^^^HOSP^MR||Testpatient^Sam||19500101|M',
        'OBR|1||ORDMIX1|80048^Basic metabolic panel^CPT|||20240301100000',
        'OBX|1|NM|2160-0^Creatinine^LN||2.4|mg/dL^^UCUM|||||F|||20240301100000',
      ].join('\r');
      assert.equal(msaCode(await sendMllp(t.gw.mllpPort, lab)), 'AA');
      await t.gw.idle();
      assert.equal((await scores('aki-risk', 'MRN-MIX')).length, 0, 'no urea nitrogen yet: no score');
      // A lab by FHIR, its subject a logical reference in the system configured for authority HOSP.
      const bun = quantityObs(
        'mix-bun',
        { identifier: { system: HOSP_SYSTEM, value: 'MRN-MIX' } },
        '3094-0',
        48,
        'mg/dL',
        '2024-03-01T10:05:00+00:00',
      );
      const r = await post(bun);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      await t.gw.idle();
      const [aki] = await scores('aki-risk', 'MRN-MIX');
      assert.ok(aki, 'scored from HL7 creatinine + FHIR urea nitrogen');
      assert.deepEqual(
        (aki.derivedFrom as Array<{ reference: string }>).map((d) => d.reference),
        ['Observation/mix-bun'],
      );
      const prov = await get(`/fhir/Provenance?target=${encodeURIComponent(`Observation/${aki.id}`)}`);
      const entities = JSON.stringify((prov.entry as Array<{ resource: Json }>)[0]!.resource.entity);
      assert.match(entities, /Observation\/mix-bun/);
      assert.match(entities, /MIX-LAB-1/, 'the HL7 message is named too');
    });

    it('matches a Patient sent earlier to a later Observation by its reference', async () => {
      assert.equal((await post(patient('ref-pat', 'MRN-REF'))).status, 201);
      const subject = { reference: 'Patient/ref-pat' };
      const at = '2024-03-02T08:00:00+00:00';
      const bundle = {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [
          quantityObs('ref-hr', subject, '8867-4', 90, '/min', at),
          quantityObs('ref-rr', subject, '9279-1', 18, '/min', at),
          quantityObs('ref-sbp', subject, '8480-6', 120, 'mm[Hg]', at),
        ].map((resource) => ({ resource, request: { method: 'POST', url: 'Observation' } })),
      };
      const r = await post(bundle);
      assert.equal(r.body.type, 'batch-response');
      await t.gw.idle();
      assert.equal((await scores('vitals-deterioration', 'MRN-REF')).length, 1);
    });

    it('refuses invalid input with an OperationOutcome that points at the element', async () => {
      const notJson = await post('{"resourceType": ');
      assert.equal(notJson.status, 400);
      assert.equal(notJson.body.resourceType, 'OperationOutcome');
      const bad = quantityObs('bad-1', { reference: 'Patient/ref-pat' }, '8867-4', 90, '/min', AT) as Json;
      bad.status = 'done';
      const r = await post({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [{ resource: bad, request: { method: 'POST', url: 'Observation' } }],
      });
      assert.equal(r.status, 400);
      const exprs = (r.body.issue as Array<{ expression: string[] }>).flatMap((i) => i.expression);
      assert.ok(exprs.includes('Bundle.entry[0].resource.status'), exprs.join());
      const unknown = await post(
        quantityObs('orphan', { reference: 'Patient/nobody' }, '8867-4', 90, '/min', AT),
      );
      assert.equal(unknown.status, 422);
      assert.deepEqual((unknown.body.issue as Array<{ expression: string[] }>)[0]!.expression, [
        'Observation.subject',
      ]);
      assert.doesNotMatch(JSON.stringify(unknown.body), /nobody/, 'no input value echoed');
      // A meta.profile that is not a list of canonical URLs: a 400 naming it, not a server error.
      const badMeta = await post({
        ...quantityObs('bad-2', { reference: 'Patient/ref-pat' }, '8867-4', 90, '/min', AT),
        meta: { profile: 'http://example.org/StructureDefinition/vitals' },
      });
      assert.equal(badMeta.status, 400);
      assert.ok(
        (badMeta.body.issue as Array<{ expression: string[] }>).some((i) =>
          i.expression.includes('Observation.meta.profile'),
        ),
        JSON.stringify(badMeta.body),
      );
      const wrongType = await post({ resourceType: 'Bundle', type: 'document', entry: [] });
      assert.equal(wrongType.status, 400);
      const plain = await fetch(`${t.gw.httpUrl}/ingest/fhir`, {
        method: 'POST',
        headers: { ...auth(), 'content-type': 'text/plain' },
        body: 'hello',
      });
      assert.equal(plain.status, 415);
      assert.equal(((await plain.json()) as Json).resourceType, 'OperationOutcome');
      const anonymous = await fetch(`${t.gw.httpUrl}/ingest/fhir`, { method: 'POST', body: '{}' });
      assert.equal(anonymous.status, 401);
      assert.equal(((await anonymous.json()) as Json).resourceType, 'OperationOutcome');
    });

    it('stores a resource version once: a repeat is 200 and not processed again', async () => {
      const obs = quantityObs(
        'dup-1',
        { reference: 'Patient/ref-pat' },
        '8867-4',
        91,
        '/min',
        '2024-03-02T09:00:00+00:00',
      );
      const first = await post(obs);
      assert.equal(first.status, 201);
      const again = await post({ ...obs, meta: { lastUpdated: '2024-03-02T09:00:01Z' } });
      assert.equal(again.status, 200, 'same content, meta aside: the same version');
      assert.match(JSON.stringify(again.body), /not processed again/);
      const v2 = await post({ ...obs, meta: { versionId: '2' } });
      assert.equal(v2.status, 201, 'a new versionId is a new version');
      await t.gw.idle();
      const recs = (await get(
        `/lineage?controlId=${encodeURIComponent('Observation/dup-1|v:2')}`,
      )) as unknown as LineageRecord[];
      assert.equal(recs.length, 1);
      assert.equal(recs[0]!.source.channel, 'fhir');
    });
  });
