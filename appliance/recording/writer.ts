// The recording writer: appends are synchronous and cheap (one copy into the current chunk, the record header
// written in place), so a proxy calls them on its data path without awaiting. A full chunk's buffer is handed
// (transferred, not copied) to the sealing thread (seal-worker.ts), which deflates it when the recording is
// compressed (RDP), encrypts it (AES-256-GCM) and writes
// it, in order, and hands the buffer back for reuse: the event loop pays for the copy, not the cipher nor the
// disk. A chunk is sealed when it is full or `flushMs` after its first record: an idle terminal writes nothing.
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { KeyService } from '../keys/index.js';
import { makePrivateDir, privateFileMode } from '../config/index.js';
import { InputError, WardenError } from '../errors/index.js';
import { MAX_CHUNK_PLAINTEXT, RecordType, TAG_LEN, encodeHeader, headerLink, varintSize, writeVarint, type RecordingCompression, type RecordingHeader, type RecordingMeta } from './format.js';
import type { SealReply, SealRequest } from './seal-worker.js';

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
  /**
   * While data arrives faster than chunks fill by the timer, each chunk may be twice the last, up to this
   * (default 1 MiB, or chunkBytes when that is given): fewer, larger chunks for a bulk transfer.
   */
  floodChunkBytes?: number;
  /** Above this many bytes not yet on disk, appends return false: the caller should pause its source (default 4 MiB). */
  highWaterMark?: number;
  /** Above this, the recording fails rather than grow without bound (default 16 × highWaterMark). */
  hardLimit?: number;
  /**
   * Deflate each chunk's records before sealing it (on the sealing thread), recorded in the header; default
   * none. The backpressure marks still count the records' own bytes (what the thread has to work through).
   */
  compression?: RecordingCompression;
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
  private timer: NodeJS.Timeout | undefined;
  /** Chunks handed to the sealing thread and not yet answered, and who waits for none to be left. */
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  /**
   * Staging buffers the sealing thread handed back, all of the size staged in now, for the next chunks: enough
   * to cover what may be in flight at the high-water mark, so that a flood allocates no chunk (a fresh 1 MiB
   * ArrayBuffer is zeroed, and freed only by a collection). Dropped when the chunk size changes.
   */
  private spare: ArrayBuffer[] = [];
  private readonly maxSpare: number;
  private readonly stageBytes: number;
  private readonly floodStageBytes: number;
  private readonly id: number;
  private inputSuppressed = false;
  private failure: Error | undefined;
  private closing: Promise<RecordingSummary> | undefined;
  private readonly errorListeners: ((e: Error) => void)[] = [];
  private readonly drainListeners: (() => void)[] = [];
  private readonly clock: () => number;
  private readonly flushMs: number;
  private readonly highWaterMark: number;
  private readonly hardLimit: number;
  /** Bytes sealed or staged but not yet written, counted before any compression. */
  private unwritten = 0;
  /** The uncompressed frame length of each chunk in flight, in order: what its answer takes off `unwritten`. */
  private readonly inFlightFrames: number[] = [];
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
    this.stageBytes = Math.min(Math.max(opts.chunkBytes ?? 64 * 1024, 64), MAX_CHUNK_PLAINTEXT);
    this.floodStageBytes = Math.min(Math.max(opts.floodChunkBytes ?? (opts.chunkBytes !== undefined ? this.stageBytes : MAX_CHUNK_PLAINTEXT), this.stageBytes), MAX_CHUNK_PLAINTEXT);
    this.stage = Buffer.from(new ArrayBuffer(this.stageBytes));
    this.highWaterMark = opts.highWaterMark ?? 4 * 1024 * 1024;
    this.hardLimit = opts.hardLimit ?? 16 * this.highWaterMark;
    this.maxSpare = Math.ceil(this.highWaterMark / this.floodStageBytes) + 1;
    this.lastAt = startedAt;
    this.written = headerBytes.length;
    this.id = sealer.open(this, file.fd, key, headerLink(headerBytes), opts.compression);
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
        // Only when set: an uncompressed recording's header is byte for byte what it was before the field.
        ...(opts.compression ? { compression: opts.compression } : {}),
      };
      const headerBytes = encodeHeader(header);
      makePrivateDir(opts.dir);
      try {
        // 0640 in the appliance's shared state directory: the web daemon (another user) plays it back.
        fh = await open(file, 'wx', privateFileMode(opts.dir));
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
    await this.idle();
    if (this.failure) throw this.failure;
  }

  /** Resolves once the sealing thread has answered every chunk handed to it. */
  private idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
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
    await this.idle();
    try {
      if (!this.failure) await this.file.datasync();
    } finally {
      this.key.fill(0);
      sealer.forget(this.id);
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
      this.stage = Buffer.from(new ArrayBuffer(data.length + RECORD_HEAD_MAX));
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

  /** Hand the staged records to the sealing thread as the next chunk; stage into a fresh (or returned) buffer. */
  private seal(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pos === 0 || this.failure) return;
    const length = this.pos;
    const frameLength = 4 + length + TAG_LEN;
    this.pos = 0;
    this.unwritten += frameLength;
    if (this.unwritten > this.hardLimit) {
      this.fail(new WardenError('RECORDING_FAILED', `the recording of session ${this.sessionId} fell ${this.unwritten} bytes behind the disk`));
      return;
    }
    const buf = this.stage.buffer as ArrayBuffer;
    // A chunk sealed at least half full: data is flowing, the next one may be larger (fewer hand-overs).
    const size = length >= buf.byteLength / 2 ? Math.min(Math.max(buf.byteLength * 2, this.stageBytes), this.floodStageBytes) : this.stageBytes;
    // The flood ended (or is starting): the spares of the old size would only hold memory.
    if (size !== buf.byteLength) this.spare.length = 0;
    this.stage = Buffer.from(this.spare.pop() ?? new ArrayBuffer(size));
    this.inFlight++;
    this.inFlightFrames.push(frameLength);
    sealer.chunk(this.id, buf, length);
  }

  /** @internal the sealing thread's answer for one chunk, in order. */
  sealed(reply: SealReply): void {
    this.inFlight--;
    const staged = this.inFlightFrames.shift() ?? 0;
    if (this.spare.length < this.maxSpare && reply.buf.byteLength === this.stage.byteLength) this.spare.push(reply.buf);
    if (reply.op === 'error') {
      this.fail(new WardenError('RECORDING_FAILED', `the recording of session ${this.sessionId} could not be written: ${reply.code ?? reply.message}`));
    } else if (reply.bytes > 0) {
      const before = this.pending;
      this.unwritten -= staged;
      this.written += reply.bytes;
      this.sealedChunks++;
      if (before >= this.highWaterMark && this.pending < this.highWaterMark) for (const l of this.drainListeners.splice(0)) l();
    }
    if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** @internal the sealing thread is gone: every chunk it held is lost. */
  sealerLost(e: Error): void {
    this.fail(new WardenError('RECORDING_FAILED', `the recording of session ${this.sessionId} lost its sealing thread: ${e.message}`, { cause: e }));
    this.inFlight = 0;
    this.inFlightFrames.length = 0;
    for (const w of this.idleWaiters.splice(0)) w();
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

async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const { bytesWritten } = await fh.write(data, off, data.length - off, null);
    off += bytesWritten;
  }
}


