// The bounds-checked little-endian reader the RDP parsers share: every overrun is an RdpGraphicsError.
import { RdpGraphicsError } from './rdp-bitmap.js';

/** A bounds-checked little reader over one PDU: every overrun is an RdpGraphicsError. */
export class Reader {
  constructor(
    readonly buf: Uint8Array,
    public pos = 0,
    readonly end = buf.length,
  ) {}
  get left(): number {
    return this.end - this.pos;
  }
  need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) throw new RdpGraphicsError(`${what} runs past the end of its PDU`);
  }
  u8(what = 'a field'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }
  u16(what = 'a field'): number {
    this.need(2, what);
    const v = this.buf[this.pos]! | (this.buf[this.pos + 1]! << 8);
    this.pos += 2;
    return v;
  }
  i8(what = 'a field'): number {
    const v = this.u8(what);
    return v >= 0x80 ? v - 0x100 : v;
  }
  i16(what = 'a field'): number {
    const v = this.u16(what);
    return v >= 0x8000 ? v - 0x10000 : v;
  }
  u16be(what = 'a field'): number {
    this.need(2, what);
    const v = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }
  u32(what = 'a field'): number {
    const lo = this.u16(what);
    return lo + this.u16(what) * 0x10000;
  }
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  skip(n: number, what: string): void {
    this.need(n, what);
    this.pos += n;
  }
}
