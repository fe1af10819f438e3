// The BER subset T.125 uses for MCS Connect-Initial and Connect-Response (T.125 §7 part 2, encoded per X.690).
// Definite lengths only (short form, or long form of 1 or 2 bytes: an MCS PDU fits a TPKT); integers are read as
// unsigned because MCS writes 65535 as 02 02 ff ff.
import { ByteReader, ByteWriter, checkRange } from './bytes.js';
import { check, RdpProtocolError } from './errors.js';

export const TAG_BOOLEAN = 0x01;
export const TAG_INTEGER = 0x02;
export const TAG_OCTET_STRING = 0x04;
export const TAG_ENUMERATED = 0x0a;
export const TAG_SEQUENCE = 0x30;
/** MCS Connect-Initial: [APPLICATION 101], constructed, high tag form (0x7f 0x65). */
export const APP_CONNECT_INITIAL = 101;
/** MCS Connect-Response: [APPLICATION 102]. */
export const APP_CONNECT_RESPONSE = 102;

export function readLength(r: ByteReader, field: string): number {
  const first = r.u8(`${field} length`);
  if (first < 0x80) return first;
  const n = first & 0x7f;
  if (n === 0) throw new RdpProtocolError(`${r.what}: indefinite BER length in ${field}`);
  if (n > 2) throw new RdpProtocolError(`${r.what}: ${n}-byte BER length in ${field}`);
  let v = 0;
  for (let i = 0; i < n; i++) v = (v << 8) | r.u8(`${field} length`);
  return v;
}

/** A tag byte and its length; the content must fit what is left. */
export function readHeader(r: ByteReader, tag: number, field: string): number {
  const t = r.u8(`${field} tag`);
  check(t === tag, `${r.what}: ${field} has tag 0x${t.toString(16)}, expected 0x${tag.toString(16)}`);
  const len = readLength(r, field);
  r.need(len, field);
  return len;
}

/** [APPLICATION n] in the high-tag form MCS uses: 0x7f, n. Returns the content length. */
export function readApplicationTag(r: ByteReader, app: number, field: string): number {
  const a = r.u8(`${field} tag`);
  const b = r.u8(`${field} tag`);
  check(a === 0x7f && b === app, `${r.what}: expected [APPLICATION ${app}] (7f ${app.toString(16)}), found ${a.toString(16)} ${b.toString(16)}`);
  const len = readLength(r, field);
  r.need(len, field);
  return len;
}

export function readInteger(r: ByteReader, field: string): number {
  const len = readHeader(r, TAG_INTEGER, field);
  check(len >= 1 && len <= 4, `${r.what}: ${field} is a ${len}-byte integer`);
  let v = 0;
  for (let i = 0; i < len; i++) v = v * 256 + r.u8(field);
  return v;
}

export function readEnumerated(r: ByteReader, field: string): number {
  const len = readHeader(r, TAG_ENUMERATED, field);
  check(len === 1, `${r.what}: ${field} is a ${len}-byte enumerated`);
  return r.u8(field);
}

export function readBoolean(r: ByteReader, field: string): boolean {
  const len = readHeader(r, TAG_BOOLEAN, field);
  check(len === 1, `${r.what}: ${field} is a ${len}-byte boolean`);
  return r.u8(field) !== 0;
}

/** A view of an OCTET STRING's content. */
export function readOctetString(r: ByteReader, field: string): Buffer {
  const len = readHeader(r, TAG_OCTET_STRING, field);
  return r.bytes(len, field);
}

export function writeLength(w: ByteWriter, len: number): ByteWriter {
  checkRange(len, 0, 0xffff, 'BER length');
  if (len < 0x80) return w.u8(len);
  if (len <= 0xff) return w.u8(0x81).u8(len);
  return w.u8(0x82).u16be(len);
}

/** Minimal unsigned encoding, as MCS servers write it (65535 → 02 02 ff ff). */
export function writeInteger(w: ByteWriter, v: number): ByteWriter {
  checkRange(v, 0, 0xffffffff, 'BER integer');
  const bytes: number[] = [];
  let x = v;
  do {
    bytes.unshift(x & 0xff);
    x = Math.floor(x / 256);
  } while (x > 0);
  w.u8(TAG_INTEGER);
  writeLength(w, bytes.length);
  return w.bytes(Buffer.from(bytes));
}

export function writeEnumerated(w: ByteWriter, v: number): ByteWriter {
  checkRange(v, 0, 0xff, 'BER enumerated');
  return w.u8(TAG_ENUMERATED).u8(1).u8(v);
}

export function writeBoolean(w: ByteWriter, v: boolean): ByteWriter {
  return w.u8(TAG_BOOLEAN).u8(1).u8(v ? 0xff : 0);
}

export function writeOctetString(w: ByteWriter, content: Buffer): ByteWriter {
  w.u8(TAG_OCTET_STRING);
  writeLength(w, content.length);
  return w.bytes(content);
}

/** A constructed element around already-encoded content. */
export function writeConstructed(w: ByteWriter, tag: number, content: Buffer): ByteWriter {
  w.u8(tag);
  writeLength(w, content.length);
  return w.bytes(content);
}

export function writeApplication(w: ByteWriter, app: number, content: Buffer): ByteWriter {
  w.u8(0x7f).u8(app);
  writeLength(w, content.length);
  return w.bytes(content);
}
