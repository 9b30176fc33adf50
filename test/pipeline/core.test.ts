/**
 * The pure pipeline core (src/pipeline/core.ts, score.ts, failure.ts) without a database: real
 * mappings and the bundled ONNX models, events normalized from HL7 text, a fixed clock.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FeatureValue } from '../../src/features/extract.js';
import { loadMappingsOrThrow } from '../../src/features/load-or-throw.js';
import { parseHl7 } from '../../src/hl7/parser.js';
import { loadModels, ModelInputError, type ModelRegistry } from '../../src/models/runtime/loader.js';
import { normalizeHl7 } from '../../src/normalize/hl7v2.js';
import {
  type CoreContext,
  type CoreMessage,
  type FeatureState,
  mapBatch,
  mergeState,
  stateKey,
  written,
} from '../../src/pipeline/core.js';
import { classify } from '../../src/pipeline/failure.js';
import { PermanentFailure } from '../../src/pipeline/prediction.js';
import { requestsOf, type ScoreResult, withScores } from '../../src/pipeline/score.js';
import { adtA01, vitalsOru } from '../helpers/messages.js';

const NOW = new Date('2024-03-01T12:00:00.000Z');
const mappings = loadMappingsOrThrow('mappings');
let registry: ModelRegistry;
let ctx: CoreContext;

before(async () => {
  registry = await loadModels('models', { verifyGoldenCases: false });
  ctx = { mappings, models: registry, now: () => NOW };
});
after(async () => {
  await registry.close();
});

function message(id: string, text: string): CoreMessage {
  const event = normalizeHl7(
    parseHl7(text),
    { channel: 'mllp', messageId: id },
    { defaultTimezone: '+00:00' },
  );
  return { messageId: id, sender: 'VITALS|WARD5', controlId: event.source.controlId, event };
}

/** Scores every request with the same score (or the error given for a model). */
function answer(requests: ReturnType<typeof requestsOf>, score: number, errors = new Map<string, unknown>()) {
  return requests.map(
    (r): ScoreResult =>
      errors.has(r.model.name) ? { error: errors.get(r.model.name) } : { scores: r.rows.map(() => score) },
  );
}

