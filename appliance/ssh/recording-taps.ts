// The proxy's taps: every session recorded (appliance.recordings), its commands judged (the session's command
// rules: a guard on interactive channels, the exec command whole before its channel opens) and its commands,
// output text and file operations handed to the search (sessions.activityRecorder). One recording and one
// activity recorder per session, shared by its channels, closed once when the session ends.
import { endsWithSecretPrompt, type CommandGuard, type CommandVerdict, type GuardedCommand } from '../commands/index.js';
import type { CommandActivity, ProxySession, RecordingService, SessionActivityRecorder, SessionRecording, SessionService } from '../sessions/index.js';
import { logger } from '../log/index.js';
import type { ChannelInfo, ChannelIO, ChannelTap, ExecJudgement, ExitInfo, TapFactory } from './data-tap.js';
import { ScpObserver, SftpObserver, type FileOperation } from './sftp-observer.js';

const log = logger('ssh');

/** Exit status of a refused exec: 126 is the shell's "found but cannot be executed". */
export const BLOCKED_EXEC_STATUS = 126;
/** Output of a command run without a terminal indexed for the search, at most (see RecordingTap.indexBudget). */
export const NONINTERACTIVE_INDEX_BYTES = 256 * 1024;
/**
 * Output of a terminal indexed for the search: all of it at a reading pace, a flood (`cat` of a log, a build)
 * in bounded slices — a burst of this many bytes, refilled at INTERACTIVE_INDEX_RATE. All of it is recorded.
 */
export const INTERACTIVE_INDEX_BURST = 1024 * 1024;
/** Bytes per second of terminal output the search index keeps up with, past a burst. */
export const INTERACTIVE_INDEX_RATE = 256 * 1024;
/** How much of what the target printed last is kept to see a password prompt. */
const TAIL_CHARS = 200;

interface SessionState {
  recording: Promise<SessionRecording>;
  activity: SessionActivityRecorder;
  taps: Set<RecordingTap>;
  closed: boolean;
  /** Alerted exec commands stored when judged, by command, until their channel opens (to get its exit status). */
  alerted: Map<string, CommandActivity>;
}
/** Alerted exec commands waiting for their channel, at most (a channel refused upstream never claims its own). */
const MAX_ALERTED_WAITING = 32;

/** A command as a recording event: one event must fit a chunk, even a 256 KiB command of control characters. */
function commandField(command: string): { command: string; truncated?: true } {
  return command.length <= MAX_EVENT_COMMAND ? { command } : { command: command.slice(0, MAX_EVENT_COMMAND), truncated: true };
}
const MAX_EVENT_COMMAND = 32 * 1024;

function ruleOf(v: CommandVerdict): { position: number; pattern: string } | null {
  return v.rule ? { position: v.rule.position, pattern: v.rule.pattern } : null;
}

export class RecordingTaps implements TapFactory {
  private readonly sessions = new Map<string, SessionState>();
  /** Sessions whose recording is closed: a channel arriving late gets none, never a second recording. */
  private readonly ended = new WeakSet<ProxySession>();

  /** `appliance`: the recordings and the sessions (an Appliance is one). */
  constructor(private readonly appliance: { recordings: RecordingService; sessions: SessionService }) {}

  /** The session's recording and activity recorder, started by its first channel. */
  private state(session: ProxySession, info: ChannelInfo): SessionState {
    let s = this.sessions.get(session.id);
    if (s) return s;
    if (this.ended.has(session)) throw new Error('the session has ended');
    const recording = this.appliance.recordings.start(session, { cols: info.cols || 80, rows: info.rows || 24, term: info.term ?? 'xterm' });
    // Known unhandled here: every caller awaits it, and a failure refuses the channel.
    recording.catch(() => {});
    const activity = this.appliance.sessions.activityRecorder(session.id, {
      onError: (e) => log.warn('could not store session activity', { session: session.id, error: (e as Error).message }),
    });
    s = { recording, activity, taps: new Set(), closed: false, alerted: new Map() };
    this.sessions.set(session.id, s);
    return s;
  }

  async judgeExec(session: ProxySession, command: string): Promise<ExecJudgement> {
    const s = this.state(session, { kind: 'exec', command });
    const rec = await s.recording;
    const verdict = session.judgeExec(command);
    rec.writer.event('exec', { ...commandField(command), action: verdict.action, rule: ruleOf(verdict) });
    if (verdict.action === 'allow') return { allowed: true };
    // Written at once (a block's high-severity event must not wait); an allowed command is stored at its end, with its exit status.
    const activity: CommandActivity = { at: Date.now(), command, action: verdict.action, rule: ruleOf(verdict), exec: true, ...(verdict.action === 'block' ? { exitStatus: BLOCKED_EXEC_STATUS } : {}) };
    const stored = s.activity.command(activity);
    if (verdict.action === 'alert') {
      s.alerted.delete(command);
      s.alerted.set(command, activity);
      if (s.alerted.size > MAX_ALERTED_WAITING) s.alerted.delete(s.alerted.keys().next().value!);
      return { allowed: true };
    }
    await stored;
    const which = verdict.rule ? `rule ${verdict.rule.position + 1} (${verdict.rule.pattern})` : 'the allow-list (no rule allows it)';
    return { allowed: false, message: `warden: command blocked by ${which}`, exitStatus: BLOCKED_EXEC_STATUS };
  }

