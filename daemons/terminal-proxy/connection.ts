// One client connection to the proxy: its authentication (through the ProxyAuthenticator seam), its session
// channels, the one admitted session and upstream connection they share, and its one end. Everything that
// grants access goes through SessionService.open. Port forwarding (direct-tcpip: ssh -L, ssh -W) is opened through
// the target only when the session's access groups allow it, audited either way; so is agent forwarding (ssh -A:
// the target's agent channels carried to the user's client, see agent-forwarding.ts); remote forwarding
// (ssh -R), Unix-socket and X11 forwarding are always refused and audited.
import type { AuthContext, ClientChannel, Connection, PseudoTtyInfo, ServerChannel, Session, TcpipRequestInfo, WindowChangeInfo } from 'ssh2';
import type { Client, ExecOptions, ShellOptions } from 'ssh2';
import type { Duplex } from 'node:stream';
import type { Appliance } from '../../appliance/index.js';
import type { ReachableTarget } from '../../appliance/access/index.js';
import { parseLoginName, resolveTarget, type LoginName, type ProxySession, type Refusal } from '../../appliance/sessions/index.js';
import { isWardenError } from '../../appliance/errors/index.js';
import { logger } from '../../appliance/log/index.js';
import { ForwardedAgent, openClientAgentChannel } from './agent-forwarding.js';
import { closeTogether } from './channel-pair.js';
import type { ConnectionLogin, ProxyAuthenticator, ProxyPerson } from './authenticator.js';
import type { ChannelInfo, ChannelIO, ChannelTap, TapFactory } from '../../appliance/ssh/index.js';
import { LineReader } from './line-reader.js';
import { runMenu } from './menu.js';
import { connectUpstream, dropUpstream, HANG_UP_GRACE_MS, UpstreamError } from '../../appliance/ssh/index.js';

const log = logger('terminal-proxy');

export interface ProxyLimits {
  /** Session channels open at once on one connection (OpenSSH's MaxSessions is 10). */
  maxSessionChannels: number;
  /** Failed authentication attempts before the connection is dropped. */
  maxAuthAttempts: number;
  /** How long the target may take to accept the injected credential. */
  upstreamTimeoutMs: number;
  /** Longest exec command passed on. */
  maxCommandBytes: number;
}

export const DEFAULT_LIMITS: ProxyLimits = { maxSessionChannels: 10, maxAuthAttempts: 6, upstreamTimeoutMs: 15_000, maxCommandBytes: 256 * 1024 };

/** What a client may ask a PTY to be: anything beyond is clamped (a 2^32-column terminal allocates nothing here, but the target might). */
export const PTY_MAX = { cols: 1000, rows: 1000, pixels: 16384 };

/** Forwarded TCP channels open at once on one connection (each is a TCP connection the target makes). */
const MAX_FORWARD_CHANNELS = 64;
/** Agent channels open at once on one connection (each is one conversation of the target with the user's agent). */
const MAX_AGENT_CHANNELS = 32;

const TERM = /^[A-Za-z0-9._+-]{1,64}$/;

/** The signals SSH names (RFC 4254 6.10) and ssh2 passes on. */
const SIGNALS = new Set(['ABRT', 'ALRM', 'FPE', 'HUP', 'ILL', 'INT', 'KILL', 'PIPE', 'QUIT', 'SEGV', 'TERM', 'USR1', 'USR2']);

function clamp(v: unknown, min: number, max: number, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? Math.min(max, Math.max(min, Math.trunc(v))) : fallback;
}

export interface Pty {
  term: string;
  cols: number;
  rows: number;
  width: number;
  height: number;
  modes: PseudoTtyInfo['modes'];
}

export function clampPty(info: Partial<PseudoTtyInfo>): Pty {
  return {
    term: typeof info.term === 'string' && TERM.test(info.term) ? info.term : 'xterm',
    // 0 is how a client says "unknown" (OpenSSH without a terminal): the target picks its default.
    cols: clamp(info.cols, 0, PTY_MAX.cols, 80),
    rows: clamp(info.rows, 0, PTY_MAX.rows, 24),
    width: clamp(info.width, 0, PTY_MAX.pixels, 0),
    height: clamp(info.height, 0, PTY_MAX.pixels, 0),
    modes: info.modes ?? {},
  };
}

