import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openDatabase } from '../../src/db/open.js';
import { FhirOutcomeError } from '../../src/fhir/outcome.js';
import type { Bundle, Resource } from '../../src/fhir/types.js';
import { createFhirStore } from '../../src/fhir-server/store.js';
import { testDatabases } from '../helpers/db.js';
import { MRN, observation } from '../helpers/fhir-fixtures.js';

const rejects = (p: Promise<unknown>, status: number, expr?: RegExp) =>
  assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof FhirOutcomeError, String(e));
    assert.equal(e.status, status);
    if (expr)
      assert.ok(
        e.outcome.issue.some((i) => i.expression?.some((x) => expr.test(x))),
        JSON.stringify(e.outcome),
      );
    return true;
  });

for (const kind of testDatabases()) {
  describe(`FHIR store on ${kind.name}`, () => {
    const withStore = async (fn: (store: ReturnType<typeof createFhirStore>) => Promise<void>) => {
      const t = await kind.open();
      try {
        await fn(createFhirStore(t.db));
      } finally {
        await t.dispose();
      }
    };

    it('creates, reads, updates with versions; identical update keeps the version', () =>
      withStore(async (store) => {
        const c = await store.create(observation());
        assert.equal(c.status, 201);
        const id = c.resource.id!;
        assert.equal(c.resource.meta?.versionId, '1');
        assert.ok(c.resource.meta?.lastUpdated);
        const read = await store.read('Observation', id);
        assert.equal(read.status, 'final');
        const u = await store.update('Observation', id, { ...read, status: 'amended' });
        assert.equal(u.outcome, 'updated');
        assert.equal(u.resource.meta?.versionId, '2');
        const same = await store.update('Observation', id, { ...u.resource });
        assert.equal(same.outcome, 'unchanged');
        assert.equal(same.resource.meta?.versionId, '2');
        assert.equal((await store.vread('Observation', id, '1')).status, 'final');
        const made = await store.update('Patient', 'p-new', { resourceType: 'Patient', active: true });
        assert.equal(made.status, 201);
        await rejects(store.read('Observation', 'nope'), 404);
      }));

    it('rejects invalid resources with a 400 OperationOutcome and an expression', () =>
      withStore(async (store) => {
        const { status: _s, ...noStatus } = observation();
        await rejects(store.create(noStatus as Resource), 400, /Observation\.status/);
        await rejects(store.create({ ...observation(), status: 'bogus' }), 400, /Observation\.status/);
        await rejects(store.update('Observation', 'x', { ...observation(), id: 'y' }), 400);
      }));

    it('searches by identifier, subject, patient, code, _id, with _count and _sort', () =>
      withStore(async (store) => {
        const a = (await store.create(observation('2160-0', '1'))).resource;
        const b = (await store.create(observation('2160-0', '2'))).resource;
        await store.create(observation('718-7', '1'));
        const total = async (q: string) => (await store.search('Observation', q)).total;
        assert.equal(await total('code=http://loinc.org|2160-0'), 2);
        assert.equal(await total('code=718-7'), 1);
        assert.equal(await total('code=2160-0,718-7'), 3);
        assert.equal(await total(`subject:identifier=${encodeURIComponent(`${MRN}|1`)}`), 2);
        assert.equal(await total(`patient:identifier=${encodeURIComponent(`${MRN}|2`)}`), 1);
        assert.equal(await total('subject=Patient/p1'), 3);
        assert.equal(await total('patient=p1&code=718-7'), 1);
        assert.equal(await total('identifier=urn:test|obs-2160-0-2'), 1);
        assert.equal(await total('identifier=obs-2160-0-1'), 1);
        assert.equal(await total(`_id=${a.id}`), 1);
        // An update re-indexes: the old code no longer finds it, the new one does; an identical
        // update leaves the index (and the version) as it is.
        const recoded = { ...a, code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] } };
        assert.equal((await store.update('Observation', a.id!, recoded)).outcome, 'updated');
        assert.equal(await total('code=2160-0'), 1);
        assert.equal(await total('code=718-7'), 2);
        assert.equal((await store.update('Observation', a.id!, recoded)).outcome, 'unchanged');
        assert.equal(await total('code=718-7'), 2);
        assert.equal(await total('identifier=obs-2160-0-1'), 1);
        const first = (await store.vread('Observation', a.id!, '1')) as {
          code?: { coding?: Array<{ code: string }> };
        };
        assert.equal(first.code?.coding?.[0]?.code, '2160-0');
        const page = await store.search('Observation', {
          _count: '1',
          _sort: '-_lastUpdated',
          code: '2160-0',
        });
        assert.equal(page.type, 'searchset');
        assert.equal(page.total, 1);
        assert.equal(page.entry?.length, 1);
        assert.equal(page.entry?.[0]?.resource?.id, b.id);
        await rejects(store.search('Observation', 'unknown-param=1'), 400);
      }));

    it('conditional create and conditional update', () =>
      withStore(async (store) => {
        const crit = { ifNoneExist: 'identifier=urn:test|obs-2160-0-12345' };
        const first = await store.create(observation(), crit);
        const again = await store.create(observation(), crit);
        assert.equal(again.outcome, 'matched');
        assert.equal(again.status, 200);
        assert.equal(again.resource.id, first.resource.id);
        const upd = await store.conditionalUpdate('Observation', 'identifier=urn:test|obs-2160-0-12345', {
          ...observation(),
          status: 'corrected',
        });
        assert.equal(upd.resource.id, first.resource.id);
        assert.equal(upd.resource.meta?.versionId, '2');
        const created = await store.conditionalUpdate(
          'Observation',
          { identifier: 'urn:test|new' },
          {
            ...observation(),
            identifier: [{ system: 'urn:test', value: 'new' }],
          },
        );
        assert.equal(created.status, 201);
        await store.create({ ...observation(), identifier: [{ system: 'urn:test', value: 'dup' }] });
        await store.create({ ...observation(), identifier: [{ system: 'urn:test', value: 'dup' }] });
        await rejects(store.conditionalUpdate('Observation', 'identifier=urn:test|dup', observation()), 412);
        assert.equal((await store.search('Observation', {})).total, 4);
      }));

    it('transaction resolves urn:uuid references, also to a matched ifNoneExist', () =>
      withStore(async (store) => {
        const existing = await store.update('Patient', 'pat-1', {
          resourceType: 'Patient',
          identifier: [{ system: MRN, value: '777' }],
        });
        const bundle: Bundle = {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [
            {
              fullUrl: 'urn:uuid:11111111-1111-4111-8111-111111111111',
              resource: {
                ...observation(),
                subject: { reference: 'urn:uuid:22222222-2222-4222-8222-222222222222' },
              },
              request: { method: 'POST', url: 'Observation' },
            },
            {
              fullUrl: 'urn:uuid:22222222-2222-4222-8222-222222222222',
              resource: { resourceType: 'Patient', identifier: [{ system: MRN, value: '777' }] },
              request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${MRN}|777` },
            },
            {
              fullUrl: 'urn:uuid:33333333-3333-4333-8333-333333333333',
              resource: {
                resourceType: 'Provenance',
                target: [{ reference: 'urn:uuid:11111111-1111-4111-8111-111111111111' }],
                recorded: '2024-01-01T00:00:00Z',
                agent: [{ who: { reference: 'urn:uuid:22222222-2222-4222-8222-222222222222' } }],
              },
              request: { method: 'PUT', url: 'Provenance/prov-1' },
            },
          ],
        };
        const res = await store.processBundle(bundle);
        assert.equal(res.type, 'transaction-response');
        assert.deepEqual(
          res.entry?.map((e) => e.response?.status),
          ['201 Created', '200 OK', '201 Created'],
        );
        assert.match(res.entry?.[0]?.response?.location ?? '', /^Observation\/[^/]+\/_history\/1$/);
        assert.equal(res.entry?.[1]?.response?.location, `Patient/${existing.resource.id}/_history/1`);
        const obsId = res.entry?.[0]?.response?.location?.split('/')[1];
        const obs = await store.read('Observation', obsId!);
        assert.deepEqual(obs.subject, { reference: 'Patient/pat-1' });
        const prov = await store.read('Provenance', 'prov-1');
        assert.deepEqual(prov.target, [{ reference: `Observation/${obsId}` }]);
        assert.deepEqual((prov.agent as Array<{ who: unknown }>)[0]?.who, { reference: 'Patient/pat-1' });
      }));

    it('transaction is all or nothing; batch is per entry', () =>
      withStore(async (store) => {
        const bad: Bundle = {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [
            { resource: observation('1-1'), request: { method: 'POST', url: 'Observation' } },
            {
              resource: { ...observation('2-2'), status: 'nope' },
              request: { method: 'POST', url: 'Observation' },
            },
          ],
        };
        await rejects(store.processBundle(bad), 400, /^Bundle\.entry\[1\]\.resource\.status$/);
        assert.equal((await store.search('Observation', {})).total, 0);
        const res = await store.processBundle({ ...bad, type: 'batch' });
        assert.equal(res.type, 'batch-response');
        assert.equal(res.entry?.[0]?.response?.status, '201 Created');
        assert.equal(res.entry?.[1]?.response?.status, '400');
        assert.equal(res.entry?.[1]?.response?.outcome?.resourceType, 'OperationOutcome');
        assert.equal((await store.search('Observation', {})).total, 1);
      }));

    it('concurrent conditional creates yield one resource', () =>
      withStore(async (store) => {
        const crit = { ifNoneExist: 'identifier=urn:test|race' };
        const r = { ...observation(), identifier: [{ system: 'urn:test', value: 'race' }] };
        const results = await Promise.all(Array.from({ length: 5 }, () => store.create(r, crit)));
        assert.equal(new Set(results.map((x) => x.resource.id)).size, 1);
        assert.equal((await store.search('Observation', { identifier: 'urn:test|race' })).total, 1);
      }));

    it('concurrent transactions writing the same resources in any entry order all commit (no deadlock)', () =>
      withStore(async (store) => {
        // Each transaction creates its own Observation and puts two shared resources, half of them
        // in one order and half in the other: without one lock order, PostgreSQL aborts some with a
        // deadlock, which the EHR's client sees as a 500.
        const shared = (n: number): Array<NonNullable<Bundle['entry']>[number]> => [
          {
            resource: { resourceType: 'Device', id: 'shared-a', status: 'active', serialNumber: String(n) },
            request: { method: 'PUT', url: 'Device/shared-a' },
          },
          {
            resource: { resourceType: 'Device', id: 'shared-b', status: 'active', serialNumber: String(n) },
            request: { method: 'PUT', url: 'Device/shared-b' },
          },
        ];
        const bundles: Bundle[] = Array.from({ length: 12 }, (_, n) => ({
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [
            { resource: observation(`${n}-${n}`), request: { method: 'POST', url: 'Observation' } },
            ...(n % 2 ? shared(n) : shared(n).reverse()),
          ],
        }));
        const results = await Promise.allSettled(bundles.map((b) => store.processBundle(b)));
        assert.deepEqual(
          results
            .filter((r) => r.status === 'rejected')
            .map((r) => String((r as PromiseRejectedResult).reason)),
          [],
        );
        assert.equal((await store.search('Observation', {})).total, bundles.length);
      }));
  });
}

describe('FHIR store persistence', () => {
  it('survives closing and reopening an on-disk PGlite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fhirstore-'));
    try {
      let db = await openDatabase({ dataDir: dir });
      const created = await createFhirStore(db).create(observation());
      await db.close();
      db = await openDatabase({ dataDir: dir });
      const read = await createFhirStore(db).read('Observation', created.resource.id!);
      assert.deepEqual(read, created.resource);
      await db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
