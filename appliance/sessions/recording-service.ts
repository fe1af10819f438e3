// Recordings of proxied sessions: started for an admitted session (the file, its row and its audit event),
// ended once, and read by auditors — listed, verified against their row, exported as asciicast (terminals)
// or rendered as frames of the desktop (RDP). A recording that cannot be written ends its session: no
// unrecorded access.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Store, RecordingListing } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { KeyService } from '../keys/index.js';
import { InputError, NotFoundError, WardenError } from '../errors/index.js';
import { requirePermission, type Actor } from '../access/index.js';
import { RecordingWriter, openRecording, verifyRecording, asciicastLines, rdpFrames, type RdpFrame, type RdpFramesOptions, type RecordingMeta, type RecordingWriterOptions, type Verdict } from '../recording/index.js';
import type { ProxySession } from './session-service.js';

export interface RecordingDeps {
  store: Store;
  audit: AuditTrail;
  keys: () => KeyService;
  /** The recordings directory. */
  dir: string;
  clock?: () => number;
  /** Writer tuning (flush interval, chunk size, high-water mark). */
  writer?: Pick<RecordingWriterOptions, 'flushMs' | 'chunkBytes' | 'highWaterMark' | 'hardLimit'>;
  /** This node's id (config node.id): stored with each recording it starts, since the file stays here. */
  nodeId?: string;
  /** Where a recording another node holds is fetched from (absent: such a recording cannot be read here). */
  remote?: RemoteRecordingSource;
}

/** A local copy of a recording held by another cluster node (appliance/nodes RemoteRecordings). */
export interface RemoteRecordingSource {
  localCopy(rec: { id: string; file: string; node_id: string | null; status: string }, actor: { username: string; ip: string | null }): Promise<string>;
}

type Auditor = Actor & { profile: string };

/** The envelope version byte the key service's rewrap expects in front of a wrapped data key. */
const SEALED_KEY_VERSION = 1;
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}\.wrec$/;

/** A recording as an auditor sees it. */
export interface RecordingView {
  id: string;
  sessionId: string;
  protocol: string;
  status: string;
  startedAt: string;
  endedAt: string | null;
  bytes: number;
  chunks: number;
  user: string;
  device: string;
  credential: string;
  source: string;
  /** The cluster node that holds the file (null: made before clustering). */
  node: string | null;
}

/** A command of a recorded session, placed in its recording (for playback: jump to `offsetSeconds`). */
export interface RecordingCommand {
  at: string;
  offsetSeconds: number;
  command: string;
  action: 'allow' | 'alert' | 'block';
  exitStatus: number | null;
}

const CURSOR = /^(\d{1,15})_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** A recordings page cursor (`<started_at ms>_<id>`, as `page` gives it) back into its parts. */
export function parseRecordingCursor(cursor: string): { startedAt: number; id: string } {
  const m = CURSOR.exec(cursor);
  if (!m) throw new InputError('before must be a cursor from a previous page', { field: 'before' });
  return { startedAt: Number(m[1]), id: m[2]! };
}

export interface RecordingVerdict extends Verdict {
  id: string;
  sessionId: string;
}

function view(r: RecordingListing): RecordingView {
  return {
    id: r.id,
    sessionId: r.session_id,
    protocol: r.protocol,
    status: r.status,
    startedAt: new Date(Number(r.started_at)).toISOString(),
    endedAt: r.ended_at === null ? null : new Date(Number(r.ended_at)).toISOString(),
    bytes: Number(r.bytes),
    chunks: Number(r.chunks),
    user: r.username,
    device: r.hostname,
    credential: r.credential_username,
    source: r.source_ip,
    node: r.node_id,
  };
}

/**
 * One session's recording, handed to the protocol adapter: `writer` takes the streams (its appends are
 * synchronous; call them on the data path without awaiting), `close()` ends it once.
 */
export class SessionRecording {
  private closing: Promise<void> | undefined;

  constructor(
    private readonly service: RecordingService,
    readonly id: string,
    readonly sessionId: string,
    readonly writer: RecordingWriter,
  ) {}