/** What the user is told when the admission refuses: how to get in, never why in detail. */
function refusalText(r: Refusal): string {
  switch (r.kind) {
    case 'needs-approval':
      return 'Access to this target needs an approved request: file one from the menu (ssh without a target) or on the web.';
    case 'reason-required':
      return 'A reason is required for this target: connect interactively (ssh without a command) and give one at the prompt.';
    case 'certificate-required':
      return 'Proxy sessions require certificate (smart card) authentication for your account.';
    case 'checked-out':
      return `This credential is in use by ${r.holder} ${r.until === null ? 'for the length of their session' : `until ${new Date(r.until).toISOString().replace('T', ' ').slice(0, 16)} UTC`} (shared access, not simultaneous).`;
    default:
      return 'Access to this target is not allowed now.';
  }
}

const UPSTREAM_TEXT: Record<UpstreamError['reason'], string> = {
  'host-key-mismatch': "The target's host key has changed: the session is refused and an administrator has been alerted.",
  'target-auth-failed': 'The target refused the stored credential.',
  'target-unreachable': 'The target could not be reached.',
  'target-timeout': 'The target did not answer in time.',
};

interface Admitted {
  session: ProxySession;
  upstream: Client;
}

export interface ConnectionDeps {
  appliance: Appliance;
  authenticator: ProxyAuthenticator;
  taps: TapFactory;
  limits: ProxyLimits;
  /** Called once when the connection authenticates (the daemon's unauthenticated count). */
  onAuthenticated: () => void;
  /** Cuts the client's TCP connection outright (ssh2's server connection can only end() it). */
  destroySocket?: () => void;
}


export class ProxyConnection {
  private person: ProxyPerson | null = null;
  private login: LoginName | null = null;
  private authAttempts = 0;
  private admitted: Promise<Admitted | string> | null = null;
  private session: ProxySession | null = null;
  private upstream: Client | null = null;
  private readonly channels = new Set<ServerChannel>();
  private openSessionChannels = 0;
  private openForwards = 0;
  private openAgentChannels = 0;
  private readonly refusedKinds = new Set<string>();
  private bytesIn = 0;
  private bytesOut = 0;
  private exitStatus: number | null = null;
  private finished = false;
  private ending = false;
  private readonly auth: ConnectionLogin;

  constructor(
    private readonly client: Connection,
    private readonly source: string,
    private readonly deps: ConnectionDeps,
  ) {
    this.auth = deps.authenticator.begin(client, source);
    client.on('authentication', (ctx) => this.authenticate(ctx));
    client.on('ready', () => {
      deps.onAuthenticated();
      this.serve();
    });
    client.on('close', () => void this.finish('client-disconnected'));
    client.on('error', (e) => log.debug('client connection error', { source, error: e.message }));
  }

  get authenticated(): boolean {
    return this.person !== null;
  }

  /** Whether this connection still takes authentication attempts: not once its allowance is used up. */
  private takesAttempts(): boolean {
    return this.authAttempts < this.deps.limits.maxAuthAttempts;
  }

  private authenticate(ctx: AuthContext): void {
    const methods = () => this.auth.methods();
    // The allowance is used up and the connection is being cut: a request the client sent before it read the
    // disconnect (or pipelined) is not judged, audited or counted — the sixth failure was the last.
    if (!this.takesAttempts()) return ctx.reject([]);
    const name = parseLoginName(ctx.username);
    // A name that cannot be parsed is a failed attempt, audited (a 'none' probe is no attempt).
    if (!name) {
      if (ctx.method === 'none') return ctx.reject(methods());
      return this.refuseName(ctx);
    }
    this.auth.attempt(ctx, name.wardenUser, () => this.takesAttempts()).then(
      (answer) => {
        if (answer.outcome === 'success') {
          this.person = answer.person;
          this.login = name;
          return ctx.accept();
        }
        if (answer.outcome === 'acceptable') return ctx.accept();
        if (answer.outcome === 'continue') return ctx.reject(methods(), true);
        ctx.reject(methods());
        if (answer.counted && ++this.authAttempts >= this.deps.limits.maxAuthAttempts) this.hangUp();
      },
      (e) => {
        log.warn('authentication error', { error: (e as Error).message });
        ctx.reject(methods());
      },
    );
  }

