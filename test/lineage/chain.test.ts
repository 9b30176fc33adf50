import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson, chain, GENESIS_HASH, verifyChain } from '../../src/lineage/chain.js';

const inputs = [1, 2, 3, 4].map((i) => ({
  messageId: `m${i}`,
  stage: 'received',
  at: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString(),
  detail: { n: i, nested: { b: 1, a: [i, 'x'] } },
}));

describe('lineage hash chain', () => {
  it('hashes canonical JSON: key order does not matter', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: 2, c: 3 } }), canonicalJson({ a: { c: 3, d: 2 }, b: 1 }));
  });

  it('verifies an intact chain', () => {
    const entries = chain({ seq: 0, hash: GENESIS_HASH }, inputs);
    assert.deepEqual(verifyChain(entries), { ok: true, entries: 4, head: entries[3]!.hash });
  });

  it('names an altered, removed or reordered entry', () => {
    const entries = chain({ seq: 0, hash: GENESIS_HASH }, inputs);
    const altered = entries.map((e) => (e.seq === 2 ? { ...e, detail: { ...e.detail, n: 99 } } : e));
    assert.deepEqual(verifyChain(altered), {
      ok: false,
      entries: 2,
      brokenAt: 2,
      reason: 'entry 2 was altered',
    });
    const removed = entries.filter((e) => e.seq !== 3);
    const r = verifyChain(removed);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.brokenAt, 4);
    const reordered = [entries[0]!, entries[2]!, entries[1]!, entries[3]!];
    assert.equal(verifyChain(reordered).ok, false);
  });
});