  close(): Promise<void> {
    this.closing ??= this.service.finish(this);
    return this.closing;
  }
}

export class RecordingService {
  private readonly now: () => number;

  constructor(private readonly deps: RecordingDeps) {
    this.now = deps.clock ?? Date.now;
  }

  get dir(): string {
    return this.deps.dir;
  }

  /**
   * Start recording an admitted session. The data key is wrapped on the token before the transaction that
   * writes the row and its event; if that transaction fails, the file is closed and nothing records.
   * If the writer fails later (disk), the row says so and the session is asked to end.
   */
  async start(session: Pick<ProxySession, 'id' | 'protocol' | 'username' | 'requestEnd'>, meta: Omit<RecordingMeta, 'protocol'>): Promise<SessionRecording> {
    // RDP frames are recorded as sent with RDP's bulk compression off (so they can be drawn) and deflate
    // several-fold; a terminal's stream is small and its proxy's throughput per MiB is its limit: left as is.
    const compression = session.protocol === 'rdp' ? ({ compression: 'deflate-raw' } as const) : {};
    const writer = await RecordingWriter.create({ ...this.deps.writer, ...compression, keys: this.deps.keys(), dir: this.deps.dir, sessionId: session.id, clock: this.now, meta: { ...meta, protocol: session.protocol } });
    const id = randomUUID();
    try {
      await this.deps.store.transaction(async (repos) => {
        await repos.recordings.insert({
          id,
          session_id: session.id,
          file: path.basename(writer.path),
          protocol: session.protocol,
          key_sealed: Buffer.concat([Buffer.from([SEALED_KEY_VERSION]), writer.wrappedKey]).toString('base64'),
          status: 'recording',
          started_at: writer.startedAt,
          ended_at: null,
          bytes: writer.bytes,
          chunks: 0,
          node_id: this.deps.nodeId ?? null,
        });
        await this.deps.audit.record({ type: 'recording.start', outcome: 'success', actor: session.username, subject: `session:${session.id}`, detail: { session: session.id, recording: id } }, repos);
      });
    } catch (e) {
      await writer.close().catch(() => {});
      throw e;
    }
    const rec = new SessionRecording(this, id, session.id, writer);
    writer.onError(() => {
      session.requestEnd('recording-failed');
      void rec.close().catch(() => {});
    });
    return rec;
  }

  /** @internal SessionRecording.close */
  async finish(rec: SessionRecording): Promise<void> {
    let problem: string | undefined;
    let summary = { bytes: rec.writer.bytes, chunks: rec.writer.chunks, endedAt: this.now() };
    try {
      summary = await rec.writer.close();
    } catch (e) {
      problem = (e as Error).message;
      summary = { bytes: rec.writer.bytes, chunks: rec.writer.chunks, endedAt: this.now() };
    }
    await this.deps.store.transaction(async (repos) => {
      if (!(await repos.recordings.finish(rec.id, { status: problem ? 'failed' : 'complete', at: summary.endedAt, bytes: summary.bytes, chunks: summary.chunks }))) return;
      await this.deps.audit.record(
        {
          type: 'recording.end',
          outcome: problem ? 'failure' : 'success',
          actor: 'system',
          subject: `session:${rec.sessionId}`,
          ...(problem ? { code: 'RECORDING_FAILED' as const } : {}),
          detail: { session: rec.sessionId, bytes: summary.bytes, chunks: summary.chunks, ...(problem ? { problem } : {}) },
        },
        repos,
      );
    });
  }

  async list(actor: Auditor, filter: { user?: string; device?: string; since?: number; until?: number; limit?: number } = {}): Promise<RecordingView[]> {
    return (await this.page(actor, filter)).recordings;
  }

