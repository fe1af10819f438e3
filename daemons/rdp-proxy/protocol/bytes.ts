// Bounds-checked reading of a Buffer. Every read checks the length first, so a short or lying frame ends in an
// RdpProtocolError naming the field, never in a RangeError from Buffer.
import { RdpProtocolError } from './errors.js';

export class ByteReader {
  private pos: number;
  private readonly end: number;

  /** Reads `buf` from `start` up to `end` (exclusive; default the whole buffer). `what` names the structure in errors. */
  constructor(
    readonly buf: Buffer,
    readonly what: string,
    start = 0,
    end = buf.length,
  ) {
    if (start < 0 || end > buf.length || start > end) throw new RdpProtocolError(`${what}: bad bounds`);
    this.pos = start;
    this.end = end;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  get limit(): number {
    return this.end;
  }

  need(n: number, field: string): void {
    if (n < 0 || this.end - this.pos < n) {
      throw new RdpProtocolError(`${this.what}: truncated at ${field} (needs ${n} bytes, ${this.end - this.pos} left)`);
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++]!;
  }

  peekU8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos]!;
  }

  u16le(field: string): number {
    this.need(2, field);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u16be(field: string): number {
    this.need(2, field);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32le(field: string): number {
    this.need(4, field);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  /** A view (not a copy) of the next n bytes. */
  bytes(n: number, field: string): Buffer {
    this.need(n, field);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  skip(n: number, field: string): void {
    this.need(n, field);
    this.pos += n;
  }

  /** A reader over the next n bytes, advancing this one past them. */
  sub(n: number, what: string): ByteReader {
    this.need(n, what);
    const r = new ByteReader(this.buf, what, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }

  /** Throws unless every byte was read: trailing bytes in a length-delimited structure mean the lengths lie. */
  done(): void {
    if (this.pos !== this.end) throw new RdpProtocolError(`${this.what}: ${this.end - this.pos} unexpected trailing bytes`);
  }
}

/** Appends bytes; builders use it so no offset arithmetic is repeated by hand. */
export class ByteWriter {
  private readonly parts: Buffer[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  bytes(b: Buffer | Uint8Array): this {
    const buf = Buffer.isBuffer(b) ? b : Buffer.from(b);
    this.parts.push(buf);
    this.size += buf.length;
    return this;
  }

  u8(v: number): this {
    return this.bytes(Buffer.of(v & 0xff));
  }

  u16le(v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v);
    return this.bytes(b);
  }

  u16be(v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v);
    return this.bytes(b);
  }

  u32le(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    return this.bytes(b);
  }

  zeros(n: number): this {
    return this.bytes(Buffer.alloc(n));
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }
}

/** Throws unless v is an integer in [min, max]: builders refuse values their field cannot hold. */
export function checkRange(v: number, min: number, max: number, field: string): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new RdpProtocolError(`${field} ${v} outside ${min}..${max}`);
}