  async open(session: ProxySession, info: ChannelInfo, io: ChannelIO): Promise<ChannelTap> {
    const s = this.state(session, info);
    const rec = await s.recording;
    if (s.closed) throw new Error('the session has ended');
    const alerted = info.kind === 'exec' && info.command !== undefined ? s.alerted.get(info.command) : undefined;
    if (alerted) s.alerted.delete(info.command!);
    const tap = new RecordingTap(session, info, io, rec, s.activity, () => s.taps.delete(tap), alerted);
    s.taps.add(tap);
    return tap;
  }

  async forward(session: ProxySession, f: { destination: string; origin: string }): Promise<void> {
    // A session opened only to forward (ssh -N -L) gets its recording here: the forwards are its record.
    const s = this.state(session, { kind: 'exec' });
    const rec = await s.recording;
    if (s.closed || rec.writer.failed !== undefined) throw new Error('the session has ended');
    rec.writer.event('forward', { destination: f.destination.slice(0, 300), origin: f.origin.slice(0, 300) });
  }

  async agent(session: ProxySession): Promise<void> {
    const s = this.state(session, { kind: 'exec' });
    const rec = await s.recording;
    if (s.closed || rec.writer.failed !== undefined) throw new Error('the session has ended');
    rec.writer.event('agent', {});
  }

  async close(session: ProxySession): Promise<void> {
    const s = this.sessions.get(session.id);
    this.ended.add(session);
    if (!s || s.closed) return;
    s.closed = true;
    for (const t of [...s.taps]) t.end(null);
    try {
      await s.activity.close();
      const rec = await s.recording.catch(() => null);
      await rec?.close();
    } catch (e) {
      log.error('could not close the recording', { session: session.id, error: (e as Error).message });
    } finally {
      this.sessions.delete(session.id);
    }
  }
}

class RecordingTap implements ChannelTap {
  private readonly guard: CommandGuard | null = null;
  private readonly sftp: SftpObserver | null = null;
  private readonly scp: ScpObserver | null = null;
  /** The end of what the target printed last, to see a password prompt. */
  private tail = '';
  private ended = false;
  private readonly startedAt = Date.now();
  /** The stored form of each command the guard reported, for its exit status later. */
  private readonly stored = new WeakMap<GuardedCommand, CommandActivity>();
  /**
   * Output text still to hand to the search index. A command run without a terminal (`ssh host 'tar c /data'`)
   * is usually data, and turning 200 MiB of it into text would run at a fifth of the link's speed: its first
   * bytes are indexed (what it printed to say what it did), all of it recorded. A terminal's output is indexed
   * as fast as anyone reads it; of a flood, a burst and then a steady slice per second (see INTERACTIVE_INDEX_*).
   */
  private indexBudget = 0;
  /** Bytes per second added back to indexBudget (up to INTERACTIVE_INDEX_BURST); 0: a budget spent once. */
  private indexRefill = 0;
  private indexRefilledAt = Date.now();

  constructor(
    private readonly session: ProxySession,
    private readonly info: ChannelInfo,
    private readonly io: ChannelIO,
    private readonly rec: SessionRecording,
    private readonly activity: SessionActivityRecorder,
    private readonly forget: () => void,
    /** This exec channel's command, alerted and stored when judged: its exit status follows at the end. */
    private readonly alertedExec?: CommandActivity,
  ) {
    const w = rec.writer;
    w.event('channel', { kind: info.kind, ...(info.command !== undefined ? commandField(info.command) : {}) });
    if (info.cols && info.rows) w.resize(info.cols, info.rows);
    const onFile = (op: FileOperation) => this.file(op);
    if (info.kind === 'subsystem') this.sftp = new SftpObserver(onFile);
    else if (info.kind === 'exec') this.scp = ScpObserver.forCommand(info.command ?? '', onFile);
    // Interactive: a shell, or a command run with a terminal (`ssh -t host bash` is a shell too).
    this.indexBudget = NONINTERACTIVE_INDEX_BYTES;
    if (info.kind === 'shell' || (info.kind === 'exec' && info.term !== undefined && !this.scp)) {
      this.indexBudget = INTERACTIVE_INDEX_BURST;
      this.indexRefill = INTERACTIVE_INDEX_RATE;
      this.guard = session.commandGuard({
        ...(info.cols ? { columns: info.cols } : {}),
        ...(info.rows ? { rows: info.rows } : {}),
        onCommand: (c) => {
          const rule = c.rule && { position: c.rule.position, pattern: c.rule.pattern };
          w.event('command', { ...commandField(c.command), action: c.action, rule });
          const stored: CommandActivity = { at: c.at, command: c.command, action: c.action, rule };
          this.stored.set(c, stored);
          void this.activity.command(stored);
        },
        // The target's shell said how the command ended (shell integration marks): kept with the command.
        onExitStatus: (c, status) => {
          const stored = this.stored.get(c);
          if (stored) this.activity.exitStatus(stored, status);
        },
        onRelease: (r) => {
          if (r.toClient.length > 0) this.show(r.toClient);
          if (r.toTarget.length > 0) this.io.toTarget(r.toTarget);
          if (!this.guard?.holding) this.released();
        },
      });
    }
  }

