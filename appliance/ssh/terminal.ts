// One interactive SSH terminal for a client that does not speak SSH itself (the web console's HTML5 terminal,
// over a WebSocket): admitted by SessionService.open like any proxied session, connected to the target with
// the vaulted credential and the pinned host key (connectUpstream), its bytes through the same taps as the
// terminal proxy's channels (the recording, the command rules, the search's activity). Only the last metre —
// how bytes reach the user — belongs to the door; everything that decides or records is this one path.
import type { Client, ClientChannel } from 'ssh2';
import type { ProxyAuthenticationProof } from '../auth/index.js';
import type { ProxySession, Refusal, SessionService } from '../sessions/index.js';
import { logger } from '../log/index.js';
import type { ChannelIO, ChannelTap, ExitInfo, TapFactory } from './data-tap.js';
import { connectUpstream, dropUpstream, UpstreamError, type UpstreamFailure } from './upstream.js';

const log = logger('ssh');

/** What a browser terminal may ask to be, at most (the terminal proxy clamps to the same). */
export const TERMINAL_MAX = { cols: 1000, rows: 1000 };

export interface TerminalRequest {
  userId: number;
  deviceId: number;
  credentialId: number;
  /** The client's address (the browser's). */
  source: string;
  reason?: string;
  /** How the person authenticated (the web session's login), for the forced-certificate gate. */
  authentication?: ProxyAuthenticationProof;
  cols: number;
  rows: number;
  term?: string;
}

/** How the terminal reaches its user. */
export interface TerminalClient {
  /** Bytes for the user's screen: the target's output (stdout and stderr) and the taps' own messages. */
  output(data: Buffer): void;
  /** The terminal ended, once: the shell's exit, or why it was cut. */
  ended(end: TerminalEnd): void;
  /**
   * Stop reading what the user sends (true) while typed input waits for the recording to catch up, and go on
   * (false) once it has left: a paste during a stall is held by the client's socket, not this process's memory.
   */
  holdInput?(held: boolean): void;
}

/** Input waiting for the recording, at most, before the client is asked to hold the rest. */
export const INPUT_BACKLOG_BYTES = 256 * 1024;

export interface TerminalEnd {
  /** The session's end reason as the store keeps it ('exited', 'client-disconnected', 'ended: …', 'target-disconnected'). */
  reason: string;
  exit: ExitInfo;
}

export type TerminalOpening =
  | { opened: true; terminal: Terminal }
  | { opened: false; refusal: Refusal }
  /** Admitted, but the target could not be used (or the recording could not start): the session is closed. */
  | { opened: false; failure: UpstreamFailure | 'not-recorded' | 'channel-refused' };

export interface TerminalDeps {
  /** Where sessions are admitted (an Appliance is one: `{ sessions }`). */
  appliance: { sessions: Pick<SessionService, 'open'> };
  taps: TapFactory;
  /** How long the target may take to accept the injected credential. */
  upstreamTimeoutMs: number;
}

function clamp(v: number, max: number, fallback: number): number {
  return Number.isFinite(v) && v >= 1 ? Math.min(max, Math.trunc(v)) : fallback;
}