/**
 * The one sealing thread of the process, started with the first recording. It keeps the process alive only
 * while it holds chunks; if it dies, every recording in progress fails (and so ends its session).
 */
class Sealer {
  private worker: Worker | undefined;
  private readonly writers = new Map<number, RecordingWriter>();
  private nextId = 1;
  private inFlight = 0;

  open(writer: RecordingWriter, fd: number, key: Buffer, previous: Buffer, compression: RecordingCompression | undefined): number {
    const id = this.nextId++;
    this.writers.set(id, writer);
    this.post({ op: 'open', id, fd, key, previous, compression });
    return id;
  }

  chunk(id: number, buf: ArrayBuffer, length: number): void {
    if (this.inFlight++ === 0) this.thread().ref();
    this.post({ op: 'chunk', id, buf, length }, [buf]);
  }

  forget(id: number): void {
    this.writers.delete(id);
    if (this.worker) this.post({ op: 'forget', id });
  }

  private post(m: SealRequest, transfer: ArrayBuffer[] = []): void {
    this.thread().postMessage(m, transfer);
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./seal-worker.js', import.meta.url));
    worker.unref();
    worker.on('message', (r: SealReply) => {
      if (--this.inFlight === 0) worker.unref();
      this.writers.get(r.id)?.sealed(r);
    });
    const lost = (e: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.inFlight = 0;
      const writers = [...this.writers.values()];
      this.writers.clear();
      for (const w of writers) w.sealerLost(e);
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`the sealing thread exited (${code})`)));
    this.worker = worker;
    return worker;
  }
}

const sealer = new Sealer();
