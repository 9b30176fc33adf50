import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson, chain, entryHash, GENESIS_HASH, verifyChain } from '../../src/lineage/chain.js';

const inputs = [1, 2, 3, 4, 5, 6].map((i) => ({
  messageId: `m${i}`,
  stage: 'received',
  at: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString(),
  detail: { n: i, nested: { b: 1, a: [i, 'x'] } },
}));
const entries = chain({ seq: 0, hash: GENESIS_HASH }, inputs);
const kinds = (r: ReturnType<typeof verifyChain>) =>
  r.ok ? [] : r.problems.map((p) => `${p.kind}@${p.seq}`);

describe('lineage hash chain', () => {
  it('hashes canonical JSON: key order does not matter', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: 2, c: 3 } }), canonicalJson({ a: { c: 3, d: 2 }, b: 1 }));
  });

  it('verifies an intact chain', () => {
    assert.deepEqual(verifyChain(entries), { ok: true, entries: 6, head: entries[5]!.hash, headSeq: 6 });
  });

  it('names an altered entry, and one whose hash was rewritten to match', () => {
    const altered = entries.map((e) => (e.seq === 2 ? { ...e, detail: { ...e.detail, n: 99 } } : e));
    const r = verifyChain(altered);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.brokenAt, 2);
    assert.equal(!r.ok && r.reason, 'entry 2 was altered (its content no longer matches its hash)');
    assert.deepEqual(kinds(r), ['altered@2']);
    // A forger who also recomputes entry 2's hash breaks the link of entry 3.
    const forged = altered.map((e) => (e.seq === 2 ? { ...e, hash: entryHash(e.prevHash, e) } : e));
    assert.deepEqual(kinds(verifyChain(forged)), ['altered@3']);
  });

  it('names removed entries, in the middle and several at once', () => {
    assert.deepEqual(kinds(verifyChain(entries.filter((e) => e.seq !== 3))), ['removed@3']);
    const r = verifyChain(entries.filter((e) => e.seq !== 2 && e.seq !== 3 && e.seq !== 5));
    assert.deepEqual(kinds(r), ['removed@2', 'removed@5']);
    assert.match(!r.ok ? r.problems[0]!.reason : '', /entries 2-3 removed/);
  });

  it('names reordered entries: swapped seqs, or renumbered to hide a removal', () => {
    // Entries 3 and 4 swapped their seq (as an UPDATE of seq would do).
    const swapped = entries.map((e) =>
      e.seq === 3 ? { ...entries[3]!, seq: 3 } : e.seq === 4 ? { ...entries[2]!, seq: 4 } : e,
    );
    const r = verifyChain(swapped);
    assert.deepEqual(kinds(r), ['reordered@3', 'reordered@4']);
    assert.match(!r.ok ? r.problems[0]!.reason : '', /stored at 3 was written as entry 4/);
    // Entry 3 removed and the later ones renumbered down to close the gap.
    const renumbered = entries
      .filter((e) => e.seq !== 3)
      .map((e) => (e.seq > 3 ? { ...e, seq: e.seq - 1 } : e));
    assert.deepEqual(kinds(verifyChain(renumbered)), ['reordered@3', 'reordered@4', 'reordered@5']);
    // Out of order in the stream itself.
    assert.deepEqual(kinds(verifyChain([entries[0]!, entries[2]!, entries[1]!])), [
      'removed@2',
      'reordered@2',
    ]);
  });
});