  /** A login name that cannot be parsed: no account to judge, but an attempt all the same, audited by the core. */
  private refuseName(ctx: AuthContext): void {
    const methods = this.auth.methods();
    const last = ++this.authAttempts >= this.deps.limits.maxAuthAttempts;
    this.deps.appliance.auth
      .refuseUnparsableName({ name: ctx.username, ip: this.source, protocol: 'ssh', method: ctx.method })
      .catch((e) => log.warn('could not audit a refused login name', { error: (e as Error).message }))
      .finally(() => {
        if (last) return void this.hangUp();
        ctx.reject(methods);
      });
  }

  /** Audited once per kind per connection: a client repeating a refused request is one event, not thousands. */
  private refused(kind: string, target?: string): void {
    if (this.refusedKinds.has(kind) || !this.person) return;
    this.refusedKinds.add(kind);
    this.deps.appliance.sessions
      .recordRefusedChannel({ username: this.person.username, source: this.source, kind, sessionId: this.session?.id ?? null, ...(target !== undefined ? { target } : {}) })
      .catch((e) => log.warn('could not audit a refused channel', { error: (e as Error).message }));
  }

  private serve(): void {
    const c = this.client;
    c.on('session', (accept, reject) => {
      if (this.ending || this.openSessionChannels >= this.deps.limits.maxSessionChannels) {
        reject();
        return this.refused('too-many-channels');
      }
      this.openSessionChannels++;
      this.sessionChannel(accept());
    });
    c.on('tcpip', (accept, reject, info) => void this.directTcpip(accept, reject, info));
    c.on('openssh.streamlocal', (_accept, reject, info) => {
      reject();
      this.refused('direct-streamlocal', info.socketPath);
    });
    c.on('request', (_accept, reject, name, info) => {
      reject?.();
      if (name === 'tcpip-forward') this.refused('tcpip-forward', `${(info as { bindAddr?: string }).bindAddr}:${(info as { bindPort?: number }).bindPort}`);
      else if ((name as string) === 'streamlocal-forward@openssh.com') this.refused('streamlocal-forward');
    });
  }

  private sessionChannel(s: Session): void {
    let pty: Pty | null = null;
    let upChannel: ClientChannel | null = null;
    let size: WindowChangeInfo | null = null;
    s.on('close', () => this.openSessionChannels--);
    s.on('pty', (accept, _reject, info) => {
      pty = clampPty(info);
      accept?.();
    });
    s.on('window-change', (accept, _reject, info) => {
      accept?.();
      if (!pty) return;
      const p = clampPty({ ...pty, ...info });
      pty = p;
      size = { cols: p.cols, rows: p.rows, width: p.width, height: p.height };
      upChannel?.setWindow(p.rows, p.cols, p.height, p.width);
      onResize?.(p.cols, p.rows);
    });
    let onResize: ((cols: number, rows: number) => void) | null = null;
    s.on('x11', (_accept, reject) => {
      reject?.();
      this.refused('x11');
    });
    // Asked before shell/exec, usually before the session is admitted (OpenSSH wants no reply): noted, and
    // decided when the channel opens upstream (agentFor); refused at once when the session is known to forbid it.
    let agentWanted = false;
    s.on('auth-agent', (accept, reject) => {
      if (this.session && !this.session.agentForwarding) {
        reject?.();
        return this.refused('agent-forwarding');
      }
      agentWanted = true;
      accept?.();
    });
    const agentFor = () => agentWanted && this.agentAllowed();
    s.on('signal', (accept, reject, info) => {
      // ssh2 throws on a name it does not know, which would take the whole connection down with it.
      const name = typeof info.name === 'string' ? info.name.toUpperCase().replace(/^SIG/, '') : '';
      if (!SIGNALS.has(name)) return void reject?.();
      accept?.();
      upChannel?.signal(name);
    });
    const started = (stream: ServerChannel, info: ChannelInfo, open: (up: Client) => Promise<ClientChannel>) => {
      // A write racing the channel's close must not become an unhandled 'error' event.
      stream.on('error', (e: Error) => log.debug('client channel error', { error: e.message }));
      this.channels.add(stream);
      stream.on('close', () => this.channels.delete(stream));
      void this.run(stream, info, pty, open, (up) => {
        upChannel = up;
        if (size) up.setWindow(size.rows, size.cols, size.height, size.width);
      }).then((tapResize) => (onResize = tapResize));
    };
    // Accepted at once, in the handler: ssh2 drops an accept that comes after the client's EOF (ssh -n).
    // accept() gives nothing for a second shell/exec/subsystem on a channel that already runs one.
    s.on('shell', (accept) => {
      const stream = accept();
      if (!stream) return;
      const p = pty as Pty | null;
      started(stream, { kind: 'shell', ...(p ? { term: p.term, cols: p.cols, rows: p.rows } : {}) }, (up) => openWithAgent(up, agentFor(), (agent, cb) => up.shell(p ? ptyOptions(p) : false, agentOption(agent), cb)));
    });
    s.on('exec', (accept, _reject, info) => {
      const stream = accept();
      if (!stream) return;
      const p = pty as Pty | null;
      if (Buffer.byteLength(info.command) > this.deps.limits.maxCommandBytes) return failChannel(stream, 'The command is too long.');
      started(stream, { kind: 'exec', command: info.command, ...(p ? { term: p.term, cols: p.cols, rows: p.rows } : {}) }, (up) => openWithAgent(up, agentFor(), (agent, cb) => up.exec(info.command, { ...(p ? { pty: ptyOptions(p) } : {}), ...agentOption(agent) }, cb)));
    });
    s.on('subsystem', (accept, reject, info) => {
      if (info.name !== 'sftp') return reject?.();
      const stream = accept();
      if (!stream) return;
      started(stream, { kind: 'subsystem', command: 'sftp' }, (up) => open(up, (cb) => up.subsys('sftp', cb)));
    });
  }

