import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { validateFhir } from '../../src/fhir/validate.js';
import type { LineageRecord } from '../../src/lineage/store.js';
import { sendMllp, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';

type Bundle = { entry?: Array<{ resource: Record<string, unknown> }> };

/** MSH-4 `CENTRAL LAB^2.16.840.1.113883.19.4.6^ISO`: a space, carets, an OID. */
const FIXTURE = readFileSync('fixtures/hl7v2/oru-r01-lab-bmp-crlf-bom-v251.hl7', 'utf8');

describe('sender names with spaces get results, and do not spoil the next sender (issue 12, item 2)', () => {
  let t: TestGateway;
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${t.gw.httpUrl}${path}`, {
      headers: { authorization: `Bearer ${t.gw.adminToken}` },
    });
    return (await res.json()) as T;
  };
  const stagesOf = async (controlId: string) =>
    (await get<LineageRecord[]>(`/lineage?controlId=${encodeURIComponent(controlId)}`))[0]?.stages ?? [];

  before(async () => {
    t = await startTestGateway({ database: 'pglite' });
  });
  after(async () => t?.dispose());

  it('the lab fixture is scored and written; a later panel of the same patient from a plain sender too', async () => {
    assert.equal(msaCode(await sendMllp(t.gw.mllpPort, FIXTURE)), 'CA'); // MSH-15 set: enhanced mode
    await t.gw.idle();
    const first = await stagesOf('LAB-0000772');
    assert.ok(
      first.some((s) => s.stage === 'written'),
      `stages: ${JSON.stringify(first.map((s) => [s.stage, s.reason ?? '']))}`,
    );

    // Same patient, well-named sender, within the lookback of the first panel's values.
    const second = FIXTURE.replace('|CENTRAL LAB^2.16.840.1.113883.19.4.6^ISO|', '|GENLAB|')
      .replace('LAB-0000772', 'LAB-0000773')
      .replace('||2.1|mg/dL', '||2.4|mg/dL');
    assert.equal(msaCode(await sendMllp(t.gw.mllpPort, second)), 'CA');
    await t.gw.idle();
    const stages = await stagesOf('LAB-0000773');
    assert.ok(
      stages.some((s) => s.stage === 'written'),
      `stages: ${JSON.stringify(stages.map((s) => [s.stage, s.reason ?? '']))}`,
    );

    const provs = await get<Bundle>('/fhir/Provenance?_count=50');
    const systems = new Set<string>();
    for (const { resource } of provs.entry ?? []) {
      assert.deepEqual(
        validateFhir(resource as never).filter((i) => i.severity === 'error'),
        [],
      );
      for (const e of resource.entity as Array<{ what: { identifier?: { system: string } } }>)
        if (e.what.identifier) systems.add(e.what.identifier.system);
    }
    assert.ok(
      systems.has('urn:hl7v2:msh10:LABSYS%7CCENTRAL%20LAB%5E2.16.840.1.113883.19.4.6%5EISO'),
      [...systems].join(),
    );
    assert.ok(systems.has('urn:hl7v2:msh10:LABSYS%7CGENLAB'), [...systems].join());
  });

  it('long and odd contents (MSH-3, MSH-10, PID-3) are written and found again', async () => {
    const mrn = `M${'0123456789abcdefghij'.repeat(75)}`; // 1,501 characters
    const app = `Labor Zürich & Söhne #2 'Nord' ${'x'.repeat(300)}`;
    const controlId = `C&#'é ${'y'.repeat(400)}`;
    const msg = vitalsOru({ controlId, mrn }).replace('|VITALS|', `|${app}|`);
    assert.equal(msaCode(await sendMllp(t.gw.mllpPort, msg)), 'AA');
    await t.gw.idle();
    const stages = await stagesOf(controlId);
    assert.ok(
      stages.some((s) => s.stage === 'written'),
      `stages: ${JSON.stringify(stages.map((s) => [s.stage, s.reason ?? '']))}`,
    );
    const q = encodeURIComponent(`urn:ml-gateway:patient-id:HOSP|${mrn}`);
    const found = await get<Bundle>(
      `/fhir/Observation?code=vitals-deterioration-probability&subject:identifier=${q}`,
    );
    assert.equal(found.entry?.length, 1, 'found by its 1,501-character identifier');
  });
});
