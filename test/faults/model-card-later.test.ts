import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AI_MODEL_CARD_PROFILE, MODEL_CARD_DOCUMENT_PROFILE } from '../../src/fhir/profiles.js';
import type { Resource } from '../../src/fhir/types.js';
import { sendMllp, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';
import { PG_URL, pgSchema, startFhirServer } from './harness.js';

type Entity = { role: string; what: { reference?: string } };

describe('a model card the FHIR target could not take at start is written with the first result (issue 12, item 6)', {
  skip: !PG_URL && 'needs DATABASE_URL',
}, () => {
  let fhirSchema: Awaited<ReturnType<typeof pgSchema>>;
  let fhir: Awaited<ReturnType<typeof startFhirServer>>;
  let t: TestGateway;

  before(async () => {
    fhirSchema = await pgSchema('fhir');
    fhir = await startFhirServer(fhirSchema.schema);
    await fhir.stop(); // down while the gateway starts (and tries to publish its live cards)
    t = await startTestGateway({
      database: 'postgres',
      config: {
        fhir: {
          baseUrl: fhir.baseUrl,
          timeoutMs: 1000,
          circuitBreaker: { failureThreshold: 50, cooldownMs: 100 },
        },
        processing: { maxAttempts: 5, backoffMs: 50 },
      },
    });
  });
  after(async () => {
    await t?.dispose();
    await fhir?.close();
    await fhirSchema?.dispose();
  });

  it('every Provenance names a card DocumentReference that exists', async () => {
    await new Promise((r) => setTimeout(r, 300)); // the start-up publication has failed by now
    await fhir.start();
    for (const i of [1, 2])
      assert.equal(
        msaCode(await sendMllp(t.gw.mllpPort, vitalsOru({ controlId: `CARD-${i}`, mrn: `C${i}` }))),
        'AA',
      );
    await t.gw.idle(30_000);

    const provs = await fhir.store.search('Provenance', '_count=100');
    assert.equal(provs.entry?.length, 2, 'one Provenance per result');
    for (const { resource } of provs.entry ?? []) {
      const card = (resource!.entity as Entity[]).find((e) =>
        e.what.reference?.startsWith('DocumentReference/'),
      );
      assert.ok(card, 'the Provenance names the model card');
      assert.equal(card.role, 'derivation');
      const [, id] = card.what.reference!.split('/');
      const doc = (await fhir.store.read('DocumentReference', id!)) as Resource;
      assert.equal(doc.resourceType, 'DocumentReference');
      assert.deepEqual(doc.meta?.profile, [MODEL_CARD_DOCUMENT_PROFILE, AI_MODEL_CARD_PROFILE]);
      assert.equal((doc.type as { coding: Array<{ code: string }> }).coding[0]!.code, 'AIModelCard');
    }
    // The Device names the same card (AI Transparency on FHIR: modelCardDescription).
    const devices = await fhir.store.search('Device', '_count=10');
    const device = devices.entry![0]!.resource!;
    const ext = (device.extension as Array<{ url: string; valueReference?: { reference: string } }>).find(
      (e) => e.url.endsWith('aitransparency.modelCardDescription'),
    );
    assert.ok(ext?.valueReference);
    await fhir.store.read('DocumentReference', ext.valueReference.reference.split('/')[1]!);
  });
});
