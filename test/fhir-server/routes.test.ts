import assert from 'node:assert/strict';
import { type AddressInfo, createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { Client } from 'fhir-kit-client';
import { MODEL_VERSION_SYSTEM } from '../../src/fhir/profiles.js';
import type { Bundle, OperationOutcome } from '../../src/fhir/types.js';
import { registerFhirRoutes } from '../../src/fhir-server/routes.js';
import { createFhirStore } from '../../src/fhir-server/store.js';
import { buildPredictionTransaction } from '../../src/writeback/fhir/builders.js';
import { createFhirWriter, FhirWriteError } from '../../src/writeback/fhir/writer.js';
import { type TestDatabase, testDatabases } from '../helpers/db.js';
import { MRN, observation, prediction } from '../helpers/fhir-fixtures.js';

/** A free TCP port (the base URL must be known before the routes are registered). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

async function failure(p: Promise<unknown>): Promise<{ status: number; data: OperationOutcome }> {
  try {
    await p;
  } catch (e) {
    return (e as { response: { status: number; data: OperationOutcome } }).response;
  }
  throw new Error('expected the request to fail');
}

for (const kind of testDatabases()) {
  describe(`FHIR routes over HTTP on ${kind.name}`, () => {
    let t: TestDatabase;
    let app: FastifyInstance;
    let baseUrl: string;
    let client: Client;

    before(async () => {
      t = await kind.open();
      const port = await freePort();
      baseUrl = `http://127.0.0.1:${port}/fhir`;
      app = Fastify();
      registerFhirRoutes(app, createFhirStore(t.db), { prefix: '/fhir', baseUrl });
      await app.listen({ port, host: '127.0.0.1' });
      client = new Client({ baseUrl });
    });
    after(async () => {
      await app.close();
      await t.dispose();
    });

    it('serves a CapabilityStatement', async () => {
      const cs = await client.capabilityStatement();
      assert.equal(cs.resourceType, 'CapabilityStatement');
      assert.equal(cs.fhirVersion, '4.0.1');
    });

    it('create (Location header), read, update, search, conditional create and update', async () => {
      const created = await client.create({ resourceType: 'Observation', body: observation() });
      const id = created.id as string;
      const res = (created as unknown as Record<string, Response>).__response!;
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('location'), `${baseUrl}/Observation/${id}/_history/1`);
      const read = await client.read({ resourceType: 'Observation', id });
      assert.equal(read.status, 'final');
      const updated = await client.update({
        resourceType: 'Observation',
        id,
        body: { ...read, status: 'amended' },
      });
      assert.equal((updated.meta as { versionId: string }).versionId, '2');
      const bundle = (await client.search({
        resourceType: 'Observation',
        searchParams: { 'subject:identifier': `${MRN}|12345`, code: 'http://loinc.org|2160-0' },
      })) as Bundle;
      assert.equal(bundle.type, 'searchset');
      assert.equal(bundle.total, 1);
      assert.equal(bundle.entry?.[0]?.fullUrl, `${baseUrl}/Observation/${id}`);
      const again = await client.create({
        resourceType: 'Observation',
        body: observation(),
        options: { headers: { 'If-None-Exist': 'identifier=urn:test|obs-2160-0-12345' } },
      });
      assert.equal(again.id, id);
      const cu = await client.update({
        resourceType: 'Observation',
        searchParams: { identifier: 'urn:test|obs-2160-0-12345' },
        body: { ...observation(), status: 'corrected' },
      });
      assert.equal(cu.id, id);
      assert.equal(cu.status, 'corrected');
    });

    it('pages a search with next links that fhir-kit-client follows to the last match', async () => {
      for (let i = 0; i < 5; i++)
        await client.update({
          resourceType: 'Patient',
          id: `page-${i}`,
          body: {
            resourceType: 'Patient',
            id: `page-${i}`,
            identifier: [{ system: 'http://paging.test', value: 'ward-7' }],
          },
        });
      const ids: string[] = [];
      let page = (await client.search({
        resourceType: 'Patient',
        searchParams: { identifier: 'http://paging.test|ward-7', _count: '2' },
      })) as Bundle;
      assert.equal(page.total, 5);
      for (let n = 0; page && n < 10; n++) {
        ids.push(...(page.entry ?? []).map((e) => String(e.resource?.id)));
        const next = page.link?.find((l) => l.relation === 'next');
        if (!next) break;
        assert.match(next.url, /_offset=\d+/);
        page = (await client.nextPage({ bundle: page as never })) as Bundle;
      }
      assert.deepEqual(ids, ['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
      const bad = await failure(client.search({ resourceType: 'Patient', searchParams: { _offset: '-1' } }));
      assert.equal(bad.status, 400);
    });

    it('answers errors as OperationOutcomes with a fitting status', async () => {
      const nf = await failure(client.read({ resourceType: 'Observation', id: 'missing' }));
      assert.equal(nf.status, 404);
      assert.equal(nf.data.resourceType, 'OperationOutcome');
      const { status: _s, ...bad } = observation();
      const inv = await failure(client.create({ resourceType: 'Observation', body: bad }));
      assert.equal(inv.status, 400);
      assert.ok(inv.data.issue.some((i) => i.expression?.includes('Observation.status')));
      const badJson = await fetch(`${baseUrl}/Observation`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body: '{not json',
      });
      assert.equal(badJson.status, 400);
      assert.equal(((await badJson.json()) as OperationOutcome).resourceType, 'OperationOutcome');
      const media = await fetch(`${baseUrl}/Observation`, {
        method: 'POST',
        headers: { 'content-type': 'text/xml' },
        body: '<Observation/>',
      });
      assert.equal(media.status, 415);
      assert.equal(((await media.json()) as OperationOutcome).resourceType, 'OperationOutcome');
      const unknown = await fetch(`${baseUrl}/NoSuchType/1`);
      assert.equal(unknown.status, 404);
      const plainJson = await fetch(`${baseUrl}/Patient`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ resourceType: 'Patient' }),
      });
      assert.equal(plainJson.status, 201);
    });

    it('a prediction written twice leaves one Observation, one Provenance, one Device', async () => {
      const writer = createFhirWriter({ baseUrl, timeoutMs: 5000 });
      const bundle = buildPredictionTransaction(prediction());
      const first = await writer.write(bundle);
      const second = await writer.write(
        buildPredictionTransaction(prediction({ issuedAt: '2024-05-01T10:01:00Z' })),
      );
      assert.deepEqual(second, first);
      assert.match(first.observation, /^Observation\/[A-Za-z0-9\-.]+$/);
      const count = async (type: string, params: Record<string, string>) =>
        (await writer.search(type, params)).total;
      assert.equal(
        await count('Observation', { 'subject:identifier': `${MRN}|12345`, code: 'aki-risk-48h' }),
        1,
      );
      assert.equal(await count('Provenance', { target: first.observation }), 1);
      assert.equal(
        await count('Device', { identifier: `${MODEL_VERSION_SYSTEM}|aki-risk|1.2.0|${'a'.repeat(64)}` }),
        1,
      );
      const obs = await writer.read('Observation', first.observation.split('/')[1]!);
      assert.deepEqual(obs.device, { reference: first.device, display: 'aki-risk 1.2.0' });
      const prov = await writer.read('Provenance', first.provenance.split('/')[1]!);
      assert.deepEqual(prov.target, [{ reference: first.observation }]);
    });

    it('writer errors carry the OperationOutcome text, not the body', async () => {
      const writer = createFhirWriter({ baseUrl });
      const bundle = buildPredictionTransaction(prediction({ eventKey: 'other' }));
      const obs = bundle.entry![1]!.resource!;
      delete obs.status;
      await assert.rejects(writer.write(bundle), (e: unknown) => {
        assert.ok(e instanceof FhirWriteError);
        assert.equal(e.status, 400);
        assert.match(e.message, /Bundle\.entry\[1\]\.resource\.status/);
        assert.doesNotMatch(e.message, /12345/);
        return true;
      });
      const down = createFhirWriter({ baseUrl: 'http://127.0.0.1:1/fhir', timeoutMs: 2000 });
      await assert.rejects(down.write(bundle), FhirWriteError);
    });
  });
}
