// Reading a recording back: the header, then the events chunk by chunk, each chunk checked against its
// sequence number and the previous chunk's tag. A tail cut mid-chunk (the writer killed) ends the reading
// quietly as "truncated"; anything that fails authentication ends it as tampered.
import { createDecipheriv } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { inflateRaw } from 'node:zlib';
import { promisify } from 'node:util';
import type { KeyService } from '../keys/index.js';
import { WardenError } from '../errors/index.js';
import { COMPRESSIONS, MAGIC, MAX_CHUNK_PLAINTEXT, MAX_CHUNK_STORED, MAX_HEADER, TAG_LEN, chunkAad, decodeRecords, headerLink, nonce, type RecordingEvent, type RecordingHeader } from './format.js';

// On the thread pool, not the event loop of the daemon that serves the export.
const inflateRawAsync = promisify(inflateRaw) as (buf: Buffer, opts: { maxOutputLength: number }) => Promise<Buffer>;

export interface OpenOptions {
  /**
   * The current wrapped data key, when it is kept elsewhere (the store row, which a master key rotation
   * re-wraps); default: the one in the header, as wrapped when the recording was created.
   */
  wrappedKey?: Buffer;
}

export interface Verdict {
  /** No chunk failed authentication (a cut tail is not a failure). */
  ok: boolean;
  /** The writer closed the recording (its end record was read). */
  complete: boolean;
  /** Chunks that verified. */
  chunks: number;
  events: number;
  /** Time of the last verified event, ms after the start. */
  verifiedUntilMs: number;
  /** Bytes after the last verified chunk (a partial chunk left by a crash). */
  trailingBytes: number;
  /** Why `ok` is false, or why the recording is incomplete. */
  problem?: string;
}

export class Recording {
  private verdictValue: Verdict | undefined;
  private read = false;

  constructor(
    readonly path: string,
    readonly header: RecordingHeader,
    private readonly headerBytes: Buffer,
    private readonly key: Buffer,
  ) {}

  /** The verdict once `events()` has run to its end. */
  get verdict(): Verdict | undefined {
    return this.verdictValue;
  }

  /**
   * The events in order. Stops at a cut tail (verdict: truncated) or at the first chunk that fails to
   * authenticate (verdict: not ok); what was yielded before that is authentic.
   */
  async *events(): AsyncGenerator<RecordingEvent, Verdict> {
    // The data key is zeroed once the reading ends, however it ends: one reading per open.
    if (this.read) throw new WardenError('RECORDING_UNREADABLE', 'a recording is read once per open');
    this.read = true;
    const v: Verdict = { ok: true, complete: false, chunks: 0, events: 0, verifiedUntilMs: 0, trailingBytes: 0 };
    const fh = await open(this.path, 'r');
    try {
      const size = (await fh.stat()).size;
      let pos = this.headerBytes.length;
      let previous = headerLink(this.headerBytes);
      let at = 0;
      const lenBuf = Buffer.alloc(4);
      const compressed = this.header.compression === 'deflate-raw';
      const maxStored = compressed ? MAX_CHUNK_STORED : MAX_CHUNK_PLAINTEXT;
      for (let seq = 0; pos < size; seq++) {
        if (v.complete) {
          v.ok = false;
          v.problem = `data after the end record (${size - pos} bytes)`;
          break;
        }
        if (size - pos < 4) {
          v.trailingBytes = size - pos;
          break;
        }
        await readExactly(fh, lenBuf, pos);
        const n = lenBuf.readUInt32BE(0);
        if (n === 0 || n > maxStored) {
          v.ok = false;
          v.problem = `chunk ${seq} has an impossible length`;
          break;
        }
        if (size - pos < 4 + n + TAG_LEN) {
          v.trailingBytes = size - pos;
          break;
        }
        const frame = Buffer.allocUnsafe(n + TAG_LEN);
        await readExactly(fh, frame, pos + 4);
        const tag = frame.subarray(n);
        let plain: Buffer;
        try {
          const d = createDecipheriv('aes-256-gcm', this.key, nonce(seq));
          d.setAAD(chunkAad(seq, previous));
          d.setAuthTag(tag);
          plain = Buffer.concat([d.update(frame.subarray(0, n)), d.final()]);
        } catch {
          v.ok = false;
          v.problem = `chunk ${seq} fails authentication (altered, reordered, removed before it, or another header)`;
          break;
        }
        if (compressed) {
          try {
            // Bounded: an authentic but hostile chunk (a writer's key in the wrong hands) must not inflate
            // without limit; the bound is what an uncompressed chunk may hold.
            plain = await inflateRawAsync(plain, { maxOutputLength: MAX_CHUNK_PLAINTEXT });
          } catch (e) {
            v.ok = false;
            v.problem = `chunk ${seq} does not decompress: ${(e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ? `it inflates beyond ${MAX_CHUNK_PLAINTEXT} bytes` : (e as Error).message}`;
            break;
          }
        }
        let decoded: { events: RecordingEvent[]; at: number };
        try {
          decoded = decodeRecords(plain, at);
        } catch (e) {
          v.ok = false;
          v.problem = `chunk ${seq} holds malformed records: ${(e as Error).message}`;
          break;
        }
        previous = Buffer.from(tag);
        pos += 4 + n + TAG_LEN;
        at = decoded.at;
        v.chunks++;
        v.verifiedUntilMs = at;
        for (const e of decoded.events) {
          if (e.type === 'end') v.complete = true;
          v.events++;
          yield e;
        }
      }
      if (v.ok && !v.complete) v.problem = `truncated after ${v.chunks} chunks, verified up to ${formatMs(v.verifiedUntilMs)}${v.trailingBytes ? ` (${v.trailingBytes} bytes of a partial chunk after it)` : ''}`;
    } finally {
      await fh.close();
      this.key.fill(0);
    }
    this.verdictValue = v;
    return v;
  }
}

