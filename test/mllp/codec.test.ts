import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeFrame, MllpDecoder } from '../../src/mllp/codec.js';

const payloads = (frames: ReturnType<MllpDecoder['push']>) =>
  frames.map((f) => (f.kind === 'frame' ? f.payload.toString('utf8') : `oversize:${f.size}`));

describe('MLLP codec', () => {
  it('decodes a frame split over many reads, byte by byte', () => {
    const d = new MllpDecoder(1024);
    const wire = encodeFrame('MSH|^~\\&|A\rPID|1\r');
    const out: string[] = [];
    for (const b of wire) out.push(...payloads(d.push(Buffer.from([b]))));
    assert.deepEqual(out, ['MSH|^~\\&|A\rPID|1\r']);
  });

  it('decodes many frames in one read, in order', () => {
    const d = new MllpDecoder(1024);
    const wire = Buffer.concat(['one', 'two', 'three'].map((s) => encodeFrame(s)));
    assert.deepEqual(payloads(d.push(wire)), ['one', 'two', 'three']);
  });

  it('handles the end marker split between 0x1C and 0x0D', () => {
    const d = new MllpDecoder(1024);
    const wire = Buffer.concat([encodeFrame('a'), encodeFrame('b')]);
    const cut = wire.indexOf(0x1c) + 1;
    assert.deepEqual(payloads(d.push(wire.subarray(0, cut))), ['a']);
    assert.deepEqual(payloads(d.push(wire.subarray(cut))), ['b']);
  });

  it('drops bytes between frames and restarts on a new start block', () => {
    const d = new MllpDecoder(1024);
    const wire = Buffer.concat([
      Buffer.from('\r\nnoise'),
      Buffer.from([0x0b]),
      Buffer.from('abandoned'),
      encodeFrame('kept'),
    ]);
    assert.deepEqual(payloads(d.push(wire)), ['kept']);
  });

  it('reports an oversize frame with its head, without buffering all of it', () => {
    const d = new MllpDecoder(1024);
    const big = `MSH|^~\\&|A|B|C|D|||ORU^R01|X1|P|2.5\r${'x'.repeat(10_000)}`;
    const frames = d.push(encodeFrame(big));
    assert.equal(frames.length, 1);
    const f = frames[0]!;
    assert.equal(f.kind, 'oversize');
    if (f.kind === 'oversize') {
      assert.equal(f.size, Buffer.byteLength(big));
      assert.ok(f.head.toString().startsWith('MSH|'));
      assert.ok(f.head.length <= 4096);
    }
    assert.deepEqual(payloads(d.push(encodeFrame('next'))), ['next']);
  });

  it('keeps frames from separate decoders apart (one decoder per socket)', () => {
    const a = new MllpDecoder(1024);
    const b = new MllpDecoder(1024);
    const fa = encodeFrame('from-a');
    const fb = encodeFrame('from-b');
    assert.deepEqual(payloads(a.push(fa.subarray(0, 3))), []);
    assert.deepEqual(payloads(b.push(fb)), ['from-b']);
    assert.deepEqual(payloads(a.push(fa.subarray(3))), ['from-a']);
  });
});
