/**
 * MLLP framing: `0x0B <message> 0x1C 0x0D`. One decoder per socket, never shared: it keeps the bytes
 * of a frame that arrived split over several reads, and yields every frame when several arrive in
 * one read. A frame larger than the limit is not buffered: its first bytes are kept (enough to read
 * MSH and answer AR) and the rest is skipped up to the end marker.
 */
export const START = 0x0b;
export const END = 0x1c;
export const CR = 0x0d;

export type DecodedFrame =
  | { kind: 'frame'; payload: Buffer }
  | { kind: 'oversize'; head: Buffer; size: number };

const HEAD_KEEP = 4096;

export class MllpDecoder {
  private parts: Buffer[] = [];
  private size = 0;
  private inFrame = false;
  private oversize = false;
  private skipCr = false;

  constructor(private readonly maxBytes: number) {}

  /** Feeds one TCP read; returns the frames it completed, in order. */
  push(chunk: Buffer): DecodedFrame[] {
    const out: DecodedFrame[] = [];
    let i = 0;
    const n = chunk.length;
    if (this.skipCr && n > 0) {
      if (chunk[0] === CR) i = 1;
      this.skipCr = false;
    }
    while (i < n) {
      if (!this.inFrame) {
        const start = chunk.indexOf(START, i);
        if (start < 0) return out; // bytes between frames (stray newlines, noise) are dropped
        this.inFrame = true;
        this.parts = [];
        this.size = 0;
        this.oversize = false;
        i = start + 1;
        continue;
      }
      const end = chunk.indexOf(END, i);
      const restart = chunk.indexOf(START, i);
      if (restart >= 0 && (end < 0 || restart < end)) {
        // A new start block before the end of this frame: the sender abandoned it. Start over.
        this.parts = [];
        this.size = 0;
        this.oversize = false;
        i = restart + 1;
        continue;
      }
      const stop = end < 0 ? n : end;
      this.append(chunk.subarray(i, stop));
      if (end < 0) return out;
      out.push(this.finish());
      i = end + 1;
      if (i < n) {
        if (chunk[i] === CR) i++;
      } else this.skipCr = true;
    }
    return out;
  }

  /** Bytes held for an unfinished frame. */
  get pendingBytes(): number {
    return this.size;
  }

  private append(b: Buffer): void {
    if (b.length === 0) return;
    this.size += b.length;
    if (this.oversize) return;
    if (this.size > this.maxBytes) {
      this.oversize = true;
      const held = Buffer.concat([...this.parts, b]);
      this.parts = [held.subarray(0, HEAD_KEEP)];
      return;
    }
    // Copy: the socket may reuse its read buffer.
    this.parts.push(Buffer.from(b));
  }

  private finish(): DecodedFrame {
    this.inFrame = false;
    const parts = this.parts;
    this.parts = [];
    if (this.oversize) return { kind: 'oversize', head: parts[0] ?? Buffer.alloc(0), size: this.size };
    return { kind: 'frame', payload: parts.length === 1 ? parts[0]! : Buffer.concat(parts) };
  }
}

export function encodeFrame(message: string | Buffer): Buffer {
  const body = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  const out = Buffer.allocUnsafe(body.length + 3);
  out[0] = START;
  body.copy(out, 1);
  out[body.length + 1] = END;
  out[body.length + 2] = CR;
  return out;
}