  private idle: (() => void)[] = [];

  private released(): void {
    for (const l of this.idle.splice(0)) l();
  }

  clientEnd(): Promise<void> {
    if (!this.guard?.holding) return Promise.resolve();
    return new Promise((resolve) => {
      this.idle.push(resolve);
      // The guard gives up on an echo after at most 2 s; past that, nothing is coming.
      setTimeout(resolve, 3000).unref();
    });
  }

  private get failed(): boolean {
    return this.rec.writer.failed !== undefined;
  }

  /** Bytes the user sees that did not come from the target: recorded as output, since the user saw them. */
  private show(data: Buffer): void {
    this.backpressure(this.rec.writer.output(data));
    this.io.toClient(data);
  }

  private backpressure(ok: boolean): void {
    if (ok || this.failed) return;
    this.io.pause();
    this.rec.writer.onDrain(() => this.io.resume());
  }

  private file(op: FileOperation): void {
    const w = this.rec.writer;
    w.event('file', { ...op });
    const what = `${this.info.kind === 'subsystem' ? 'sftp' : 'scp'} ${op.op} ${op.path}${op.to !== undefined ? ` -> ${op.to}` : ''}${op.bytes !== undefined ? ` (${op.bytes} bytes)` : ''}${op.ok ? '' : ' [refused by the target]'}`;
    void this.activity.command({ at: Date.now(), command: what, action: 'allow', rule: null });
  }

  fromClient(data: Buffer): Buffer | null {
    if (this.failed || this.ended) return null;
    const w = this.rec.writer;
    if (this.sftp) {
      this.sftp.fromClient(data);
      return data;
    }
    if (this.scp) {
      if (this.scp.direction === 'upload') this.scp.fromSender(data);
      return data;
    }
    this.backpressure(w.input(data));
    if (w.isInputSuppressed && (data.includes(0x0d) || data.includes(0x0a))) {
      w.suppressInput(false);
      this.tail = '';
    }
    if (!this.guard) return data;
    const v = this.guard.fromClient(data);
    if (v.toClient.length > 0) this.show(v.toClient);
    return v.forward;
  }

  fromTarget(data: Buffer, _stream: 'stdout' | 'stderr'): boolean {
    if (this.failed) return false;
    if (this.sftp) {
      this.sftp.fromTarget(data);
      return true;
    }
    if (this.scp) {
      if (this.scp.direction === 'download') this.scp.fromSender(data);
      return true;
    }
    const w = this.rec.writer;
    this.backpressure(w.output(data));
    this.guard?.fromTarget(data);
    if (this.indexRefill > 0 && this.indexBudget < INTERACTIVE_INDEX_BURST) {
      const now = Date.now();
      this.indexBudget = Math.min(INTERACTIVE_INDEX_BURST, this.indexBudget + ((now - this.indexRefilledAt) * this.indexRefill) / 1000);
      this.indexRefilledAt = now;
    } else {
      this.indexRefilledAt = Date.now();
    }
    if (this.indexBudget >= 1) {
      const part = data.length <= this.indexBudget ? data : data.subarray(0, Math.floor(this.indexBudget));
      this.indexBudget -= part.length;
      this.activity.outputBytes(part);
    }
    if (this.guard) {
      // Only the end of a chunk can end in a prompt: never a string of the whole chunk.
      this.tail = (this.tail + data.toString('latin1', Math.max(0, data.length - TAIL_CHARS))).slice(-TAIL_CHARS);
      if (endsWithSecretPrompt(this.tail)) w.suppressInput(true);
    }
    return true;
  }

  resize(cols: number, rows: number): void {
    if (this.ended) return;
    this.guard?.resize(cols, rows);
    this.backpressure(this.rec.writer.resize(cols, rows));
  }

  end(exit: ExitInfo): void {
    if (this.ended) return;
    this.ended = true;
    this.forget();
    this.guard?.close(exit && 'code' in exit ? exit.code : null);
    this.released();
    this.sftp?.end();
    const w = this.rec.writer;
    if (!this.failed) w.event('channel-end', { kind: this.info.kind, ...(exit ?? {}) });
    if (this.info.kind === 'exec' && this.info.command !== undefined) {
      const verdict = this.session.judgeExec(this.info.command);
      const code = exit && 'code' in exit ? exit.code : null;
      // An alerted exec was stored when it was judged (its status goes to that row); an allowed one now, with how it ended.
      if (verdict.action === 'allow') {
        void this.activity.command({ at: this.startedAt, command: this.info.command, action: 'allow', rule: null, exec: true, exitStatus: code });
      } else if (this.alertedExec && code !== null) {
        this.activity.exitStatus(this.alertedExec, code);
      }
    }
  }
}
