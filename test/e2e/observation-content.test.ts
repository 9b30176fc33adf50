import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Resource } from '../../src/fhir/types.js';
import { errorsOf, validateFhir } from '../../src/fhir/validate.js';
import { HOSP_SYSTEM, vitalsTransaction } from '../helpers/fhir-resources.js';
import { sendMllp, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';

type Json = Record<string, unknown>;
const AT = '2024-03-01T10:15:00+00:00';
const AI_TYPE = 'http://hl7.org/fhir/uv/aitransparency/CodeSystem/AIdeviceTypeCS';

describe('the Observation an EHR integration engineer expects (issue 12, item 9)', () => {
  let t: TestGateway;
  const auth = () => ({ authorization: `Bearer ${t.gw.adminToken}` });
  const get = async (path: string) =>
    (await (await fetch(`${t.gw.httpUrl}${path}`, { headers: auth() })).json()) as Json;
  const scoreOf = async (system: string, mrn: string) => {
    const b = await get(
      `/fhir/Observation?code=vitals-deterioration-probability&subject:identifier=${encodeURIComponent(`${system}|${mrn}`)}`,
    );
    return ((b.entry ?? []) as Array<{ resource: Json }>)[0]?.resource;
  };

  before(async () => {
    t = await startTestGateway({
      database: 'pglite',
      config: { patients: { identifierSystems: { HOSP: HOSP_SYSTEM } } },
    });
  });
  after(async () => t?.dispose());

  it('HL7: category, encounter from PV1-19 (with its authority), a coded AI Device', async () => {
    const msg = vitalsOru({ controlId: 'OC-1', mrn: 'MRN-OC1' }).replace(
      '||VN778\r',
      '||VN778^^^WARD5HOSP\r',
    );
    assert.match(msg, /VN778\^\^\^WARD5HOSP/);
    assert.equal(msaCode(await sendMllp(t.gw.mllpPort, msg)), 'AA');
    await t.gw.idle();
    const obs = await scoreOf(HOSP_SYSTEM, 'MRN-OC1');
    assert.ok(obs, 'scored');
    assert.deepEqual(obs.category, [
      {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/observation-category',
            code: 'survey',
            display: 'Survey',
          },
        ],
      },
    ]);
    assert.deepEqual(obs.encounter, {
      type: 'Encounter',
      identifier: { system: 'urn:ml-gateway:visit-number:WARD5HOSP', value: 'VN778' },
    });
    assert.deepEqual(errorsOf(validateFhir(obs as Resource)), []);

    const device = (await get(`/fhir/${(obs.device as { reference: string }).reference}`)) as Resource;
    assert.deepEqual((device.type as { coding: Array<{ system: string; code: string }> }).coding[0], {
      system: AI_TYPE,
      code: 'Artificial-Intelligence',
      display: 'All kinds of Artificial Intelligence',
    });
    assert.deepEqual(errorsOf(validateFhir(device)), []);

    const prov = await get(`/fhir/Provenance?target=${encodeURIComponent(`Observation/${obs.id}`)}`);
    const p = (prov.entry as Array<{ resource: Resource }>)[0]!.resource;
    assert.deepEqual(p.reason, [
      {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue',
            code: 'AIAST',
            display: 'artificial intelligence asserted',
          },
        ],
      },
    ]);
    const agent = (p.agent as Array<{ role: Array<{ coding: Array<{ code: string }> }> }>)[0]!;
    assert.equal(agent.role[0]!.coding[0]!.code, 'Artificial-Intelligence');
  });

  it('FHIR: the literal Patient reference, the encounter and every input in derivedFrom', async () => {
    const tx = vitalsTransaction('MRN-OC2', AT, 'oc2');
    for (const e of tx.entry)
      if (e.resource.resourceType === 'Observation')
        Object.assign(e.resource, { encounter: { reference: 'Encounter/enc-oc2' } });
    const res = await fetch(`${t.gw.httpUrl}/ingest/fhir`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/fhir+json' },
      body: JSON.stringify(tx),
    });
    assert.equal(res.status, 200, await res.text());
    await t.gw.idle();
    const obs = await scoreOf(HOSP_SYSTEM, 'MRN-OC2');
    assert.ok(obs, 'scored');
    assert.equal((obs.subject as { reference?: string }).reference, 'Patient/oc2-pat');
    assert.deepEqual(obs.encounter, { reference: 'Encounter/enc-oc2', type: 'Encounter' });
    assert.deepEqual((obs.derivedFrom as Array<{ reference: string }>).map((d) => d.reference).sort(), [
      'Observation/oc2-bp',
      'Observation/oc2-hr',
      'Observation/oc2-rr',
      'Observation/oc2-spo2',
      'Observation/oc2-temp',
    ]);
    assert.deepEqual(errorsOf(validateFhir(obs as Resource)), []);
  });

  it('the profiles hold what the IG asks: no category, no AI type, no AIAST reason are refused', async () => {
    const obs = await scoreOf(HOSP_SYSTEM, 'MRN-OC1');
    const { category: _c, ...noCategory } = obs!;
    assert.ok(
      errorsOf(validateFhir(noCategory as Resource)).some((i) =>
        i.expression?.includes('Observation.category'),
      ),
    );
    const device = (await get(`/fhir/${(obs!.device as { reference: string }).reference}`)) as Resource;
    assert.ok(errorsOf(validateFhir({ ...device, type: { text: 'artificial intelligence' } })).length > 0);
    const prov = await get(`/fhir/Provenance?target=${encodeURIComponent(`Observation/${obs!.id}`)}`);
    const { reason: _r, ...noReason } = (prov.entry as Array<{ resource: Resource }>)[0]!.resource;
    assert.ok(errorsOf(validateFhir(noReason as Resource)).length > 0);
  });
});