  /**
   * One page of recordings, newest first, and the cursor of the next (older) page: null when this page was the
   * last. `before` is that cursor as the previous page gave it (see recordingCursor).
   */
  async page(actor: Auditor, filter: { user?: string; device?: string; since?: number; until?: number; before?: string; limit?: number } = {}): Promise<{ recordings: RecordingView[]; nextBefore: string | null }> {
    requirePermission(actor.profile, 'recordings.view');
    const limit = Math.min(Math.max(filter.limit ?? 100, 1), 1000);
    // One row more than asked says whether an older page exists, without a count over the whole history.
    const rows = await this.deps.store.repos.recordings.list({
      limit: limit + 1,
      ...(filter.user !== undefined ? { username: filter.user } : {}),
      ...(filter.device !== undefined ? { hostname: filter.device } : {}),
      ...(filter.since !== undefined ? { since: filter.since } : {}),
      ...(filter.until !== undefined ? { until: filter.until } : {}),
      ...(filter.before !== undefined ? { before: parseRecordingCursor(filter.before) } : {}),
    });
    const shown = rows.slice(0, limit);
    const last = shown.at(-1);
    return { recordings: shown.map(view), nextBefore: rows.length > limit && last ? `${Number(last.started_at)}_${last.id}` : null };
  }

  /** The commands entered in a recording's session, in order, with where each is in the recording (paged). */
  async commands(actor: Auditor, id: string, page: { limit: number; offset: number }): Promise<{ commands: RecordingCommand[]; total: number }> {
    requirePermission(actor.profile, 'recordings.view');
    const row = await this.row(id);
    const r = await this.deps.store.repos.sessionCommands.pageOf(row.session_id, page);
    return {
      total: r.total,
      commands: r.commands.map((c) => ({ at: new Date(c.at).toISOString(), offsetSeconds: Math.max(0, c.offsetMs) / 1000, command: c.command, action: c.action, exitStatus: c.exitStatus })),
    };
  }

  async get(actor: Auditor, id: string): Promise<RecordingView> {
    requirePermission(actor.profile, 'recordings.view');
    return view(await this.row(id));
  }

  /**
   * Check the file's chunk chain and hold it against its row: a recording the row says was closed must be
   * complete with as many chunks; one still recording (or cut by a crash) verifies up to its last chunk.
   */
  async verify(actor: Auditor, id: string): Promise<RecordingVerdict> {
    requirePermission(actor.profile, 'recordings.view');
    const row = await this.row(id);
    return this.verifyFile(actor, row, await this.fileFor(row, actor));
  }

  private async verifyFile(actor: Auditor, row: RecordingListing, file: string): Promise<RecordingVerdict> {
    const id = row.id;
    let v: Verdict;
    try {
      const r = await verifyRecording(file, this.deps.keys(), { wrappedKey: this.wrappedKeyOf(row) });
      v = r;
      if (v.ok && r.header.sessionId !== row.session_id) v = { ...v, ok: false, problem: `the file is the recording of another session (${r.header.sessionId})` };
    } catch (e) {
      if (!(e instanceof WardenError) || e.code !== 'RECORDING_UNREADABLE') throw e;
      v = { ok: false, complete: false, chunks: 0, events: 0, verifiedUntilMs: 0, trailingBytes: 0, problem: e.message };
    }
    if (v.ok && row.status === 'complete' && (!v.complete || v.chunks !== Number(row.chunks))) {
      v = { ...v, ok: false, problem: `the row says ${row.chunks} chunks, closed; the file has ${v.chunks}${v.complete ? '' : ', no end'} (chunks removed from its end?)` };
    }
    await this.deps.audit.record({
      type: 'recording.verify',
      outcome: v.ok ? 'success' : 'failure',
      actor: actor.username,
      actorIp: actor.ip,
      subject: `recording:${id}`,
      detail: { complete: v.complete, chunks: v.chunks, problem: v.problem ?? null },
    });
    return { ...v, id, sessionId: row.session_id };
  }