  /**
   * `ssh -L` / `ssh -W`: the session's target opens the TCP connection (forwardOut), when every group that
   * admitted the session allows port forwarding (ProxySession.portForwarding). A login name that names a target
   * admits the session here (`ssh -N -L` opens no session channel); without one, a forward before the menu chose
   * a target is refused. Each forward is noted in the recording and audited before the client gets its channel.
   */
  private async directTcpip(accept: () => ServerChannel, reject: () => void, info: TcpipRequestInfo): Promise<void> {
    const destination = `${info.destIP}:${info.destPort}`;
    const refuse = (kind = 'direct-tcpip') => {
      reject();
      this.refused(kind, destination);
    };
    if (this.ending || this.finished) return reject();
    if (!this.login?.target && !this.admitted) return refuse();
    if (this.openForwards >= MAX_FORWARD_CHANNELS) return refuse('too-many-forwards');
    this.openForwards++;
    let up: ClientChannel | null = null;
    try {
      const admitted = await this.admission(null, { kind: 'direct-tcpip' }, null);
      if (typeof admitted === 'string' || !admitted.session.portForwarding) return refuse();
      const { session, upstream } = admitted;
      const origin = `${info.srcIP}:${info.srcPort}`;
      try {
        await this.deps.taps.forward?.(session, { destination, origin });
      } catch (e) {
        log.error('could not note a forward in the recording', { session: session.id, error: (e as Error).message });
        return reject();
      }
      try {
        up = await new Promise<ClientChannel>((resolve, fail) => upstream.forwardOut(info.srcIP, info.srcPort, info.destIP, info.destPort, (err, ch) => (err ? fail(err) : resolve(ch))));
      } catch (e) {
        await this.deps.appliance.sessions.recordPortForward({ session, source: this.source, destination, origin, problem: (e as Error).message });
        return reject();
      }
      await this.deps.appliance.sessions.recordPortForward({ session, source: this.source, destination, origin });
      if (this.ending || this.finished) return void (up.close(), reject());
      const ch = up;
      up = null;
      this.forwardBridge(accept(), ch);
    } catch (e) {
      log.warn('forward failed', { error: (e as Error).message });
      up?.close();
      reject();
    } finally {
      this.openForwards--;
    }
  }

  /** A session channel asked for the user's agent: forwarded when the admitted session allows it, else refused and audited. */
  private agentAllowed(): boolean {
    if (this.session?.agentForwarding) return true;
    this.refused('agent-forwarding');
    return false;
  }

