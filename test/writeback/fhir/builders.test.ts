import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  AI_DEVICE_PROFILE,
  AI_PROVENANCE_PROFILE,
  AIAST,
  MODEL_DEVICE_PROFILE,
  PREDICTION_OBSERVATION_PROFILE,
  PREDICTION_PROVENANCE_PROFILE,
} from '../../../src/fhir/profiles.js';
import type { Resource } from '../../../src/fhir/types.js';
import { errorsOf, PROFILES_DIR, validateFhir } from '../../../src/fhir/validate.js';
import { buildPredictionTransaction, deterministicId } from '../../../src/writeback/fhir/builders.js';
import { prediction } from '../../helpers/fhir-fixtures.js';

const resources = (b = buildPredictionTransaction(prediction())) => b.entry!.map((e) => e.resource!);
const expressions = (r: Resource) => errorsOf(validateFhir(r)).flatMap((i) => i.expression ?? []);

describe('prediction resources', () => {
  it('deterministicId is stable, FHIR-id shaped and distinct per input', () => {
    const a = deterministicId('x', 'y');
    assert.equal(a, deterministicId('x', 'y'));
    assert.notEqual(a, deterministicId('xy'));
    assert.match(a, /^[A-Za-z0-9\-.]{1,64}$/);
  });

  it('the same input builds the same transaction', () => {
    assert.deepEqual(buildPredictionTransaction(prediction()), buildPredictionTransaction(prediction()));
    const other = buildPredictionTransaction(prediction({ eventKey: 'msg-0002' }));
    assert.notDeepEqual(
      other.entry![1]!.request,
      buildPredictionTransaction(prediction()).entry![1]!.request,
    );
  });

  it('Device, Observation and Provenance validate against R4 and their profiles', () => {
    const [device, obs, prov] = resources(
      buildPredictionTransaction(
        prediction({
          derivedFrom: ['Observation/lab-1'],
          patient: { system: 'urn:oid:1.2.3', value: '9', reference: 'Patient/p9' },
        }),
      ),
    );
    // The project profiles, and where HL7 AI Transparency on FHIR defines one, its profile too.
    assert.deepEqual(device!.meta?.profile, [MODEL_DEVICE_PROFILE, AI_DEVICE_PROFILE]);
    assert.deepEqual(obs!.meta?.profile, [PREDICTION_OBSERVATION_PROFILE]);
    assert.deepEqual(prov!.meta?.profile, [PREDICTION_PROVENANCE_PROFILE, AI_PROVENANCE_PROFILE]);
    for (const r of [device!, obs!, prov!]) assert.deepEqual(errorsOf(validateFhir(r)), [], r.resourceType);
    assert.deepEqual(obs!.subject, {
      type: 'Patient',
      identifier: { system: 'urn:oid:1.2.3', value: '9' },
      reference: 'Patient/p9',
    });
    assert.deepEqual(obs!.derivedFrom, [{ reference: 'Observation/lab-1' }]);
    assert.equal(obs!.device && (obs!.device as { reference: string }).reference, `Device/${device!.id}`);
  });

  it('catches a missing status and a missing AIAST label, with expressions', () => {
    const obs = resources()[1]!;
    const { status: _s, ...noStatus } = obs;
    assert.ok(expressions(noStatus as Resource).includes('Observation.status'));
    const noLabel = { ...obs, meta: { ...obs.meta, security: [{ system: 'urn:x', code: 'y' }] } };
    assert.ok(expressions(noLabel).includes('Observation.meta.security'));
    const noSecurity = { ...obs, meta: { profile: obs.meta!.profile! } };
    assert.ok(expressions(noSecurity).includes('Observation.meta.security'));
    assert.ok(expressions({ ...obs, status: 'done' }).includes('Observation.status'));
    const { device: _d, ...noDevice } = obs;
    assert.ok(expressions(noDevice as Resource).includes('Observation.device'));
    assert.ok(
      expressions({ ...obs, valueQuantity: { value: 1, code: '1' } }).includes(
        'Observation.valueQuantity.system',
      ),
    );
  });

  it('holds the Observation to the value types its profile allows', () => {
    // The profile allows valueQuantity alone; a valueString in its place is refused.
    const { valueQuantity: _v, ...obs } = resources()[1]!;
    for (const value of [{ valueString: 'high' }, { valueCodeableConcept: { text: 'high' } }]) {
      const exprs = expressions({ ...obs, ...value } as Resource);
      assert.ok(exprs.includes(`Observation.${Object.keys(value)[0]}`), exprs.join());
      assert.ok(exprs.includes('Observation.value[x]'), exprs.join());
    }
  });

  it('reports a malformed meta.profile as an issue, whatever the resource', () => {
    const obs = resources()[1]!;
    for (const [profile, where] of [
      [PREDICTION_OBSERVATION_PROFILE, 'Observation.meta.profile'],
      [[12], 'Observation.meta.profile[0]'],
      [[PREDICTION_OBSERVATION_PROFILE, { url: 'x' }], 'Observation.meta.profile[1]'],
    ] as const) {
      const exprs = expressions({ ...obs, meta: { ...obs.meta, profile } } as unknown as Resource);
      assert.ok(
        exprs.some((e) => e.startsWith(where)),
        `${JSON.stringify(profile)}: ${exprs.join()}`,
      );
    }
    const patient = { resourceType: 'Patient', meta: { profile: 'http://example.org/p' } };
    assert.ok(expressions(patient as unknown as Resource).includes('Patient.meta.profile'));
  });

  it('checks required codes of Device and Provenance', () => {
    const [device, , prov] = resources();
    assert.ok(expressions({ ...device!, status: 'on' }).includes('Device.status'));
    const entity = [{ role: 'input', what: { reference: 'Observation/1' } }];
    assert.ok(expressions({ ...prov!, entity }).includes('Provenance.entity[0].role'));
  });

  it('labels the Observation AIAST', () => {
    const obs = resources()[1]!;
    assert.ok(obs.meta?.security?.some((c) => c.system === AIAST.system && c.code === 'AIAST'));
  });

  it('profiles carry a differential and a complete snapshot', () => {
    for (const name of ['ml-prediction-observation', 'ml-model-device', 'ml-prediction-provenance']) {
      const sd = JSON.parse(readFileSync(join(PROFILES_DIR, `${name}.json`), 'utf8'));
      assert.ok(sd.differential.element.length > 0);
      const ids = new Set(sd.snapshot.element.map((e: { id: string }) => e.id));
      for (const d of sd.differential.element) assert.ok(ids.has(d.id), `${name}: ${d.id}`);
      assert.ok(ids.has(`${sd.type}.id`) && ids.has(`${sd.type}.meta`));
    }
  });
});
