// The recording writer: appends are synchronous and cheap (one copy into the current chunk), so a proxy calls
// them on its data path without awaiting; sealing a chunk (AES-256-GCM, in-process) is synchronous too, and
// only the disk write is asynchronous, on one serialized queue, so order is never lost. A chunk is sealed when
// it is full or `flushMs` after its first record: an idle terminal writes nothing at all.
import { randomBytes, createCipheriv } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { KeyService } from '../keys/index.js';
import { makePrivateDir, PRIVATE_FILE_MODE } from '../config/index.js';
import { InputError, WardenError } from '../errors/index.js';
import { MAX_CHUNK_PLAINTEXT, RecordType, TAG_LEN, chunkAad, encodeHeader, headerLink, nonce, varintSize, writeVarint, type RecordingHeader, type RecordingMeta } from './format.js';

export interface RecordingWriterOptions {
  keys: Pick<KeyService, 'wrapDataKey'>;
  dir: string;
  sessionId: string;
  /** Epoch ms (default: clock()). */
  startedAt?: number;
  clock?: () => number;
  meta: RecordingMeta;
  /** A chunk with data is sealed at most this long after its first record (default 1000 ms). */
  flushMs?: number;
  /** Plaintext bytes per chunk before it is sealed (default 64 KiB). */
  chunkBytes?: number;
  /** Above this many bytes not yet on disk, appends return false: the caller should pause its source (default 4 MiB). */
  highWaterMark?: number;
  /** Above this, the recording fails rather than grow without bound (default 16 × highWaterMark). */
  hardLimit?: number;
}

export interface RecordingSummary {
  path: string;
  /** Bytes in the file, header included. */
  bytes: number;
  chunks: number;
  endedAt: number;
}

const SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;
const MAX_EVENT_KIND = 64;
const MAX_TERMINAL = 10_000;
/** The largest header of one record: type, delta and length varints. */
const RECORD_HEAD_MAX = 1 + 8 + 8;

/** The file a session's recording lives in, inside the recordings directory. */
export function recordingFileName(sessionId: string): string {
  if (!SESSION_ID.test(sessionId)) throw new InputError('a recording needs a session id of letters, digits and dashes');
  return `${sessionId}.wrec`;
}

export class RecordingWriter {
  private stage: Buffer;
  private pos = 0;
  private lastAt: number;
  private seq = 0;
  private previous: Buffer;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private inputSuppressed = false;
  private failure: Error | undefined;
  private closing: Promise<RecordingSummary> | undefined;
  private readonly errorListeners: ((e: Error) => void)[] = [];
  private readonly drainListeners: (() => void)[] = [];
  private readonly clock: () => number;
  private readonly flushMs: number;
  private readonly highWaterMark: number;
  private readonly hardLimit: number;
  /** Bytes sealed or staged but not yet written. */
  private unwritten = 0;
  private written: number;
  private sealedChunks = 0;

  private constructor(
    readonly path: string,
    readonly sessionId: string,
    readonly startedAt: number,
    /** The data key wrapped under the master key, for the store row (which rotation re-wraps). */
    readonly wrappedKey: Buffer,
    private readonly key: Buffer,
    private readonly file: FileHandle,
    headerBytes: Buffer,
    opts: RecordingWriterOptions,
  ) {
    this.clock = opts.clock ?? Date.now;
    this.flushMs = opts.flushMs ?? 1000;
    this.stage = Buffer.allocUnsafe(Math.min(Math.max(opts.chunkBytes ?? 64 * 1024, 64), MAX_CHUNK_PLAINTEXT));
    this.highWaterMark = opts.highWaterMark ?? 4 * 1024 * 1024;
    this.hardLimit = opts.hardLimit ?? 16 * this.highWaterMark;
    this.lastAt = startedAt;
    this.previous = headerLink(headerBytes);
    this.written = headerBytes.length;
  }

