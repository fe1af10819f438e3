// The few DER shapes CredSSP needs (TSRequest, TSCredentials, TSPasswordCreds, a certificate's
// SubjectPublicKeyInfo): SEQUENCE, OCTET STRING, INTEGER, BIT STRING and explicit context tags. Hand-written,
// because that is ~100 lines with every length checked against its buffer, whereas a general ASN.1 library
// would be a new dependency holding a much larger parser facing a server we do not trust.

export class DerError extends Error {}

export const TAG_INTEGER = 0x02;
export const TAG_BIT_STRING = 0x03;
export const TAG_OCTET_STRING = 0x04;
export const TAG_SEQUENCE = 0x30;
/** [n] EXPLICIT: constructed, context-specific. */
export const ctxTag = (n: number): number => 0xa0 | n;

/** One TLV inside a buffer: `tag`, its content `buf[start, end)`, and `next`, the offset after it. */
export interface Tlv {
  tag: number;
  start: number;
  end: number;
  next: number;
}

function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), encodeLength(body.length), body]);
}

export const sequence = (...content: Buffer[]): Buffer => tlv(TAG_SEQUENCE, ...content);
export const octetString = (b: Buffer): Buffer => tlv(TAG_OCTET_STRING, b);
export const explicit = (n: number, inner: Buffer): Buffer => tlv(ctxTag(n), inner);

/** A two's-complement INTEGER of a 32-bit signed or unsigned value, minimal length. */
export function integer(n: number): Buffer {
  if (!Number.isInteger(n) || n < -0x80000000 || n > 0xffffffff) throw new RangeError('DER integer out of range');
  const b = Buffer.alloc(5);
  b.writeUInt8(n < 0 ? 0xff : 0, 0);
  b.writeUInt32BE(n < 0 ? n >>> 0 : n, 1);
  let i = 0;
  // Drop a leading byte while the next one carries the same sign.
  while (i < 4 && ((b[i] === 0 && (b[i + 1]! & 0x80) === 0) || (b[i] === 0xff && (b[i + 1]! & 0x80) !== 0))) i++;
  return tlv(TAG_INTEGER, b.subarray(i));
}

/**
 * The TLV at `offset`, checked to lie within `[offset, limit)`. Only low tag numbers and definite lengths of at
 * most 4 length bytes: anything else is not what a CredSSP peer sends.
 */
export function readTlv(buf: Buffer, offset: number, limit = buf.length): Tlv {
  if (limit > buf.length || offset + 2 > limit) throw new DerError('truncated DER element');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('DER high tag number');
  const first = buf[offset + 1]!;
  let len: number;
  let start = offset + 2;
  if (first < 0x80) len = first;
  else {
    const n = first & 0x7f;
    if (n === 0) throw new DerError('indefinite DER length');
    if (n > 4) throw new DerError('DER length too long');
    if (start + n > limit) throw new DerError('truncated DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    start += n;
  }
  const end = start + len;
  if (end > limit) throw new DerError('DER element overruns its container');
  return { tag, start, end, next: end };
}

/**
 * Bytes the first TLV of a stream occupies, or null when not enough of its header has arrived yet.
 * Throws on a header that can never become valid.
 */
export function frameLength(buf: Buffer): number | null {
  if (buf.length < 2) return null;
  const first = buf[1]!;
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n === 0) throw new DerError('indefinite DER length');
  if (n > 4) throw new DerError('DER length too long');
  if (buf.length < 2 + n) return null;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + buf[2 + i]!;
  return 2 + n + len;
}

/** The elements inside a constructed TLV. */
export function children(buf: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const t = readTlv(buf, at, parent.end);
    out.push(t);
    at = t.next;
  }
  return out;
}

/** The one element inside an explicit context tag, which must be of `tag`. */
export function inner(buf: Buffer, wrapper: Tlv, tag: number): Tlv {
  const t = readTlv(buf, wrapper.start, wrapper.end);
  if (t.tag !== tag || t.next !== wrapper.end) throw new DerError(`expected tag 0x${tag.toString(16)} inside [${wrapper.tag & 0x1f}]`);
  return t;
}

/** An INTEGER's value as a JS number; NTSTATUS codes arrive signed or unsigned, so up to 5 content bytes. */
export function readInteger(buf: Buffer, t: Tlv): number {
  if (t.tag !== TAG_INTEGER) throw new DerError('expected INTEGER');
  const len = t.end - t.start;
  if (len < 1 || len > 5 || (len === 5 && buf[t.start] !== 0)) throw new DerError('INTEGER out of range');
  let v = (buf[t.start]! & 0x80) !== 0 ? -1 : 0;
  for (let i = t.start; i < t.end; i++) v = v * 256 + buf[i]!;
  return v;
}
