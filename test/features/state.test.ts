import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FeatureValue } from '../../src/features/extract.js';
import { loadMappings, type Mapping } from '../../src/features/mapping.js';
import { assembleVector, createFeatureStore } from '../../src/features/state.js';
import { testDatabases } from '../helpers/db.js';

const { mappings } = loadMappings('mappings');
const aki = mappings.find((m) => m.model === 'aki-risk') as Mapping;

const fv = (
  feature: string,
  value: number,
  observedAt: string,
  unit = 'mg/dL',
  extra: Partial<FeatureValue> = {},
) => ({
  feature,
  value,
  unit,
  observedAt,
  sourceRef: `ref-${value}`,
  ...extra,
});

for (const kind of testDatabases()) {
  describe(`feature store (${kind.name})`, () => {
    it('keeps the newest value by observation time', async () => {
      const { db, dispose } = await kind.open();
      try {
        const store = createFeatureStore(db);
        await store.apply('HOSP|1', 'aki-risk', [
          fv('creatinine', 1.1, '2024-06-01T10:00:00Z', 'mg/dL', { sourceUnit: 'umol/L', sourceValue: 97.2 }),
          fv('sodium', 140, '2024-06-01T10:00:00Z', 'mmol/L', { sourceReference: 'Observation/na' }),
        ]);
        // Older value arriving later: ignored. Newer one: replaces. Same batch: newest wins.
        await store.apply('HOSP|1', 'aki-risk', [fv('creatinine', 0.9, '2024-06-01T08:00:00Z')]);
        await store.apply('HOSP|1', 'aki-risk', [
          fv('sodium', 135, '2024-06-01T12:00:00+02:00', 'mmol/L'),
          fv('sodium', 138, '2024-06-01T11:00:00Z', 'mmol/L'),
          fv('sodium', 141, '2024-06-01T09:00:00Z', 'mmol/L'),
        ]);
        await store.apply('HOSP|2', 'aki-risk', [fv('creatinine', 3, '2024-06-02T00:00:00Z')]);
        await store.apply('HOSP|1', 'vitals-deterioration', [fv('age', 64, '2024-06-02T00:00:00Z', 'a')]);
        await store.apply('HOSP|1', 'aki-risk', []);

        const snap = await store.snapshot('HOSP|1', 'aki-risk');
        assert.deepEqual(snap, [
          {
            feature: 'creatinine',
            value: 1.1,
            unit: 'mg/dL',
            observedAt: '2024-06-01T10:00:00.000Z',
            sourceRef: 'ref-1.1',
            sourceUnit: 'umol/L',
            sourceValue: 97.2,
          },
          {
            feature: 'sodium',
            value: 138,
            unit: 'mmol/L',
            observedAt: '2024-06-01T11:00:00.000Z',
            sourceRef: 'ref-138',
          },
        ]);
        assert.deepEqual(await store.snapshot('HOSP|3', 'aki-risk'), []);
        assert.equal((await store.snapshot('HOSP|2', 'aki-risk'))[0]?.value, 3);

        // A correction at the same time replaces the stored value.
        await store.apply('HOSP|1', 'aki-risk', [fv('creatinine', 1.2, '2024-06-01T10:00:00Z')]);
        assert.equal((await store.snapshot('HOSP|1', 'aki-risk'))[0]?.value, 1.2);

        // A re-scoring group reads its patients in one query: the same snapshots, the state-less absent.
        const group = await store.snapshots(['HOSP|2', 'HOSP|3', 'HOSP|1'], 'aki-risk');
        assert.deepEqual([...group.keys()].sort(), ['HOSP|1', 'HOSP|2']);
        for (const key of ['HOSP|1', 'HOSP|2'])
          assert.deepEqual(group.get(key), await store.snapshot(key, 'aki-risk'), key);
        assert.deepEqual((await store.snapshots([], 'aki-risk')).size, 0);
      } finally {
        await dispose();
      }
    });
  });
}

describe('assembleVector', () => {
  const at = '2024-06-04T09:00:00Z';

  it('builds the vector in mapping order, imputing where allowed', () => {
    const state = [
      fv('age', 64, '2024-06-04T08:00:00Z', 'a'),
      fv('urea_nitrogen', 20, '2024-06-03T08:00:00Z'),
      fv('creatinine', 1.4, '2024-06-04T08:30:00Z'),
    ];
    const r = assembleVector(aki, state, at);
    assert.equal(r.complete, true);
    assert.deepEqual(r.vector, [1.4, 20, 4.2, 140, 64]);
    assert.deepEqual(r.imputed, ['potassium', 'sodium']);
    assert.deepEqual(r.missing, []);
    assert.deepEqual(
      r.used.map((u) => u.feature),
      ['creatinine', 'urea_nitrogen', 'age'],
    );
    assert.equal(r.newestObservedAt, '2024-06-04T08:30:00.000Z');
  });

  it('drops values older than the lookback: required ones make it incomplete', () => {
    const state = [
      fv('creatinine', 1.4, '2024-06-01T08:59:59Z'), // 72h + 1s before `at`
      fv('urea_nitrogen', 20, '2024-06-01T09:00:00Z'), // exactly 72h: still counts
      fv('potassium', 5.1, '2024-05-01T00:00:00Z', 'mmol/L'),
      fv('age', 64, '2020-01-01T00:00:00Z', 'a'), // no lookback for age
    ];
    const r = assembleVector(aki, state, at);
    assert.equal(r.complete, false);
    assert.deepEqual(r.missing, ['creatinine']);
    assert.deepEqual(r.imputed, ['potassium', 'sodium']);
    assert.ok(Number.isNaN(r.vector[0]));
    assert.deepEqual(r.vector.slice(1), [20, 4.2, 140, 64]);
    assert.equal(r.newestObservedAt, '2024-06-01T09:00:00.000Z');
  });

  it('ignores a state value in a unit other than the target unit', () => {
    const r = assembleVector(aki, [fv('creatinine', 97, '2024-06-04T08:00:00Z', 'umol/L')], at);
    assert.deepEqual(r.missing, ['creatinine', 'urea_nitrogen', 'age']);
    assert.equal(r.newestObservedAt, undefined);
    assert.throws(() => assembleVector(aki, [], 'yesterday'), /not an ISO/);
  });
});