function formatMs(ms: number): string {
  return `${(ms / 1000).toFixed(3)} s`;
}

async function readExactly(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesRead } = await fh.read(buf, off, buf.length - off, position + off);
    if (bytesRead === 0) throw new WardenError('RECORDING_UNREADABLE', 'the recording ended while it was being read');
    off += bytesRead;
  }
}

/** Read the header of a recording file (no key needed). */
export async function readRecordingHeader(file: string): Promise<{ header: RecordingHeader; headerBytes: Buffer }> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    throw new WardenError('RECORDING_UNREADABLE', `the recording cannot be opened: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const start = Buffer.alloc(MAGIC.length + 4);
    const { bytesRead } = await fh.read(start, 0, start.length, 0);
    if (bytesRead < start.length || !start.subarray(0, MAGIC.length).equals(MAGIC)) throw new WardenError('RECORDING_UNREADABLE', 'not a Warden recording');
    const len = start.readUInt32BE(MAGIC.length);
    if (len > MAX_HEADER) throw new WardenError('RECORDING_UNREADABLE', 'the recording header is too large');
    const json = Buffer.alloc(len);
    const r = await fh.read(json, 0, len, start.length);
    if (r.bytesRead < len) throw new WardenError('RECORDING_UNREADABLE', 'the recording header is cut short');
    let header: RecordingHeader;
    try {
      header = JSON.parse(json.toString('utf8')) as RecordingHeader;
    } catch {
      throw new WardenError('RECORDING_UNREADABLE', 'the recording header is not readable');
    }
    if (header.version !== 1 || typeof header.sessionId !== 'string' || typeof header.wrappedKey !== 'string' || typeof header.startedAt !== 'number') {
      throw new WardenError('RECORDING_UNREADABLE', 'the recording header is incomplete');
    }
    if (header.compression !== undefined && !COMPRESSIONS.includes(header.compression)) {
      throw new WardenError('RECORDING_UNREADABLE', `the recording uses an unknown compression (${String(header.compression)})`);
    }
    return { header, headerBytes: Buffer.concat([start, json]) };
  } finally {
    await fh.close();
  }
}

/** Open a recording: its header now, its events as they are read. */
export async function openRecording(file: string, keys: Pick<KeyService, 'unwrapDataKey'>, opts: OpenOptions = {}): Promise<Recording> {
  const { header, headerBytes } = await readRecordingHeader(file);
  let key: Buffer;
  try {
    key = await keys.unwrapDataKey(opts.wrappedKey ?? Buffer.from(header.wrappedKey, 'base64'));
  } catch (e) {
    throw new WardenError('RECORDING_UNREADABLE', "the recording's data key does not open under the master key", { cause: e });
  }
  return new Recording(file, header, headerBytes, key);
}

/** Read a whole recording and say how far it is authentic. */
export async function verifyRecording(file: string, keys: Pick<KeyService, 'unwrapDataKey'>, opts: OpenOptions = {}): Promise<Verdict & { header: RecordingHeader }> {
  const rec = await openRecording(file, keys, opts);
  const it = rec.events();
  let r = await it.next();
  while (!r.done) r = await it.next();
  return { ...r.value, header: rec.header };
}
