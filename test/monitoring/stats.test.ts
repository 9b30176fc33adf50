/** The statistics of monitoring against values worked out by hand or known from tables. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { binIndex, describe as describeValues } from '../../src/models/registry/reference.js';
import { labelOf, outcomeSchema } from '../../src/monitoring/outcomes.js';
import {
  atThreshold,
  auroc,
  aurocInterval,
  calibration,
  ksTest,
  psi,
  wilson,
} from '../../src/monitoring/stats.js';

const close = (a: number, b: number, eps = 1e-3) => assert.ok(Math.abs(a - b) < eps, `${a} vs ${b}`);

describe('monitoring statistics', () => {
  it('bins by cut points, merging ties, and the same data has PSI 0 and KS p 1', () => {
    assert.equal(binIndex([1, 2, 3], 0.5), 0);
    assert.equal(binIndex([1, 2, 3], 1), 1);
    assert.equal(binIndex([1, 2, 3], 3), 3);
    const xs = Array.from({ length: 1000 }, (_, i) => i % 7);
    const d = describeValues(xs);
    assert.deepEqual(d.edges, [1, 2, 3, 4, 5, 6]);
    close(
      d.proportions.reduce((a, b) => a + b, 0),
      1,
    );
    close(psi(d, xs), 0, 1e-9);
    close(ksTest(d, 1000, xs).pValue, 1);
  });

  it('PSI and KS see a shift', () => {
    const ref = describeValues(Array.from({ length: 5000 }, (_, i) => (i % 100) / 100));
    const shifted = Array.from({ length: 500 }, (_, i) => 0.3 + (i % 100) / 100);
    assert.ok(psi(ref, shifted) > 0.5);
    const ks = ksTest(ref, 5000, shifted);
    close(ks.statistic, 0.3, 0.02);
    assert.ok(ks.pValue < 1e-10);
  });

  it('AUROC with ties, its Hanley-McNeil interval, Wilson intervals, calibration and threshold counts', () => {
    assert.equal(auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
    assert.equal(auroc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5);
    assert.equal(auroc([0.1, 0.2], [0, 0]), null);
    const [lo, hi] = aurocInterval(0.8, 50, 50);
    close(lo, 0.7128);
    close(hi, 0.8872);
    const w = wilson(5, 10)!;
    close(w[0], 0.2366);
    close(w[1], 0.7634);
    const s = Array.from({ length: 100 }, (_, i) => i / 100);
    const y = s.map((p) => (p >= 0.5 ? 1 : 0));
    const c = calibration(s, y);
    assert.equal(c.length, 10);
    assert.equal(c[0]!.observedRate, 0);
    assert.equal(c[9]!.observedRate, 1);
    const t = atThreshold(s, y, 0.6);
    assert.deepEqual([t.tp, t.fp, t.fn, t.tn], [40, 0, 10, 50]);
    assert.equal(t.ppv.value, 1);
    assert.equal(t.sensitivity.value, 0.8);
  });

  it('labels by the KDIGO rules: a 0.3 rise within 48 h, or 1.5x within 7 days, later only', () => {
    const def = {
      ...outcomeSchema.parse({
        model: 'aki-risk',
        description: 'd',
        rules: [
          { name: 'rise', lab: 'creatinine', riseBy: 0.3, within: '48h' },
          { name: 'ratio', lab: 'creatinine', riseTo: 1.5, within: '7d' },
        ],
      }),
      file: 'x',
      horizonMs: 7 * 86_400_000,
    };
    const h = 3_600_000;
    const p = { at: 0, vals: [1.0], features: ['creatinine'] };
    const ev = (rule: string, at: number, value: number) => ({ rule, at, value });
    assert.equal(labelOf(def, p, [ev('rise', 24 * h, 1.3)]), 1);
    assert.equal(labelOf(def, p, [ev('rise', 24 * h, 1.2)]), 0);
    assert.equal(labelOf(def, p, [ev('rise', 50 * h, 1.4)]), 0, 'after 48 h the rise rule no longer counts');
    assert.equal(labelOf(def, p, [ev('ratio', 150 * h, 1.5)]), 1);
    assert.equal(labelOf(def, p, [ev('ratio', 170 * h, 2)]), 0, 'after 7 days');
    assert.equal(labelOf(def, p, [ev('rise', -h, 3)]), 0, 'an earlier result labels nothing');
  });
});
