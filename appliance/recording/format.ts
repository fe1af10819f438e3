// The on-disk format of a recording, shared by the writer and the reader.
//
//   file   = MAGIC ‖ u32 headerLength ‖ header JSON ‖ chunk*
//   chunk  = u32 ciphertextLength ‖ ciphertext ‖ tag(16)
//
// Each chunk is AES-256-GCM under the recording's data key. Its nonce is the chunk's sequence number (the key
// is random per recording, so a counter never repeats a nonce and costs no bytes). Its AAD is
// "warden/recording/v1" ‖ u64 seq ‖ previous chunk's tag, or SHA-256 of the header bytes for chunk 0: the
// header (session id, wrapped key, terminal) is authenticated by the first chunk, and every chunk by the
// next, so a swapped header, a reordered, dropped or altered chunk fails; only a cut tail reads as "truncated".
//
// The plaintext of a chunk is a run of records: u8 type ‖ varint delta-ms since the previous record ‖ payload.
// When the header says `compression: "deflate-raw"` (RDP recordings: the proxy turns RDP's own bulk compression
// off so that frames can be decoded, and raw frames compress several-fold), a chunk's plaintext is instead the
// raw DEFLATE (RFC 1951) of that run: compressed before it is encrypted, since ciphertext does not compress.
// A reader inflates it with its output bounded by MAX_CHUNK_PLAINTEXT. No field means no compression (every
// recording written before it, and every terminal recording: the terminal proxy's throughput is its limit).
import { createHash } from 'node:crypto';

export const MAGIC = Buffer.from('WARDEN-REC1\n');
export const TAG_LEN = 16;
export const AAD_PREFIX = Buffer.from('warden/recording/v1');
/** A chunk's plaintext never exceeds this: a reader refuses a length field above it before allocating. */
export const MAX_CHUNK_PLAINTEXT = 1 << 20;
export const MAX_HEADER = 64 * 1024;
/**
 * The largest stored (ciphertext) length of a compressed chunk: DEFLATE of incompressible data grows a little
 * (zlib's deflateBound for MAX_CHUNK_PLAINTEXT is about 330 bytes over it); the inflated run is still bounded
 * by MAX_CHUNK_PLAINTEXT.
 */
export const MAX_CHUNK_STORED = MAX_CHUNK_PLAINTEXT + 4096;

/** How a recording's chunk plaintexts are compressed, when they are. */
export type RecordingCompression = 'deflate-raw';
export const COMPRESSIONS: readonly RecordingCompression[] = ['deflate-raw'];

export const enum RecordType {
  Output = 1,
  Input = 2,
  Resize = 3,
  Event = 4,
  End = 5,
}

export interface RecordingMeta {
  protocol: string;
  cols: number;
  rows: number;
  term: string;
}

export interface RecordingHeader extends RecordingMeta {
  version: 1;
  sessionId: string;
  /** Epoch ms; every record's time is relative to it. */
  startedAt: number;
  /** The data key wrapped under the master key at creation (base64). After a rotation the store row holds the current one. */
  wrappedKey: string;
  /** Absent: chunk plaintexts are the record runs themselves. */
  compression?: RecordingCompression;
}

export type RecordingEvent =
  | { at: number; type: 'output' | 'input'; data: Buffer }
  | { at: number; type: 'resize'; cols: number; rows: number }
  | { at: number; type: 'event'; kind: string; data: Record<string, unknown> }
  | { at: number; type: 'end' };

export function nonce(seq: number): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeBigUInt64BE(BigInt(seq), 4);
  return iv;
}

export function chunkAad(seq: number, previous: Buffer): Buffer {
  const s = Buffer.alloc(8);
  s.writeBigUInt64BE(BigInt(seq));
  return Buffer.concat([AAD_PREFIX, s, previous]);
}

/** What chunk 0 chains to: the exact header bytes as written. */
export function headerLink(headerBytes: Buffer): Buffer {
  return createHash('sha256').update(headerBytes).digest();
}

export function encodeHeader(h: RecordingHeader): Buffer {
  const json = Buffer.from(JSON.stringify(h), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(json.length);
  return Buffer.concat([MAGIC, len, json]);
}

/** Append an unsigned LEB128 varint to `out` at `pos`; returns the new position. */
export function writeVarint(out: Buffer, pos: number, value: number): number {
  let v = value;
  while (v >= 0x80) {
    out[pos++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  out[pos++] = v;
  return pos;
}

export function varintSize(value: number): number {
  let n = 1;
  let v = value;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

export function readVarint(buf: Buffer, pos: number): [number, number] {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 8; i++) {
    if (pos >= buf.length) throw new RangeError('varint runs past the end of the chunk');
    const b = buf[pos++]!;
    value += (b & 0x7f) * mul;
    if (b < 0x80) return [value, pos];
    mul *= 128;
  }
  throw new RangeError('varint too long');
}

/** Decode one chunk's plaintext into events; `at` carries the running time across chunks. */
export function decodeRecords(plain: Buffer, startAt: number): { events: RecordingEvent[]; at: number } {
  const events: RecordingEvent[] = [];
  let at = startAt;
  let pos = 0;
  while (pos < plain.length) {
    const type = plain[pos++]!;
    let delta: number;
    [delta, pos] = readVarint(plain, pos);
    at += delta;
    switch (type) {
      case RecordType.Output:
      case RecordType.Input:
      case RecordType.Event: {
        let len: number;
        [len, pos] = readVarint(plain, pos);
        if (pos + len > plain.length) throw new RangeError('record runs past the end of the chunk');
        const data = Buffer.from(plain.subarray(pos, pos + len));
        pos += len;
        if (type === RecordType.Event) {
          const parsed = JSON.parse(data.toString('utf8')) as { kind: string; data: Record<string, unknown> };
          events.push({ at, type: 'event', kind: parsed.kind, data: parsed.data });
        } else {
          events.push({ at, type: type === RecordType.Output ? 'output' : 'input', data });
        }
        break;
      }
      case RecordType.Resize: {
        let cols: number;
        let rows: number;
        [cols, pos] = readVarint(plain, pos);
        [rows, pos] = readVarint(plain, pos);
        events.push({ at, type: 'resize', cols, rows });
        break;
      }
      case RecordType.End:
        events.push({ at, type: 'end' });
        break;
      default:
        throw new RangeError(`unknown record type ${type}`);
    }
  }
  return { events, at };
}