  /**
   * The recording as asciicast v2 lines (input only when asked), after its audit event. It is verified whole
   * first, so an altered recording is refused with a clear error rather than cut off halfway through a
   * download (AES-GCM reads at disk speed: the second pass costs little).
   */
  async asciicast(actor: Auditor, id: string, opts: { input?: boolean } = {}): Promise<AsyncIterable<string>> {
    requirePermission(actor.profile, 'recordings.view');
    const row = await this.row(id);
    if (row.protocol !== 'ssh') throw new InputError(`a ${row.protocol} recording has no terminal export`);
    const file = await this.fileFor(row, actor);
    const v = await this.verifyFile(actor, row, file);
    if (!v.ok) throw new WardenError('RECORDING_UNREADABLE', `the recording failed verification: ${v.problem}`);
    const rec = await openRecording(file, this.deps.keys(), { wrappedKey: this.wrappedKeyOf(row) });
    await this.deps.audit.record({ type: 'recording.view', outcome: 'success', actor: actor.username, actorIp: actor.ip, subject: `recording:${id}`, detail: { format: 'asciicast', input: opts.input === true } });
    return asciicastLines(rec, opts);
  }

  /**
   * An RDP recording played back as frames of the desktop (PNG and RGBA), after its audit event; verified
   * whole first, as for the asciicast export. `durationMs` is how far it verified (for progress).
   */
  async rdpFrames(actor: Auditor, id: string, opts: RdpFramesOptions & { format: 'png' | 'mp4' }): Promise<{ width: number; height: number; durationMs: number; frames: AsyncIterable<RdpFrame> }> {
    requirePermission(actor.profile, 'recordings.view');
    const row = await this.row(id);
    if (row.protocol !== 'rdp') throw new InputError(`a ${row.protocol} recording has no desktop to render (export it as asciicast)`);
    const file = await this.fileFor(row, actor);
    const v = await this.verifyFile(actor, row, file);
    if (!v.ok) throw new WardenError('RECORDING_UNREADABLE', `the recording failed verification: ${v.problem}`);
    const rec = await openRecording(file, this.deps.keys(), { wrappedKey: this.wrappedKeyOf(row) });
    const { format, ...frameOpts } = opts;
    await this.deps.audit.record({ type: 'recording.view', outcome: 'success', actor: actor.username, actorIp: actor.ip, subject: `recording:${id}`, detail: { format, input: false } });
    return { width: rec.header.cols, height: rec.header.rows, durationMs: v.verifiedUntilMs, frames: rdpFrames(rec, frameOpts) };
  }

  /** The recording of a session, if it has one (for the proxy's listing and the search). */
  async bySession(actor: Auditor, sessionId: string): Promise<RecordingView | undefined> {
    requirePermission(actor.profile, 'recordings.view');
    const r = await this.deps.store.repos.recordings.bySession(sessionId);
    return r && view(r);
  }

  private async row(id: string): Promise<RecordingListing> {
    const r = await this.deps.store.repos.recordings.byId(id);
    if (!r) throw new NotFoundError('recording');
    return r;
  }

  /**
   * Where to read the recording's file: here when this node holds it (it made it, it was made before
   * clustering, or its file is in this directory anyway: files are named by their session, so a file of
   * that name is this recording's — a restored backup's, a shared directory), else a copy fetched from the
   * node that holds it.
   */
  private async fileFor(row: RecordingListing, actor: Auditor): Promise<string> {
    // The name came from the writer, but the row is data: never let it point outside the directory.
    if (!FILE_NAME.test(row.file)) throw new WardenError('RECORDING_UNREADABLE', 'the recording row names no valid file');
    const local = path.join(this.deps.dir, row.file);
    if (row.node_id === null || row.node_id === (this.deps.nodeId ?? null) || existsSync(local)) return local;
    if (!this.deps.remote) throw new WardenError('CLUSTER_NODE_UNREACHABLE', `the recording is on node ${row.node_id}, and this process does not fetch from other nodes`);
    return this.deps.remote.localCopy(row, { username: actor.username, ip: actor.ip });
  }

  private wrappedKeyOf(row: RecordingListing): Buffer {
    return Buffer.from(row.key_sealed, 'base64').subarray(1);
  }
}