  /**
   * The target opened an agent channel (only possible when the session allows agent forwarding: otherwise the
   * upstream connection has no agent and ssh2 refuses it): one is opened to the user's client and audited before
   * ssh2 pipes the two together, so every conversation with the user's agent is in the trail.
   */
  private openAgentChannel(cb: (err?: Error | null, stream?: Duplex) => void): void {
    const session = this.session;
    if (!session?.agentForwarding || this.ending || this.finished) return cb(new Error('agent forwarding is not open'));
    if (this.openAgentChannels >= MAX_AGENT_CHANNELS) {
      this.refused('too-many-agent-channels');
      return cb(new Error('too many agent channels'));
    }
    this.openAgentChannels++;
    let released = false;
    const release = () => {
      if (!released) ((released = true), this.openAgentChannels--);
    };
    const fail = (e: Error) => (release(), cb(e));
    const audit = (problem?: string) => this.deps.appliance.sessions.recordAgentForward({ session, source: this.source, ...(problem === undefined ? {} : { problem }) });
    openClientAgentChannel(this.client, (err, ch) => {
      if (err || !ch) {
        const problem = err?.message ?? 'no channel';
        audit(problem).catch((e: Error) => log.warn('could not audit a refused agent channel', { session: session.id, error: e.message }));
        return fail(new Error(problem));
      }
      ch.on('error', (e: Error) => log.debug('client agent channel error', { error: e.message }));
      ch.once('close', release);
      // Noted in the recording, then audited, before the target gets the channel: an agent use the record
      // cannot show does not happen.
      Promise.resolve(this.deps.taps.agent?.(session))
        .then(() => audit())
        .then(
        () => {
          if (this.ending || this.finished) return (ch.close(), fail(new Error('the session has ended')));
          // ssh2 pipes the target's channel into this one (and back) as soon as it has it.
          ch.once('pipe', (target: ClientChannel) => {
            target.on('error', (e: Error) => log.debug('target agent channel error', { error: e.message }));
            // The agent's conversation counts as the session's traffic, like a forward's: the agent's answers in, the target's requests out.
            this.countTraffic(ch, target);
            closeTogether(ch, target, release);
          });
          cb(null, ch);
        },
        (e: Error) => {
          log.error('could not note or audit an agent channel', { session: session.id, error: e.message });
          ch.close();
          fail(e);
        },
      );
    });
  }

  /** Two channels piped into each other (a forward, an agent channel): their bytes count as the session's traffic. */
  private countTraffic(fromClient: ServerChannel, fromTarget: ClientChannel): void {
    fromClient.on('data', (d: Buffer) => {
      this.bytesIn += d.length;
      this.session?.progress(this.bytesIn, this.bytesOut);
    });
    fromTarget.on('data', (d: Buffer) => {
      this.bytesOut += d.length;
      this.session?.progress(this.bytesIn, this.bytesOut);
    });
  }

  /** A forwarded TCP stream both ways: pipe() holds the side whose destination is full; EOF passes as EOF. */
  private forwardBridge(stream: ServerChannel, up: ClientChannel): void {
    this.openForwards++;
    stream.on('error', (e: Error) => log.debug('client forward channel error', { error: e.message }));
    up.on('error', (e: Error) => log.debug('target forward channel error', { error: e.message }));
    this.countTraffic(stream, up);
    stream.pipe(up);
    up.pipe(stream);
    closeTogether(stream, up, () => this.openForwards--);
  }

  /**
   * Admit (menu or login name), open the upstream channel and bridge. Returns the tap's resize hook once bridged.
   */
  private async run(stream: ServerChannel, info: ChannelInfo, pty: Pty | null, open: (up: Client) => Promise<ClientChannel>, onUp: (up: ClientChannel) => void): Promise<((cols: number, rows: number) => void) | null> {
    try {
      const admitted = await this.admission(stream, info, pty);
      if (typeof admitted === 'string') return failChannel(stream, admitted), null;
      if (info.kind === 'exec') {
        const judged = await this.deps.taps.judgeExec(admitted.session, info.command!).catch((e: Error) => {
          log.error('could not judge or record an exec request', { session: admitted.session.id, error: e.message });
          return { allowed: false as const, message: 'The session could not be recorded.', exitStatus: 1 };
        });
        if (!judged.allowed) return failChannel(stream, judged.message, judged.exitStatus), null;
      }
      if (stream.destroyed || this.ending) return null;
      // The tap (its recording) is ready before a byte can pass: no recording, no channel.
      const io = new BridgeIO();
      let tap: ChannelTap;
      try {
        tap = await this.deps.taps.open(admitted.session, info, io);
      } catch (e) {
        log.error('could not record the channel', { session: admitted.session.id, error: (e as Error).message });
        failChannel(stream, 'The session could not be recorded.');
        return null;
      }
      let up: ClientChannel;
      try {
        up = await open(admitted.upstream);
      } catch (e) {
        tap.end(null);
        throw e;
      }
      onUp(up);
      this.bridge(stream, up, tap, io);
      return (cols, rows) => tap.resize(cols, rows);
    } catch (e) {
      log.warn('channel failed', { error: (e as Error).message });
      failChannel(stream, 'The target refused the channel.');
      return null;
    }
  }