describe('pipeline core', () => {
  it('maps, scores and records one message as the stages of its lineage', () => {
    const batch = mapBatch(ctx, [message('m1', vitalsOru({ controlId: 'C1' }))], new Map());
    const [m] = batch;
    assert.ok(m && !m.outcome, 'not ended before scoring');
    // Both mappings take values from it (the AKI model its age); only vitals has a full vector.
    assert.deepEqual(
      m.writes.map((w) => w.model),
      ['aki-risk', 'vitals-deterioration'],
    );
    assert.equal(m.scorings.length, 1, 'only the vitals model has a complete vector');
    const requests = requestsOf(batch);
    assert.equal(requests.length, 1);
    assert.equal(requests[0]!.model.name, 'vitals-deterioration');
    assert.equal(requests[0]!.rows.length, 1);
    withScores(ctx, batch, requests, answer(requests, 0.8));
    assert.equal(m.predictions.length, 1);
    const p = m.predictions[0]!;
    assert.equal(p.eventKey, 'm1');
    assert.equal(p.score, 0.8);
    assert.equal(p.issuedAt, NOW.toISOString());
    assert.deepEqual(
      p.hl7Sources?.map((x) => `${x.sender} ${x.controlId}`),
      ['VITALS|WARD5 C1'],
    );
    written(ctx, m, [
      {
        model: 'vitals-deterioration',
        modelVersion: '1',
        modelSha256: 'x',
        mappingVersion: '1',
        resource: 'Observation/1',
      },
    ]);
    assert.deepEqual(m.outcome, { status: 'processed', reason: null });
    const stages = m.stages.map((s) => `${s.stage}${s.detail.model ? `:${s.detail.model}` : ''}`);
    assert.deepEqual(stages, [
      'parsed',
      'mapped:aki-risk',
      'mapped:vitals-deterioration',
      'inferred:vitals-deterioration',
      'written',
    ]);
    assert.ok(m.stages.every((s) => s.at === NOW.toISOString() && s.messageId === 'm1'));
  });

  it('calls each model once for a whole batch, rows in the order of the messages', () => {
    const msgs = ['a', 'b', 'c'].map((x, i) =>
      message(x, vitalsOru({ controlId: `C${x}`, mrn: `MRN-${x}`, hr: 100 + i })),
    );
    const batch = mapBatch(ctx, msgs, new Map());
    const requests = requestsOf(batch);
    assert.equal(requests.length, 1);
    assert.equal(requests[0]!.rows.length, 3);
    assert.deepEqual(
      requests[0]!.refs.map((r) => r.message),
      [0, 1, 2],
    );
    const hr = mappings
      .find((m) => m.model === 'vitals-deterioration')!
      .features.findIndex((f) => f.name === 'heart_rate');
    assert.deepEqual(
      requests[0]!.rows.map((r) => r[hr]),
      [100, 101, 102],
    );
  });

  it('lets a message see the values of the same patient earlier in the batch (newest by time wins)', () => {
    const newer = message(
      'n',
      vitalsOru({ controlId: 'N', mrn: 'MRN-SAME', hr: 140, time: '20240301110000' }),
    );
    const older = message(
      'o',
      vitalsOru({ controlId: 'O', mrn: 'MRN-SAME', hr: 60, time: '20240301090000' }),
    );
    const batch = mapBatch(ctx, [newer, older], new Map());
    const [a, b] = batch.map((m) => m.scorings[0]!.vector.vector);
    assert.deepEqual(b, a, 'the older values do not replace the newer ones in the state');
    // A different patient starts from its own (empty) state.
    const other = mapBatch(
      ctx,
      [newer, message('x', vitalsOru({ controlId: 'X', mrn: 'MRN-OTHER', hr: 60 }))],
      new Map(),
    );
    assert.notDeepEqual(other[1]!.scorings[0]!.vector.vector, other[0]!.scorings[0]!.vector.vector);
  });

  it('starts from the stored state, which it does not change', () => {
    const key = stateKey('HOSP|MRN-STORED', 'vitals-deterioration');
    const stored: FeatureState = new Map([[key, [] as FeatureValue[]]]);
    mapBatch(ctx, [message('s', vitalsOru({ controlId: 'S', mrn: 'MRN-STORED' }))], stored);
    assert.deepEqual(stored.get(key), []);
  });

  it('fails one message without failing its neighbours', () => {
    const noPid = vitalsOru({ controlId: 'BAD' }).replace(/PID\|1\|\|[^|]*\|/, 'PID|1|||');
    const batch = mapBatch(
      ctx,
      [
        message('ok1', vitalsOru({ controlId: 'OK1', mrn: 'M1' })),
        message('bad', noPid),
        message('ok2', vitalsOru({ controlId: 'OK2', mrn: 'M2' })),
      ],
      new Map(),
    );
    assert.equal(batch[1]!.outcome?.status, 'failed');
    assert.match((batch[1]!.outcome as { reason: string }).reason, /no patient identifier/);
    assert.equal(batch[1]!.stages.at(-1)?.stage, 'failed');
    assert.deepEqual(batch[1]!.writes, []);
    const requests = requestsOf(batch);
    assert.deepEqual(
      requests[0]!.refs.map((r) => r.message),
      [0, 2],
      'the failed message is not scored',
    );
    withScores(ctx, batch, requests, answer(requests, 0.4));
    assert.equal(batch[0]!.predictions.length, 1);
    assert.equal(batch[2]!.predictions.length, 1);
  });

  it('records a message no mapping uses as ignored', () => {
    const [m] = mapBatch(ctx, [message('adt', adtA01('A1'))], new Map());
    assert.deepEqual(m!.outcome, { status: 'ignored', reason: 'no mapping uses this message type' });
    assert.deepEqual(
      m!.stages.map((s) => s.stage),
      ['parsed', 'ignored'],
    );
  });

  it('fails the messages of a model call that failed, and those with a score that is no number', () => {
    const batch = mapBatch(
      ctx,
      [
        message('p', vitalsOru({ controlId: 'P', mrn: 'MP' })),
        message('q', vitalsOru({ controlId: 'Q', mrn: 'MQ' })),
      ],
      new Map(),
    );
    const requests = requestsOf(batch);
    // Made again row by row: the first row failed its input check, the second came back NaN.
    withScores(ctx, batch, requests, [
      {
        scores: [Number.NaN, Number.NaN],
        errors: [new ModelInputError('vitals-deterioration', 'row 0 has a non-finite value')],
      },
    ]);
    const [p, q] = batch;
    assert.equal(p!.outcome?.status, 'failed');
    assert.match((p!.outcome as { reason: string }).reason, /non-finite/);
    assert.deepEqual((p!.outcome as { failure: unknown }).failure, {
      stage: 'infer',
      model: 'vitals-deterioration',
    });
    assert.equal(q!.outcome?.status, 'failed');
    assert.match((q!.outcome as { reason: string }).reason, /returned no score/);
  });

  it('asks for a retry when a model call fails for a reason that may pass', () => {
    const batch = mapBatch(ctx, [message('r', vitalsOru({ controlId: 'R' }))], new Map());
    const requests = requestsOf(batch);
    const down = new Error('inference thread stopped');
    withScores(ctx, batch, requests, answer(requests, 0, new Map([['vitals-deterioration', down]])));
    assert.deepEqual(batch[0]!.outcome, { status: 'retry', error: down });
  });
});

describe('failure classes', () => {
  it('tells failures retrying cannot mend from those it may', () => {
    assert.deepEqual(classify(new PermanentFailure('x')), { permanent: true, reason: 'x' });
    assert.equal(classify(Object.assign(new Error('HTTP 400'), { status: 400 })).permanent, true);
    assert.equal(classify(Object.assign(new Error('HTTP 503'), { status: 503 })).permanent, false);
    assert.equal(classify(Object.assign(new Error('HTTP 429'), { status: 429 })).permanent, false);
    assert.equal(classify(new RangeError('bad time')).permanent, true);
    assert.equal(classify(new Error('ECONNRESET')).permanent, false);
    // The database's text may quote the data: only the SQLSTATE is kept.
    assert.deepEqual(
      classify(Object.assign(new Error('invalid byte sequence "MRN123"'), { code: '22021' })),
      {
        permanent: true,
        reason: "the database refused this message's data (SQLSTATE 22021)",
      },
    );
  });
});

describe('feature state merge', () => {
  const v = (feature: string, value: number, observedAt: string): FeatureValue => ({
    feature,
    value,
    unit: '/min',
    observedAt,
    sourceRef: 'x',
  });
  it('keeps the newest value of each feature, as the store upsert does', () => {
    const stored = [v('hr', 80, '2024-03-01T10:00:00Z'), v('rr', 20, '2024-03-01T10:00:00Z')];
    const merged = mergeState(stored, [
      v('hr', 60, '2024-03-01T09:00:00Z'),
      v('rr', 30, '2024-03-01T11:00:00Z'),
    ]);
    assert.deepEqual(
      merged.map((x) => [x.feature, x.value]),
      [
        ['hr', 80],
        ['rr', 30],
      ],
    );
  });
});