/** Admit, connect, record, open a shell with a PTY: a terminal, or why not. */
export async function openTerminal(deps: TerminalDeps, req: TerminalRequest, client: TerminalClient): Promise<TerminalOpening> {
  const result = await deps.appliance.sessions.open({
    userId: req.userId,
    deviceId: req.deviceId,
    credentialId: req.credentialId,
    protocol: 'ssh',
    source: req.source,
    ...(req.reason ? { reason: req.reason } : {}),
    ...(req.authentication ? { authentication: req.authentication } : {}),
  });
  if (!result.admitted) return { opened: false, refusal: result.refusal };
  const session = result.session;
  const cols = clamp(req.cols, TERMINAL_MAX.cols, 80);
  const rows = clamp(req.rows, TERMINAL_MAX.rows, 24);
  const term = req.term && /^[A-Za-z0-9._+-]{1,64}$/.test(req.term) ? req.term : 'xterm-256color';
  const fail = async (failure: UpstreamFailure | 'not-recorded' | 'channel-refused', upstream: Client | null): Promise<TerminalOpening> => {
    dropUpstream(upstream);
    await deps.taps.close(session).catch((e: Error) => log.error('could not close the recording', { session: session.id, error: e.message }));
    await session.close({ reason: failure }).catch((e: Error) => log.error('could not close the session row', { session: session.id, error: e.message }));
    return { opened: false, failure };
  };
  let upstream: Client;
  try {
    upstream = await connectUpstream(session, { readyTimeoutMs: deps.upstreamTimeoutMs });
  } catch (e) {
    return fail(e instanceof UpstreamError ? e.reason : 'target-unreachable', null);
  }
  upstream.on('error', (e) => log.debug('upstream error', { session: session.id, error: e.message }));
  const io = new TerminalIO();
  let tap: ChannelTap;
  try {
    // The recording is ready before a byte can pass: no recording, no terminal.
    tap = await deps.taps.open(session, { kind: 'shell', term, cols, rows }, io);
  } catch (e) {
    log.error('could not record the terminal', { session: session.id, error: (e as Error).message });
    return fail('not-recorded', upstream);
  }
  let channel: ClientChannel;
  try {
    channel = await new Promise<ClientChannel>((resolve, reject) => upstream.shell({ term, cols, rows, width: 0, height: 0 }, (err, ch) => (err ? reject(err) : resolve(ch))));
  } catch (e) {
    log.warn('the target refused the shell', { session: session.id, error: (e as Error).message });
    tap.end(null);
    return fail('channel-refused', upstream);
  }
  return { opened: true, terminal: new Terminal(deps, session, upstream, channel, tap, io, client) };
}

/** The tap's side of the bridge: its own bytes go out, and its brake holds both directions (exported for tests). */
export class TerminalIO implements ChannelIO {
  held = false;
  toTargetHook: (d: Buffer) => void = () => {};
  toClientHook: (d: Buffer) => void = () => {};
  flowHook: () => void = () => {};
  toTarget(d: Buffer): void {
    this.toTargetHook(d);
  }
  toClient(d: Buffer): void {
    this.toClientHook(d);
  }
  pause(): void {
    this.held = true;
    this.flowHook();
  }
  resume(): void {
    this.held = false;
    this.flowHook();
  }
}

/**
 * A running terminal. The door calls `input` with what the user typed, `resize` when the window changes,
 * `clientFull(true/false)` as its own buffer fills and empties (the target is then held, not the proxy's
 * memory), and `close` when the user leaves. The session's one end — the shell's exit, the target gone, an
 * administrator's "end", the user leaving — closes the recording, then the session row, then tells the client.
 */
export class Terminal {
  private bytesIn = 0;
  private bytesOut = 0;
  private exit: ExitInfo = null;
  private clientHeld = false;
  private finished = false;
  private closing: Promise<void> | null = null;
  private inputQueue: Buffer[] = [];
  private inputQueued = 0;
  private inputHeld = false;

  constructor(
    private readonly deps: TerminalDeps,
    readonly session: ProxySession,
    private readonly upstream: Client,
    private readonly channel: ClientChannel,
    private readonly tap: ChannelTap,
    private readonly io: TerminalIO,
    private readonly client: TerminalClient,
  ) {
    io.toTargetHook = (d) => {
      if (channel.writable) channel.write(d);
    };
    io.toClientHook = (d) => client.output(d);
    io.flowHook = () => this.flow();
    channel.on('error', (e: Error) => log.debug('target channel error', { session: session.id, error: e.message }));
    channel.on('data', (d: Buffer) => this.fromTarget(d, 'stdout'));
    channel.stderr.on('data', (d: Buffer) => this.fromTarget(d, 'stderr'));
    channel.on('exit', (code: number | null, signal?: string) => {
      this.exit = typeof code === 'number' ? { code } : { signal: String(signal ?? 'KILL').replace(/^SIG/, '') };
    });
    channel.on('close', () => {
      this.tap.end(this.exit);
      void this.finish(this.exit ? 'exited' : 'target-disconnected');
    });
    upstream.on('close', () => void this.finish('target-disconnected'));
    session.onEndRequested((why) => {
      client.output(Buffer.from(`\r\nWarden: this session was ended (${why}).\r\n`));
      void this.finish(`ended: ${why}`);
    });
    this.flow();
  }