  /** The connection's one session: from the login name's target, or the menu on a shell. */
  private admission(stream: ServerChannel | null, info: { kind: ChannelInfo['kind'] | 'direct-tcpip' }, pty: Pty | null): Promise<Admitted | string> {
    if (this.admitted) return this.admitted;
    const person = this.person!;
    const spec = this.login!.target;
    if (!spec && (info.kind !== 'shell' || !stream)) {
      return Promise.resolve(`Name a target in the login name: ssh ${person.username}:CREDENTIAL@DEVICE@this-proxy (or log in without one for the menu).`);
    }
    // Until admitted, only one channel drives the menu or the prompt; others wait on the same promise.
    this.admitted = (async (): Promise<Admitted | string> => {
      const write = (t: string) => void stream?.write(t);
      let target: ReachableTarget;
      let reason: string | undefined;
      if (spec) {
        const r = await resolveTarget(this.deps.appliance.accessDecisions, person.userId, 'ssh', spec);
        if (!r.ok) return r.message;
        target = r.target;
      } else {
        const io = new LineReader(stream!, pty !== null);
        try {
          const choice = await runMenu(this.deps.appliance, person, this.source, io, write);
          if (!choice) return 'Bye.';
          target = choice.target;
          reason = choice.reason;
        } finally {
          io.detach();
          stream!.pause();
        }
      }
      let result = await this.deps.appliance.sessions.open({ userId: person.userId, deviceId: target.device.id, credentialId: target.credential.id, protocol: 'ssh', source: this.source, authentication: person.authentication, ...(reason ? { reason } : {}) });
      if (!result.admitted && result.refusal.kind === 'reason-required' && info.kind === 'shell' && pty && stream) {
        const io = new LineReader(stream, true);
        const typed = await io.read('A reason is required for this target: ');
        io.detach();
        stream.pause();
        if (typed === null || typed.trim() === '') return refusalText(result.refusal);
        result = await this.deps.appliance.sessions.open({ userId: person.userId, deviceId: target.device.id, credentialId: target.credential.id, protocol: 'ssh', source: this.source, authentication: person.authentication, reason: typed.trim() });
      }
      if (!result.admitted) return refusalText(result.refusal);
      const session = result.session;
      this.session = session;
      if (this.finished || this.ending) {
        await session.close({ reason: 'client-disconnected' });
        return 'Bye.';
      }
      session.onEndRequested((why) => this.endRequested(why));
      try {
        const agent = session.agentForwarding ? new ForwardedAgent((cb) => this.openAgentChannel(cb)) : undefined;
        const upstream = await connectUpstream(session, { readyTimeoutMs: this.deps.limits.upstreamTimeoutMs, ...(agent ? { agent } : {}) });
        this.upstream = upstream;
        upstream.on('error', (e) => log.debug('upstream error', { session: session.id, error: e.message }));
        upstream.on('close', () => this.targetGone());
        if (this.finished) dropUpstream(upstream);
        return { session, upstream };
      } catch (e) {
        const reason = e instanceof UpstreamError ? e.reason : 'target-unreachable';
        await this.finish(reason);
        return e instanceof UpstreamError ? UPSTREAM_TEXT[e.reason] : UPSTREAM_TEXT['target-unreachable'];
      }
    })().catch((e) => {
      log.warn('admission failed', { error: isWardenError(e) ? e.code : (e as Error).message });
      return isWardenError(e) && e.code === 'INPUT_INVALID' ? `Not accepted: ${e.message}` : 'The session could not be opened.';
    });
    return this.admitted;
  }

