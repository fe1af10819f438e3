// The ALIGNED PER subset T.124 GCC and the T.125 MCS domain PDUs use (X.691). Lengths are one byte, or two with
// the top bit set. X.691 caps the two-byte form at 16383 and calls 0xC0.. a fragment count; RDP peers instead
// read and write 15 bits there (FreeRDP, and the slow-path PDUs of up to 32 KiB servers send), so this does too.
import { ByteReader, ByteWriter, checkRange } from './bytes.js';
import { check, RdpProtocolError } from './errors.js';

export function readLength(r: ByteReader, field: string): number {
  const first = r.u8(field);
  if ((first & 0x80) === 0) return first;
  return ((first & 0x7f) << 8) | r.u8(field);
}

export function writeLength(w: ByteWriter, len: number): ByteWriter {
  checkRange(len, 0, 0x7fff, 'PER length');
  return len < 0x80 ? w.u8(len) : w.u16be(len | 0x8000);
}

/** Byte length of writeLength's output for `len`. */
export function lengthSize(len: number): number {
  return len < 0x80 ? 1 : 2;
}

/** A constrained whole number of range 65536 with a lower bound (UserId, nodeID): two aligned bytes. */
export function readInteger16(r: ByteReader, min: number, field: string): number {
  return r.u16be(field) + min;
}

export function writeInteger16(w: ByteWriter, v: number, min: number): ByteWriter {
  checkRange(v, min, min + 0xffff, 'PER integer16');
  return w.u16be(v - min);
}

/** An unconstrained INTEGER: a length then that many big-endian bytes. */
export function readInteger(r: ByteReader, field: string): number {
  const len = readLength(r, field);
  check(len >= 1 && len <= 4, `${r.what}: ${field} is a ${len}-byte PER integer`);
  let v = 0;
  for (let i = 0; i < len; i++) v = v * 256 + r.u8(field);
  return v;
}

export function writeInteger(w: ByteWriter, v: number): ByteWriter {
  checkRange(v, 0, 0xffffffff, 'PER integer');
  if (v <= 0xff) return w.u8(1).u8(v);
  if (v <= 0xffff) return w.u8(2).u16be(v);
  return w.u8(4).bytes(Buffer.from([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]));
}

/** An OBJECT IDENTIFIER whose encoded value must equal `expected` (GCC only ever names T.124's). */
export function readObjectIdentifier(r: ByteReader, expected: Buffer, field: string): void {
  const len = readLength(r, field);
  const got = r.bytes(len, field);
  check(got.equals(expected), `${r.what}: ${field} is not the expected object identifier`);
}

export function writeObjectIdentifier(w: ByteWriter, oid: Buffer): ByteWriter {
  return writeLength(w, oid.length).bytes(oid);
}

/**
 * T.124's SimpleNumericString (digits only, FROM ("0123456789")) of at least `min` digits: PER indexes the
 * constrained alphabet, so each digit is its own value in a nibble, two per byte.
 */
export function readNumericString(r: ByteReader, min: number, field: string): string {
  const len = readLength(r, field) + min;
  const packed = r.bytes(Math.ceil(len / 2), field);
  let out = '';
  for (let i = 0; i < len; i++) {
    const b = packed[i >> 1]!;
    const nibble = i % 2 === 0 ? b >> 4 : b & 0x0f;
    check(nibble <= 9, `${r.what}: ${field} holds a character outside its digits`);
    out += String(nibble);
  }
  return out;
}

export function writeNumericString(w: ByteWriter, s: string, min: number): ByteWriter {
  if (!/^[0-9]*$/.test(s) || s.length < min) throw new RdpProtocolError('PER SimpleNumericString: digits only, at least the minimum');
  writeLength(w, s.length - min);
  const packed = Buffer.alloc(Math.ceil(s.length / 2));
  for (let i = 0; i < s.length; i++) packed[i >> 1] |= i % 2 === 0 ? Number(s[i]) << 4 : Number(s[i]);
  return w.bytes(packed);
}

/** An OCTET STRING of at least `min` bytes; a view of its content. */
export function readOctetString(r: ByteReader, min: number, field: string): Buffer {
  const len = readLength(r, field) + min;
  return r.bytes(len, field);
}

export function writeOctetString(w: ByteWriter, content: Buffer, min: number): ByteWriter {
  if (content.length < min) throw new RdpProtocolError('PER octet string shorter than its minimum');
  return writeLength(w, content.length - min).bytes(content);
}