  get id(): string {
    return this.session.id;
  }

  private fromTarget(d: Buffer, stream: 'stdout' | 'stderr'): void {
    if (this.finished || !this.tap.fromTarget(d, stream)) return;
    this.bytesOut += d.length;
    this.session.progress(this.bytesIn, this.bytesOut);
    this.client.output(d);
  }

  /** What the user typed (or pasted): through the command guard, then to the target. */
  input(data: Buffer): void {
    if (this.finished || data.length === 0) return;
    // While the recording catches up, typing waits here (in order), as the SSH door's paused stream would.
    if (this.io.held || this.inputQueue.length > 0) {
      this.inputQueue.push(data);
      this.inputQueued += data.length;
      if (!this.inputHeld && this.inputQueued > INPUT_BACKLOG_BYTES) {
        this.inputHeld = true;
        this.client.holdInput?.(true);
      }
      return;
    }
    this.send(data);
  }

  private send(data: Buffer): void {
    this.bytesIn += data.length;
    this.session.progress(this.bytesIn, this.bytesOut);
    const out = this.tap.fromClient(data);
    if (out && out.length > 0 && this.channel.writable) this.channel.write(out);
  }

  resize(cols: number, rows: number): void {
    if (this.finished) return;
    const c = clamp(cols, TERMINAL_MAX.cols, 80);
    const r = clamp(rows, TERMINAL_MAX.rows, 24);
    this.channel.setWindow(r, c, 0, 0);
    this.tap.resize(c, r);
  }

  /** The client's own buffer is full (true) or has room again (false). */
  clientFull(full: boolean): void {
    this.clientHeld = full;
    this.flow();
  }

  private flow(): void {
    if (this.io.held || this.clientHeld) {
      this.channel.pause();
      this.channel.stderr.pause();
    } else {
      this.channel.resume();
      this.channel.stderr.resume();
    }
    while (!this.io.held && this.inputQueue.length > 0 && !this.finished) {
      const next = this.inputQueue.shift()!;
      this.inputQueued -= next.length;
      this.send(next);
    }
    if (this.inputHeld && this.inputQueue.length === 0) {
      this.inputHeld = false;
      this.client.holdInput?.(false);
    }
  }

  /** The user left (closed the tab, the WebSocket dropped) or the door is stopping. */
  close(reason = 'client-disconnected'): Promise<void> {
    return this.finish(reason);
  }

  private finish(reason: string): Promise<void> {
    if (this.closing) return this.closing;
    this.finished = true;
    this.closing = (async () => {
      try {
        this.channel.close();
      } catch {
        // Already closed.
      }
      dropUpstream(this.upstream);
      // The recording ends before the row: its last chunk is on disk when the session is closed.
      await this.deps.taps.close(this.session).catch((e: Error) => log.error('could not close the recording', { session: this.session.id, error: e.message }));
      await this.session
        .close({ reason, bytesIn: this.bytesIn, bytesOut: this.bytesOut, exitStatus: this.exit && 'code' in this.exit ? this.exit.code : null })
        .catch((e: Error) => log.error('could not close the session row', { session: this.session.id, error: e.message }));
      this.client.ended({ reason, exit: this.exit });
    })();
    return this.closing;
  }
}