  /**
   * Both directions with backpressure: a side whose write is refused pauses the other until 'drain', so a
   * client that stops reading holds the target (and its window), not the proxy's memory.
   * Profiled under bench/terminal-proxy.ts (perf, --cpu-prof): per MiB the time is ssh2's (decrypt, copy into
   * a new packet, encrypt; both legs use its native binding), the kernel's socket writes, the recording's copy
   * and its sealing thread; this handler's own counting does not show. Collections of ssh2's packets are kept
   * cheap by the process's flags (TERMINAL_PROXY_NODE_FLAGS), socket writes coalesced by coalesceWrites.
   */
  private bridge(stream: ServerChannel, up: ClientChannel, tap: ChannelTap, io: BridgeIO): void {
    up.on('error', (e: Error) => log.debug('target channel error', { error: e.message }));
    // Each side reads only while its destination accepts and the tap's recording keeps up.
    let upFull = false;
    let clientFull = false;
    let clientErrFull = false;
    const flow = () => {
      if (io.held || upFull) stream.pause();
      else stream.resume();
      if (io.held || clientFull) up.pause();
      else up.resume();
      if (io.held || clientErrFull) up.stderr.pause();
      else up.stderr.resume();
    };
    io.attach({
      toTarget: (d) => {
        if (!up.writable) return;
        if (!up.write(d)) ((upFull = true), flow());
      },
      toClient: (d) => {
        if (stream.writableEnded) return;
        if (!stream.write(d)) ((clientFull = true), flow());
      },
      flow,
    });
    stream.on('data', (d: Buffer) => {
      this.bytesIn += d.length;
      this.session?.progress(this.bytesIn, this.bytesOut);
      const out = tap.fromClient(d);
      if (out && out.length > 0 && !up.write(out)) ((upFull = true), flow());
    });
    up.on('drain', () => ((upFull = false), flow()));
    // EOF follows what the tap still holds (a line typed just before it, its Enter waiting for the echo).
    stream.on('end', () => void tap.clientEnd().then(() => up.end()));
    up.on('data', (d: Buffer) => {
      if (!tap.fromTarget(d, 'stdout')) return;
      this.bytesOut += d.length;
      this.session?.progress(this.bytesIn, this.bytesOut);
      if (!stream.write(d)) ((clientFull = true), flow());
    });
    up.stderr.on('data', (d: Buffer) => {
      if (!tap.fromTarget(d, 'stderr')) return;
      this.bytesOut += d.length;
      this.session?.progress(this.bytesIn, this.bytesOut);
      if (!stream.stderr.write(d)) ((clientErrFull = true), flow());
    });
    stream.on('drain', () => ((clientFull = false), flow()));
    stream.stderr.on('drain', () => ((clientErrFull = false), flow()));
    let exit: { code: number } | { signal: string; dump: boolean; desc: string } | null = null;
    const onExit = (code: number | null, signal?: string, dump?: boolean, desc?: string) => {
      if (typeof code === 'number') {
        exit = { code };
        this.exitStatus = code;
      } else exit = { signal: String(signal ?? 'KILL').replace(/^SIG/, ''), dump: Boolean(dump), desc: desc ?? '' };
    };
    const early = earlyExits.get(up);
    if (early) onExit(...early);
    up.on('exit', onExit);
    up.on('close', () => {
      tap.end(exit && 'code' in exit ? { code: exit.code } : exit ? { signal: exit.signal } : null);
      if (stream.writableEnded) return;
      // Exit status and EOF only after every byte before them has left: a zero-length write completes in order.
      stream.write(Buffer.alloc(0), () => {
        if (exit && 'code' in exit) stream.exit(exit.code);
        else if (exit) stream.exit(exit.signal, exit.dump, exit.desc);
        stream.end();
      });
    });
    stream.on('close', () => up.close());
    stream.resume();
  }

  /** An administrator, a disabled account or an expired grant ended the session: tell the user, cut the connection. */
  private endRequested(why: string): void {
    if (this.ending) return;
    this.ending = true;
    for (const ch of this.channels) {
      try {
        ch.stderr.write(`\r\nWarden: this session was ended (${why}).\r\n`);
      } catch {
        // A channel closing at this moment has nobody left to tell.
      }
    }
    void this.finish(`ended: ${why}`);
    // The message is queued before the disconnect; a short grace lets it leave before the socket closes.
    setTimeout(() => {
      dropUpstream(this.upstream);
      this.hangUp();
    }, 100).unref();
  }

  /** The target dropped the connection: the client's channels close and so does its connection. */
  private targetGone(): void {
    void this.finish('target-disconnected');
    setTimeout(() => this.hangUp(), 200).unref();
  }

