// Splits a decrypted RDP byte stream into whole frames: TPKT (slow path, 0x03 0x00 len16BE) or fast-path
// (first byte's low two bits 0, then a 1- or 2-byte length). Both lengths cover the whole frame, so the splitter
// needs no knowledge of what is inside. A length that cannot be a frame (zero, shorter than its own header,
// above the bound) is refused; after that the stream cannot be resynchronised and every later push throws too.
import { RdpProtocolError } from './errors.js';

export interface Frame {
  kind: 'tpkt' | 'fastpath';
  /** The whole frame. May share memory with a pushed chunk: copy before keeping it past the chunk's life. */
  bytes: Buffer;
}

/** A TPKT's 16-bit length allows 65535; the bound leaves room above that so the default never cuts a real frame. */
export const DEFAULT_MAX_FRAME = 0x10000 + 0x100;
/** TPKT header + the shortest X.224 TPDU (LI, code, EOT). */
const MIN_TPKT = 7;

export class FrameReader {
  // A queue as an array and a head index: shift() on a long array is linear, and a stream fed a byte at a time
  // would make splitting quadratic.
  private chunks: Buffer[] = [];
  private head = 0;
  private size = 0;
  private failure: RdpProtocolError | null = null;
  private readonly maxFrame: number;

  constructor(opts: { maxFrame?: number } = {}) {
    this.maxFrame = opts.maxFrame ?? DEFAULT_MAX_FRAME;
  }

  /** Bytes held that do not yet make a whole frame. */
  get buffered(): number {
    return this.size;
  }

  /** Adds bytes; returns every frame now complete, in order. Throws RdpProtocolError on a stream that is not RDP. */
  push(chunk: Buffer): Frame[] {
    if (this.failure) throw this.failure;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    const out: Frame[] = [];
    try {
      for (;;) {
        const next = this.nextFrameLength();
        if (next === null || next.length > this.size) break;
        out.push({ kind: next.kind, bytes: this.take(next.length) });
      }
    } catch (err) {
      this.failure = err instanceof RdpProtocolError ? err : new RdpProtocolError(String(err));
      throw this.failure;
    }
    return out;
  }

  /** The kind and length of the frame at the head of the buffer, or null while its header is incomplete. */
  private nextFrameLength(): { kind: Frame['kind']; length: number } | null {
    if (this.size === 0) return null;
    const b0 = this.byteAt(0);
    if (b0 === 0x03) {
      if (this.size < 4) return null;
      if (this.byteAt(1) !== 0) throw new RdpProtocolError(`TPKT: reserved byte 0x${this.byteAt(1).toString(16)} is not zero`);
      const length = (this.byteAt(2) << 8) | this.byteAt(3);
      if (length < MIN_TPKT) throw new RdpProtocolError(`TPKT: length ${length} is shorter than a TPKT and X.224 header`);
      if (length > this.maxFrame) throw new RdpProtocolError(`TPKT: length ${length} above the ${this.maxFrame}-byte bound`);
      return { kind: 'tpkt', length };
    }
    if ((b0 & 0x03) !== 0) throw new RdpProtocolError(`stream: first byte 0x${b0.toString(16)} starts neither a TPKT nor a fast-path frame`);
    if (this.size < 2) return null;
    const b1 = this.byteAt(1);
    let length: number;
    let header: number;
    if (b1 & 0x80) {
      if (this.size < 3) return null;
      length = ((b1 & 0x7f) << 8) | this.byteAt(2);
      header = 3;
    } else {
      length = b1;
      header = 2;
    }
    if (length <= header) throw new RdpProtocolError(`fast-path: length ${length} leaves no room for content`);
    if (length > this.maxFrame) throw new RdpProtocolError(`fast-path: length ${length} above the ${this.maxFrame}-byte bound`);
    return { kind: 'fastpath', length };
  }

  private byteAt(i: number): number {
    for (let k = this.head; k < this.chunks.length; k++) {
      const c = this.chunks[k]!;
      if (i < c.length) return c[i]!;
      i -= c.length;
    }
    throw new RdpProtocolError('stream: internal read past the buffered bytes');
  }

  /** Removes n bytes from the head: a view when they lie in one chunk, else one copy. */
  private take(n: number): Buffer {
    const first = this.chunks[this.head]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.head++;
      else this.chunks[this.head] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[this.head]!;
        const want = n - filled;
        if (c.length <= want) {
          c.copy(out, filled);
          filled += c.length;
          this.head++;
        } else {
          c.copy(out, filled, 0, want);
          this.chunks[this.head] = c.subarray(want);
          filled = n;
        }
      }
    }
    this.size -= n;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
    return out;
  }
}