  /** Create the file (exclusively, 0600) under a fresh data key wrapped on the token, and write its header. */
  static async create(opts: RecordingWriterOptions): Promise<RecordingWriter> {
    const file = path.join(opts.dir, recordingFileName(opts.sessionId));
    const { cols, rows } = opts.meta;
    if (!validSize(cols) || !validSize(rows)) throw new InputError('a terminal size is 1 to 10000 columns and rows');
    const key = randomBytes(32);
    let fh: FileHandle | undefined;
    try {
      const wrappedKey = await opts.keys.wrapDataKey(key);
      const startedAt = opts.startedAt ?? (opts.clock ?? Date.now)();
      const header: RecordingHeader = {
        version: 1,
        sessionId: opts.sessionId,
        startedAt,
        protocol: opts.meta.protocol,
        cols,
        rows,
        term: String(opts.meta.term).slice(0, 64),
        wrappedKey: wrappedKey.toString('base64'),
      };
      const headerBytes = encodeHeader(header);
      makePrivateDir(opts.dir);
      try {
        fh = await open(file, 'wx', PRIVATE_FILE_MODE);
      } catch (e) {
        // Never over an existing recording: evidence is not replaced.
        throw new WardenError('RECORDING_FAILED', `the recording file of session ${opts.sessionId} cannot be created: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
      }
      await writeAll(fh, headerBytes);
      return new RecordingWriter(file, opts.sessionId, startedAt, wrappedKey, key, fh, headerBytes, opts);
    } catch (e) {
      key.fill(0);
      await fh?.close().catch(() => {});
      throw e;
    }
  }

  /** What the target sent. Returns false when the disk has fallen behind: pause the source until onDrain. */
  output(data: Buffer): boolean {
    return this.appendBytes(RecordType.Output, data);
  }

  /** What the user typed; dropped while input is suppressed (a password prompt). */
  input(data: Buffer): boolean {
    if (this.inputSuppressed) return this.unwritten < this.highWaterMark;
    return this.appendBytes(RecordType.Input, data);
  }

  resize(cols: number, rows: number): boolean {
    if (!validSize(cols) || !validSize(rows)) return this.unwritten < this.highWaterMark;
    const at = this.tick();
    if (at === undefined) return false;
    this.reserve(1 + 8 + varintSize(cols) + varintSize(rows));
    this.stage[this.pos++] = RecordType.Resize;
    this.pos = writeVarint(this.stage, this.pos, at);
    this.pos = writeVarint(this.stage, this.pos, cols);
    this.pos = writeVarint(this.stage, this.pos, rows);
    return this.afterAppend();
  }

  /** A structured event: a file operation, a command, a marker, a note. */
  event(kind: string, data: Record<string, unknown> = {}): boolean {
    if (kind.length === 0 || kind.length > MAX_EVENT_KIND) throw new InputError(`an event kind is 1 to ${MAX_EVENT_KIND} characters`);
    return this.appendBytes(RecordType.Event, Buffer.from(JSON.stringify({ kind, data }), 'utf8'), true);
  }

  /**
   * While on, input is not recorded at all (the user typing a password at a prompt). The switch itself is
   * recorded, so an auditor sees where input is missing and why.
   */
  suppressInput(on: boolean): void {
    if (on === this.inputSuppressed) return;
    this.event('input-suppressed', { on });
    this.inputSuppressed = on;
  }

  get isInputSuppressed(): boolean {
    return this.inputSuppressed;
  }

  /** Bytes accepted but not yet on disk. */
  get pending(): number {
    return this.unwritten + this.pos;
  }

  /** Bytes in the file so far. */
  get bytes(): number {
    return this.written;
  }

  get chunks(): number {
    return this.sealedChunks;
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  /** Called once if the recording cannot go on (the disk failed or fell too far behind): end the session. */
  onError(listener: (e: Error) => void): void {
    if (this.failure) listener(this.failure);
    else this.errorListeners.push(listener);
  }

  /**
   * Called once, when the bytes not yet written next fall under the high-water mark (at once if they are
   * under it now): `if (!w.output(d)) { source.pause(); w.onDrain(() => source.resume()); }`.
   */
  onDrain(listener: () => void): void {
    if (this.pending < this.highWaterMark || this.failure) listener();
    else this.drainListeners.push(listener);
  }

  /** Seal what is staged now and wait until everything so far is on disk. */
  async flush(): Promise<void> {
    this.seal();
    await this.writing;
    if (this.failure) throw this.failure;
  }

  /** Write an end record, seal, flush to disk and close the file. Idempotent. */
  close(): Promise<RecordingSummary> {
    this.closing ??= this.finish();
    return this.closing;
  }

  private async finish(): Promise<RecordingSummary> {
    if (!this.failure) {
      const at = this.tick();
      if (at !== undefined) {
        this.reserve(1 + 8);
        this.stage[this.pos++] = RecordType.End;
        this.pos = writeVarint(this.stage, this.pos, at);
      }
      this.seal();
    }
    await this.writing;
    try {
      if (!this.failure) await this.file.datasync();
    } finally {
      this.key.fill(0);
      await this.file.close().catch(() => {});
    }
    if (this.failure) throw this.failure;
    return { path: this.path, bytes: this.written, chunks: this.sealedChunks, endedAt: this.lastAt };
  }

  /** The delta since the last record, or undefined when nothing may be appended any more. */
  private tick(): number | undefined {
    if (this.failure || this.closing) return undefined;
    const now = this.clock();
    const delta = now > this.lastAt ? now - this.lastAt : 0;
    this.lastAt += delta;
    return delta;
  }

  private appendBytes(type: RecordType, data: Buffer, whole = false): boolean {
    let at = this.tick();
    if (at === undefined) return false;
    if (whole && data.length + RECORD_HEAD_MAX > this.stage.length) {
      // An event never splits (it is one JSON value): it gets a stage of its own size.
      if (data.length + RECORD_HEAD_MAX > MAX_CHUNK_PLAINTEXT) throw new InputError('an event is too large to record');
      this.seal();
      this.stage = Buffer.allocUnsafe(data.length + RECORD_HEAD_MAX);
    }
    let offset = 0;
    // Output larger than the room left is split into several records of the same time: one copy, no concat.
    do {
      if (this.stage.length - this.pos < RECORD_HEAD_MAX + (whole ? data.length : 1)) this.seal();
      const room = this.stage.length - this.pos - RECORD_HEAD_MAX;
      const n = Math.min(room, data.length - offset);
      this.stage[this.pos++] = type;
      this.pos = writeVarint(this.stage, this.pos, at);
      this.pos = writeVarint(this.stage, this.pos, n);
      this.pos += data.copy(this.stage, this.pos, offset, offset + n);
      offset += n;
      at = 0;
    } while (offset < data.length);
    return this.afterAppend();
  }

  private reserve(n: number): void {
    if (this.stage.length - this.pos < n) this.seal();
  }

  private afterAppend(): boolean {
    if (this.pos >= this.stage.length - RECORD_HEAD_MAX) this.seal();
    else if (this.pos > 0 && !this.timer) {
      this.timer = setTimeout(() => this.seal(), this.flushMs);
      this.timer.unref();
    }
    return this.pending < this.highWaterMark;
  }

  /** Encrypt the staged records into the next chunk and queue its write. */
  private seal(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pos === 0 || this.failure) return;
    const seq = this.seq++;
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce(seq));
    cipher.setAAD(chunkAad(seq, this.previous));
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(this.pos);
    const body = cipher.update(this.stage.subarray(0, this.pos));
    const rest = cipher.final();
    const tag = cipher.getAuthTag();
    this.previous = tag;
    // Written as a vector: no copy of the ciphertext into one frame buffer.
    const frame = rest.length ? [head, body, rest, tag] : [head, body, tag];
    const frameLength = 4 + this.pos + TAG_LEN;
    this.pos = 0;
    this.unwritten += frameLength;
    if (this.unwritten > this.hardLimit) {
      this.fail(new WardenError('RECORDING_FAILED', `the recording of session ${this.sessionId} fell ${this.unwritten} bytes behind the disk`));
      return;
    }
    this.writing = this.writing.then(async () => {
      if (this.failure) return;
      try {
        await writeAllv(this.file, frame, frameLength);
      } catch (e) {
        this.fail(new WardenError('RECORDING_FAILED', `the recording of session ${this.sessionId} could not be written: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e }));
        return;
      }
      const before = this.pending;
      this.unwritten -= frameLength;
      this.written += frameLength;
      this.sealedChunks++;
      if (before >= this.highWaterMark && this.pending < this.highWaterMark) for (const l of this.drainListeners.splice(0)) l();
    });
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    if (this.timer) clearTimeout(this.timer);
    // Whoever waits for a drain learns of the failure rather than waiting for ever.
    for (const l of this.drainListeners.splice(0)) l();
    for (const l of this.errorListeners.splice(0)) {
      try {
        l(e);
      } catch {
        // one listener's failure must not hide the error from the others
      }
    }
  }
}

function validSize(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= MAX_TERMINAL;
}

async function writeAllv(fh: FileHandle, parts: Buffer[], length: number): Promise<void> {
  const { bytesWritten } = await fh.writev(parts);
  // A short vectored write (rare on a regular file): the rest goes out as one buffer.
  if (bytesWritten < length) await writeAll(fh, Buffer.concat(parts).subarray(bytesWritten));
}

async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const { bytesWritten } = await fh.write(data, off, data.length - off, null);
    off += bytesWritten;
  }
}

