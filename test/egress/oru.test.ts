import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Database } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open.js';
import { ackCode, buildResultOru } from '../../src/egress/oru/message.js';
import { createOruEgress, type OruDestination, type OruJob } from '../../src/egress/oru/sender.js';
import { parseHl7 } from '../../src/hl7/parser.js';
import { createLineageStore, type LineageStore } from '../../src/lineage/store.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { startFakeMirth } from '../helpers/fake-mirth.js';

const result = {
  model: 'vitals-deterioration',
  modelVersion: '1.0.0',
  modelSha256: 'f0dd',
  score: 0.8123456789,
  interpretation: 'H',
  code: {
    system: 'http://example.org/model-output',
    code: 'vitals-deterioration-probability',
    display: 'Probability of deterioration',
  },
  unit: { code: '1', display: 'probability' },
  resource: 'Observation/abc',
};
const job = (messageId: string, mrn: string): OruJob => ({
  messageId,
  patient: { value: mrn, assigner: 'HOSP' },
  sourceControlId: `CTRL-${messageId}`,
  effectiveAt: '2024-03-01T10:15:00Z',
  results: [result],
});

describe('ORU^R01 results back to Mirth', () => {
  let db: Database;
  let lineage: LineageStore;
  before(async () => {
    db = await openDatabase({ dataDir: '', pgliteDir: 'memory://' });
    lineage = createLineageStore(db);
  });
  after(() => db.close());

  it('builds an ORU^R01 v2.5.1 that parses: PID-3, OBR per model, OBX NM score, interpretation, method', () => {
    const text = buildResultOru({
      ...job('m1', 'MRN|7'),
      sendingApplication: 'ML-GATEWAY',
      sendingFacility: 'HOSP',
      receivingApplication: 'MIRTH',
      receivingFacility: 'EHR',
      processingId: 'P',
      controlId: 'X1',
      now: new Date('2024-03-01T10:16:00Z'),
    });
    const m = parseHl7(text);
    assert.equal(m.get('MSH-9.1'), 'ORU');
    assert.equal(m.get('MSH-9.2'), 'R01');
    assert.equal(m.get('MSH-18'), 'UNICODE UTF-8');
    assert.equal(m.get('PID-3.1'), 'MRN|7', 'delimiters in values are escaped and decode back');
    assert.equal(m.get('OBR-2'), 'CTRL-m1');
    assert.equal(m.get('OBR-25'), 'F');
    assert.equal(m.get('OBR[1]/OBX[1]-5'), '0.812346');
    assert.equal(m.get('OBX-6.1'), '1');
    assert.equal(m.get('OBX-8'), 'H');
    assert.equal(m.get('OBX-14'), '20240301101500+0000');
    assert.equal(m.get('OBX-17.2'), 'vitals-deterioration 1.0.0');
    assert.match(m.get('NTE-3') ?? '', /Observation\/abc/);
    assert.equal(ackCode('MSH|^~\\&|A\rMSA|CE|X\r'), 'CE');
  });

  it('retries AE/CE with back-off, stops at AR, keeps order per patient, records every attempt', async () => {
    const answers = new Map<string, string[]>();
    // Patient A's first result: AE, then CE, then AA. Patient B: AR (refused, not retried).
    const mirth = await startFakeMirth((msg) => {
      const mrn = /PID\|1\|\|([^^]+)/.exec(msg)?.[1] ?? '';
      const seen = answers.get(mrn) ?? [];
      const code = mrn === 'B' ? 'AR' : (['AE', 'CE'][seen.length] ?? 'AA');
      seen.push(code);
      answers.set(mrn, seen);
      return code;
    });
    const dest: OruDestination = {
      name: 'mirth',
      host: '127.0.0.1',
      port: mirth.port,
      receivingApplication: 'MIRTH',
      receivingFacility: '',
      timeoutMs: 2000,
      maxAttempts: 5,
      backoffMs: 20,
      maxBackoffMs: 100,
    };
    const egress = createOruEgress({
      destinations: [dest],
      sendingApplication: 'ML-GATEWAY',
      sendingFacility: '',
      processingId: 'P',
      lineage,
      logger: createLogger('silent'),
      metrics: createMetrics(),
    });
    try {
      egress.enqueue(job('a1', 'A'));
      egress.enqueue(job('a2', 'A'));
      egress.enqueue(job('b1', 'B'));
      await egress.idle();
      const ofA = mirth.received
        .filter((m) => m.includes('PID|1||A^'))
        .map((m) => /OBR\|1\|CTRL-(\w+)/.exec(m)?.[1]);
      assert.deepEqual(ofA, ['a1', 'a1', 'a1', 'a2'], 'a2 waits until a1 is acknowledged');
      const stages = async (id: string) =>
        (await lineage.entriesFor(id)).map((e) => `${e.stage}:${e.detail.ack ?? ''}`);
      assert.deepEqual(await stages('a1'), ['oru-attempt-failed:AE', 'oru-attempt-failed:CE', 'oru-sent:AA']);
      assert.deepEqual(await stages('a2'), ['oru-sent:AA']);
      assert.deepEqual(await stages('b1'), ['oru-attempt-failed:AR', 'oru-gave-up:']);
      const a1 = await lineage.entriesFor('a1');
      assert.equal(a1[0]?.detail.controlId, a1[2]?.detail.controlId, 'a retry resends the same MSH-10');
    } finally {
      await egress.close();
      await mirth.close();
    }
  });

  it('retries when the destination is down or does not answer in time, then gives up', async () => {
    const silent = await startFakeMirth(() => 'none');
    const egress = createOruEgress({
      destinations: [
        {
          name: 'down',
          host: '127.0.0.1',
          port: 1,
          receivingApplication: '',
          receivingFacility: '',
          timeoutMs: 500,
          maxAttempts: 2,
          backoffMs: 10,
          maxBackoffMs: 20,
        },
        {
          name: 'silent',
          host: '127.0.0.1',
          port: silent.port,
          receivingApplication: '',
          receivingFacility: '',
          timeoutMs: 200,
          maxAttempts: 2,
          backoffMs: 10,
          maxBackoffMs: 20,
        },
      ],
      sendingApplication: 'ML-GATEWAY',
      sendingFacility: '',
      processingId: 'P',
      lineage,
      logger: createLogger('silent'),
      metrics: createMetrics(),
    });
    try {
      egress.enqueue(job('c1', 'C'));
      await egress.idle();
      const entries = (await lineage.entriesFor('c1'))
        .map((e) => `${e.detail.destination}:${e.stage}`)
        .sort();
      assert.deepEqual(entries, [
        'down:oru-attempt-failed',
        'down:oru-attempt-failed',
        'down:oru-gave-up',
        'silent:oru-attempt-failed',
        'silent:oru-attempt-failed',
        'silent:oru-gave-up',
      ]);
      assert.equal(silent.received.length, 2);
    } finally {
      await egress.close();
      await silent.close();
    }
  });
});
