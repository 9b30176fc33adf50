import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { decodeHl7Bytes } from '../../src/hl7/charset.js';
import { allInGroup, parseGroupPath, parseHl7 } from '../../src/hl7/parser.js';

const fixture = (name: string) =>
  parseHl7(decodeHl7Bytes(readFileSync(new URL(`../../fixtures/hl7v2/${name}.hl7`, import.meta.url))).text);

describe('group-aware paths (Terser-like)', () => {
  const ut = fixture('cdc-oru-r01-phlip-ut-detected-v231');

  it('finds the OBX under the second and third OBR', () => {
    assert.equal(ut.get('OBR[2]/OBX[2]-3.1'), '94309-2');
    assert.equal(ut.get('OBR[2]/OBX[2]-5.2'), 'Detected');
    assert.equal(ut.get('OBR[3]/OBX[4]-3.1'), '68993-5');
    assert.equal(ut.get('OBR(3)/OBX(4)-3.1'), '68993-5', 'HAPI-style parentheses');
    // A plain path counts OBX across the whole message instead.
    assert.equal(ut.get('OBX[4]-3.1'), 'LAB202');
  });

  it('stays inside the group: no fourth OBX under OBR[2], no OBX under a missing OBR', () => {
    assert.equal(ut.get('OBR[2]/OBX[3]-3.1'), undefined);
    assert.equal(ut.get('OBR[9]/OBX-3'), undefined);
    assert.deepEqual(
      allInGroup(ut.segments, [{ segment: 'OBR', occurrence: 3 }], 'OBX').map((s) => s.value(3)),
      ['LAB202', '94307-6', '94308-4', '68993-5'],
    );
  });

  it('nests steps: ORC[2]/OBR/OBX and the NTE of the second order group', () => {
    const tn = fixture('cdc-oru-r01-phlip-tn-cepheid-positive-v251');
    assert.equal(tn.get('ORC[2]/OBR/OBX-3.1'), '94500-6');
    assert.equal(tn.get('ORC[1]/OBR/OBX[3]-3.1'), 'PLT248');
    assert.match(tn.get('ORC[2]/NTE[1]-3') ?? '', /Administration’s Emergency Use/);
    assert.equal(tn.get('ORC[1]/NTE-3'), undefined);
  });

  it('refuses malformed paths', () => {
    for (const bad of ['OBR[2]/', 'OBR[0]/OBX-5', 'OBR/obx-5', 'OBR[2]/OBX', '/OBR-x']) {
      assert.throws(() => parseGroupPath(bad), RangeError, bad);
    }
    assert.deepEqual(parseGroupPath('/OBR[2]/OBX[1]-5.2').steps, [
      { segment: 'OBR', occurrence: 2 },
      { segment: 'OBX', occurrence: 1 },
    ]);
  });
});