  /** The daemon is stopping: the session ends with that reason before the process closes the store. */
  async shutdown(): Promise<void> {
    this.ending = true;
    const done = this.finish('proxy-stopped');
    this.hangUp();
    await done;
    await this.closing;
  }

  private closing: Promise<void> = Promise.resolve();

  /** End the client's connection; one that does not read what is still queued for it is cut after a grace. */
  private hangUp(): void {
    this.client.end();
    setTimeout(() => this.deps.destroySocket?.(), HANG_UP_GRACE_MS).unref();
  }

  /** The session's one end, whoever ends first. */
  private finish(reason: string): Promise<void> {
    if (this.finished) return this.closing;
    this.closing = this.end(reason);
    return this.closing;
  }

  private async end(reason: string): Promise<void> {
    this.finished = true;
    dropUpstream(this.upstream);
    const session = this.session;
    if (!session) return;
    // The recording ends before the row: its last chunk is on disk when the session is closed.
    await this.deps.taps.close(session).catch((e) => log.error('could not close the recording', { session: session.id, error: (e as Error).message }));
    try {
      await session.close({ reason, bytesIn: this.bytesIn, bytesOut: this.bytesOut, exitStatus: this.exitStatus });
    } catch (e) {
      log.error('could not close the session row', { session: session.id, error: (e as Error).message });
    }
  }
}

function ptyOptions(p: Pty) {
  return { term: p.term, cols: p.cols, rows: p.rows, width: p.width, height: p.height, modes: p.modes };
}

type ExitArgs = [code: number | null, signal?: string, dump?: boolean, desc?: string];

/**
 * Exits heard before the bridge listens: a command that ends at once (`kill -TERM $$`) may exit in the same
 * burst of packets that confirmed its channel, while the bridge still waits for the promise below to resume.
 * (Its output is buffered by the stream; an 'exit' event would be lost.)
 */
const earlyExits = new WeakMap<ClientChannel, ExitArgs>();

function open(up: Client, start: (cb: (err: Error | undefined, ch: ClientChannel) => void) => void): Promise<ClientChannel> {
  return new Promise((resolve, reject) =>
    start((err, ch) => {
      if (err) return reject(err);
      ch.once('exit', (...args: ExitArgs) => earlyExits.set(ch, args));
      resolve(ch);
    }),
  );
}

/** ssh2 knows the option (it requests auth-agent-req@openssh.com first) though its types do not declare it. */
function agentOption(agent: boolean): ShellOptions & ExecOptions {
  return agent ? ({ agentForward: true } as ShellOptions & ExecOptions) : {};
}

/**
 * Open a shell or exec upstream, asking the target for agent forwarding when `agent`. A target that refuses it
 * (AllowAgentForwarding no) makes ssh2 fail the whole channel, where OpenSSH would carry on without an agent:
 * the channel is opened again without it.
 */
function openWithAgent(up: Client, agent: boolean, start: (agent: boolean, cb: (err: Error | undefined, ch: ClientChannel) => void) => void): Promise<ClientChannel> {
  return open(up, (cb) => start(agent, cb)).catch((e: Error) => {
    if (!agent || e.message !== 'Unable to request agent forwarding') throw e;
    log.info('the target refused agent forwarding; the channel opens without it');
    return open(up, (cb) => start(false, cb));
  });
}

/** The bridge's side of ChannelIO: the tap's own bytes go out, and its brake holds both directions. */
class BridgeIO implements ChannelIO {
  held = false;
  private sides: { toTarget: (d: Buffer) => void; toClient: (d: Buffer) => void; flow: () => void } | null = null;

  attach(sides: { toTarget: (d: Buffer) => void; toClient: (d: Buffer) => void; flow: () => void }): void {
    this.sides = sides;
    if (this.held) sides.flow();
  }
  toTarget(d: Buffer): void {
    this.sides?.toTarget(d);
  }
  toClient(d: Buffer): void {
    this.sides?.toClient(d);
  }
  pause(): void {
    this.held = true;
    this.sides?.flow();
  }
  resume(): void {
    this.held = false;
    this.sides?.flow();
  }
}

/** Tell the user why on stderr, exit with the status (1 unless given), close. */
function failChannel(stream: ServerChannel, message: string, exitStatus = 1): void {
  if (stream.destroyed || stream.writableEnded) return;
  stream.stderr.write(`${message}\r\n`);
  stream.write(Buffer.alloc(0), () => {
    stream.exit(exitStatus);
    stream.end();
  });
}
