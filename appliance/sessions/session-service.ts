// Admission of a proxied session — one path for every protocol (SSH, RDP, the web terminal later): the
// access decision, the forced-certificate gate, the reason and approval rules, the session row and its
// audit event, then the credential secret and the pinned host key check for the protocol adapter to use.
// Warpgate's start_target_session (Started | NeedsApproval) is the model: admitted, or a typed refusal.
import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { FeedFollower, Repositories, Store } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import { NotFoundError, WardenError, requireText, type ErrorCode } from '../errors/index.js';
import { logger } from '../log/index.js';
import type { CertificateLogin, ProxyAuthenticationProof } from '../auth/index.js';
import { can, parseConnectivity, requirePermission, type Actor, type AccessDecisions, type CredentialService, type HostKeyService } from '../access/index.js';
import { normalizeIp } from '../auth/index.js';
import { SessionSearch } from './session-search.js';
import { SessionActivityRecorder, type ActivityRecorderOptions, type CommandActivity, type CommandStatusActivity, type OutputActivity } from './activity-recorder.js';
import { CommandGuard, judgeExec, mostRestrictive, type CommandGuardOptions, type CommandRule, type CommandRuleMode, type CommandVerdict } from '../commands/index.js';

/**
 * The command rules a session runs under. When several groups admit the session on their own, the most
 * restrictive merge of their rules applies (see mostRestrictive): membership in a second, laxer group must
 * not lift the rules an administrator put on the first for the same device.
 */
export interface SessionCommandRules {
  mode: CommandRuleMode;
  rules: CommandRule[];
  /** The groups whose rules these are. */
  groupIds: number[];
  /** Why these rules, for the operator: which groups, and how they were merged. */
  why: string;
}

export type SessionProtocol = 'ssh' | 'rdp';

export interface OpenRequest {
  userId: number;
  deviceId: number;
  credentialId: number;
  protocol: SessionProtocol;
  /** The client's address as the proxy saw it. */
  source: string;
  reason?: string;
  /**
   * How the person was authenticated, when the proxy authenticated them itself (SSH: ProxyLogin.result()).
   * The forced-certificate gate judges this login; without it, the person's web session.
   */
  authentication?: ProxyAuthenticationProof;
}

/**
 * Why a session was not opened, as the user may be told: never which groups exist beyond their own, never
 * whether an id exists. The precise rule is in the audit trail.
 */
export type Refusal =
  | { kind: 'denied' }
  | { kind: 'needs-approval'; groupId: number; approvalsNeeded: number; reasonRequired: boolean }
  | { kind: 'reason-required' }
  | { kind: 'certificate-required'; code: ErrorCode }
  /** An exclusive credential another user holds now: who, and until when (null: while their session lasts). */
  | { kind: 'checked-out'; holder: string; until: number | null };

export type Admission = { admitted: true; session: ProxySession } | { admitted: false; refusal: Refusal };

export interface SessionTarget {
  deviceId: number;
  hostname: string;
  address: string;
  port: number;
  credentialId: number;
  username: string;
  domain: string;
  secretKind: string;
}

/** Longest command kept (a pasted script is a command too; its start says what it was). */
export const MAX_COMMAND_CHARS = 16 * 1024;
/** Output text is stored in chunks of at most this many characters. */
export const MAX_OUTPUT_CHUNK = 64 * 1024;

export interface SessionEnd {
  reason: string;
  bytesIn?: number;
  bytesOut?: number;
  exitStatus?: number | null;
}

/**
 * How this process keeps the store told about the sessions it holds: their bytes so far (written at most
 * every `progressMs`, batched), and its lease (renewed every third of `hostLeaseMs` while it holds any). A
 * process whose lease lapses is declared dead by the sweep and its open sessions are marked interrupted.
 */
export interface LivenessOptions {
  progressMs?: number;
  hostLeaseMs?: number;
  /** This process's name in the store; default host, pid and a random tag (a restarted process is another). */
  hostId?: string;
}

export const DEFAULT_PROGRESS_MS = 2000;
export const DEFAULT_HOST_LEASE_MS = 15_000;
/** Rows per progress transaction (see beat). */
export const PROGRESS_BATCH = 250;
/** Why a swept session ended (its row's end_reason). */
export const PROCESS_GONE = 'process-gone';

/** A live session as an administrator or auditor sees it. */
export interface LiveSessionView {
  id: string;
  user: string;
  device: string;
  /** The credential's user name on the device. */
  credential: string;
  source: string;
  protocol: string;
  startedAt: string;
  /** Client to target and back, as last reported by the holding process (see progressAt). */
  bytesIn: number;
  bytesOut: number;
  progressAt: string | null;
  recordingId: string | null;
  reason: string;
  emergency: boolean;
  /** The process holding it. */
  process: string | null;
  /** false: that process stopped renewing its lease; the sweep will mark the session interrupted. */
  responsive: boolean;
}

const log = logger('sessions');

function defaultHostId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`.slice(0, 128);
}

export interface SessionDeps {
  store: Store;
  audit: AuditTrail;
  decisions: AccessDecisions;
  credentials: CredentialService;
  hostKeys: HostKeyService;
  certificates: CertificateLogin;
  clock?: () => number;
  liveness?: LivenessOptions;
}

/** An admitted session: its target, the secret to inject, the host key check, and its one end. */
export class ProxySession {
  private closed = false;
  private endReason: string | undefined;
  private readonly endListeners: ((reason: string) => void)[] = [];
  /** @internal the process lease the session was admitted under */
  hostId = '';
  private deadline: NodeJS.Timeout | undefined;

  constructor(
    private readonly service: SessionService,
    readonly id: string,
    readonly userId: number,
    readonly username: string,
    readonly protocol: SessionProtocol,
    readonly target: SessionTarget,
    /** The vaulted secret, fetched after admission. The caller zeroes it (`secret.fill(0)`) once injected. */
    readonly secret: Buffer,
    /** The approved request (or break-glass grant) the session rests on, if any: its expiry ends the session. */
    readonly grantId: number | null,
    /** The command rules of the group(s) that admitted the session, read in the admission's transaction. */
    readonly commandRules: SessionCommandRules = { mode: 'rules', rules: [], groupIds: [], why: 'no command rules' },
    /**
     * Whether the proxy may forward ports (direct-tcpip) for this session: only when every group that admitted
     * it allows it (a second, laxer group must not lift what the first withholds), read in the admission's
     * transaction. No admitting group, no forwarding.
     */
    readonly portForwarding = false,
    /**
     * Whether the proxy may forward the user's SSH agent to the target (`ssh -A`): the same rule as ports, only
     * when every admitting group allows it, read in the admission's transaction.
     */
    readonly agentForwarding = false,
  ) {}

  /** What a log line or a failed assertion may show: never the secret (nor the service behind it). */
  toJSON(): Record<string, unknown> {
    return { id: this.id, userId: this.userId, username: this.username, protocol: this.protocol, target: this.target, grantId: this.grantId };
  }

  /** An exec request judged whole, before its channel opens. A block or alert is recorded (see recordActivity). */
  judgeExec(command: string): CommandVerdict {
    return judgeExec(this.commandRules.rules, this.commandRules.mode, command);
  }

  /** A guard for one interactive channel of this session, under its command rules. */
  commandGuard(options: Omit<CommandGuardOptions, 'rules' | 'mode'>): CommandGuard {
    return new CommandGuard({ ...options, rules: this.commandRules.rules, mode: this.commandRules.mode });
  }

  /**
   * Called once when the session must end by a decision made anywhere — an administrator ended it, the user
   * was disabled or locked, the grant it rests on expired — heard through the change feed. The protocol
   * adapter disconnects and then calls `close()`.
   */
  onEndRequested(listener: (reason: string) => void): void {
    if (this.endReason !== undefined) listener(this.endReason);
    else this.endListeners.push(listener);
  }

  /** @internal the session ends by itself `ms` from now (the grant it rests on ends then) */
  endIn(ms: number, reason: string): void {
    clearTimeout(this.deadline);
    // setTimeout holds ~24.8 days at most; grants last 7 days at most.
    this.deadline = setTimeout(() => this.requestEnd(reason), Math.min(Math.max(0, ms), 2 ** 31 - 1));
    this.deadline.unref();
  }

  /** @internal the session service, hearing the change feed */
  requestEnd(reason: string): void {
    if (this.endReason !== undefined || this.closed) return;
    this.endReason = reason;
    clearTimeout(this.deadline);
    for (const l of this.endListeners.splice(0)) {
      try {
        l(reason);
      } catch {
        // A failing adapter callback must not keep the other listeners from hearing it.
      }
    }
  }

  /**
   * The bytes moved so far, client to target and back (totals, not increments). Cheap enough to call on every
   * chunk: the service keeps the latest and writes it to the store at most every few seconds, batched with
   * the other sessions', so administrators in other processes see it in the live list.
   */
  progress(bytesIn: number, bytesOut: number): void {
    if (!this.closed) this.service.noteProgress(this.id, bytesIn, bytesOut);
  }

  /** The target's host key (SSH) or certificate (RDP) fingerprint against the pinned one; refuse on 'mismatch'. */
  checkHostKey(fingerprint: string): Promise<'pinned' | 'match' | 'mismatch'> {
    return this.service.checkHostKey(this, fingerprint);
  }

  /** End the session once: its row gets the end and the bytes, and one `session.end` event is written. */
  async close(end: SessionEnd): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.deadline);
    this.secret.fill(0);
    await this.service.closeSession(this, end);
  }
}

export class SessionService {
  private readonly now: () => number;
  /** The sessions this process admitted and has not closed: the ones a change on the feed may end. */
  private readonly live = new Map<string, ProxySession>();
  /**
   * Being admitted: the row may be committed while the secret is still being unsealed. An end heard
   * meanwhile (an administrator's, a user disabled) is kept here and handed to the session when it exists.
   */
  private readonly admitting = new Map<string, { userId: number; grantId: number | null; endReason?: string }>();
  /** Bytes reported since the last write, per session. */
  private readonly pending = new Map<string, { bytesIn: number; bytesOut: number }>();
  private readonly progressMs: number;
  private readonly hostLeaseMs: number;
  /** This process's lease row; a new one once the process was declared dead (its sessions ended). */
  private hostId: string;
  private renewedAt = 0;
  private heartbeat: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;

  /** Search over recorded sessions' commands and output. */
  readonly search: SessionSearch;

  constructor(private readonly deps: SessionDeps) {
    this.now = deps.clock ?? Date.now;
    this.progressMs = deps.liveness?.progressMs ?? DEFAULT_PROGRESS_MS;
    this.hostLeaseMs = deps.liveness?.hostLeaseMs ?? DEFAULT_HOST_LEASE_MS;
    this.hostId = deps.liveness?.hostId ?? defaultHostId();
    this.search = new SessionSearch({ store: deps.store, ...(deps.clock ? { clock: deps.clock } : {}) });
  }

  /** A batching recorder of one session's commands and output for the proxy (see SessionActivityRecorder). */
  activityRecorder(sessionId: string, options: ActivityRecorderOptions = {}): SessionActivityRecorder {
    return new SessionActivityRecorder(sessionId, (id, activity) => this.recordActivity(id, activity), { ...(this.deps.clock ? { clock: this.deps.clock } : {}), ...options });
  }

  /**
   * Store what a session did: its commands (with the rules' verdicts) and its output text, in one
   * transaction with an audit event for every blocked (high) or alerted command. The proxy calls it batched,
   * off its data path; a blocked command it sends at once, so the event is not held back by a batch.
   * `statuses`: exit statuses the shell reported after their commands were stored (set on those rows).
   */
  async recordActivity(
    sessionId: string,
    activity: { commands?: readonly CommandActivity[]; output?: readonly OutputActivity[]; statuses?: readonly CommandStatusActivity[] },
  ): Promise<void> {
    const commands = activity.commands ?? [];
    const output = activity.output ?? [];
    const statuses = activity.statuses ?? [];
    if (commands.length === 0 && output.length === 0 && statuses.length === 0) return;
    await this.deps.store.transaction(async (repos) => {
      const row = await repos.proxySessions.byId(sessionId);
      if (!row) throw new NotFoundError('session');
      // Offsets point into the recording: from its start (its records' times are relative to it), else the session's.
      const recording = await repos.recordings.bySession(sessionId);
      const origin = Number(recording?.started_at ?? row.started_at);
      const offset = (at: number, given?: number) => Math.max(0, given ?? at - origin);
      await repos.sessionCommands.appendCommands(
        commands.map((c) => ({
          sessionId,
          at: c.at,
          offsetMs: offset(c.at, c.offsetMs),
          command: c.command.slice(0, MAX_COMMAND_CHARS),
          exitStatus: c.exitStatus ?? null,
          action: c.action,
        })),
      );
      for (const st of statuses) await repos.sessionCommands.setExitStatus(sessionId, st.at, st.command.slice(0, MAX_COMMAND_CHARS), st.exitStatus);
      const chunks = output.flatMap((o) => {
        const parts = [];
        for (let i = 0; i < o.text.length; i += MAX_OUTPUT_CHUNK) parts.push({ sessionId, at: o.at, offsetMs: offset(o.at, o.offsetMs), text: o.text.slice(i, i + MAX_OUTPUT_CHUNK) });
        return parts;
      });
      await repos.sessionCommands.appendOutput(chunks.filter((c) => c.text.trim() !== ''));
      for (const c of commands) {
        if (c.action === 'allow') continue;
        await this.deps.audit.record(
          {
            type: c.action === 'block' ? 'session.command_blocked' : 'session.command_alert',
            outcome: c.action === 'block' ? 'failure' : 'info',
            actor: row.username,
            actorIp: row.source_ip,
            subject: `session:${sessionId}`,
            detail: { session: sessionId, command: c.command.slice(0, 1024), exec: c.exec === true, rule: c.rule?.position ?? null, pattern: c.rule?.pattern ?? null },
          },
          repos,
        );
      }
    });
  }

  /**
   * Hear, on this process's change feed, what ends live sessions decided anywhere: an end requested for a
   * session or a user, a user disabled or locked, a grant expired.
   */
  listen(changes: FeedFollower): void {
    const end = (match: (s: { id: string; userId: number; grantId: number | null }) => boolean, reason: string) => {
      for (const s of this.live.values()) if (match(s)) s.requestEnd(reason);
      for (const [id, a] of this.admitting) if (a.endReason === undefined && match({ id, ...a })) a.endReason = reason;
    };
    changes.on('session.end-requested', (p) => end((s) => s.id === p.sessionId || s.userId === p.userId, p.reason));
    changes.on('user.disabled', (p) => end((s) => s.userId === p.userId, 'user-disabled'));
    changes.on('user.locked', (p) => end((s) => s.userId === p.userId, 'user-locked'));
    changes.on('grant.expired', (p) => end((s) => s.grantId === p.requestId, 'grant-expired'));
  }

  /**
   * An administrator ends a session, wherever it runs: announced on the change feed with its audit event in
   * one transaction; the process that holds it hears it and disconnects.
   */
  async requestEnd(actor: Actor & { profile: string }, sessionId: string, reason = 'ended by an administrator'): Promise<void> {
    requirePermission(actor.profile, 'access.manage');
    reason = requireText(reason.trim(), 'reason', { min: 1, max: 256 });
    await this.deps.store.transaction(async (repos) => {
      const row = await repos.proxySessions.byId(sessionId);
      if (!row || row.status !== 'open') throw new NotFoundError('open session');
      await repos.changes.announce('session.end-requested', `session:${sessionId}`, { sessionId, userId: null, reason });
      await this.deps.audit.record(
        { type: 'session.end_requested', outcome: 'success', actor: actor.username, actorIp: actor.ip, subject: `session:${sessionId}`, detail: { session: sessionId, user: row.username, reason } },
        repos,
      );
    });
  }

  /**
   * A channel or request a proxy refused on an authenticated connection (port, agent or X11 forwarding, a
   * per-connection limit): audited whether or not a session is open on that connection.
   */
  async recordRefusedChannel(e: { username: string; source: string; kind: string; sessionId: string | null; target?: string }): Promise<void> {
    await this.deps.audit.record({
      type: 'session.channel_refused',
      outcome: 'failure',
      actor: e.username,
      actorIp: normalizeIp(e.source),
      subject: e.sessionId ? `session:${e.sessionId}` : e.username,
      code: 'ACCESS_DENIED',
      detail: { kind: e.kind, session: e.sessionId, ...(e.target !== undefined ? { target: e.target.slice(0, 300) } : {}) },
    });
  }

  /**
   * A proxy opened (or tried to open, `problem` set) a forwarded TCP channel through a session's target, which
   * the session's groups allow (ProxySession.portForwarding). Awaited before the channel is handed to the
   * client: a forward the trail cannot note is not opened.
   */
  async recordPortForward(e: { session: ProxySession; source: string; destination: string; origin: string; problem?: string }): Promise<void> {
    await this.deps.audit.record({
      type: 'session.port_forward',
      outcome: e.problem === undefined ? 'success' : 'failure',
      actor: e.session.username,
      actorIp: normalizeIp(e.source),
      subject: `session:${e.session.id}`,
      ...(e.problem === undefined ? {} : { code: 'FORWARD_REFUSED_BY_TARGET' }),
      detail: { session: e.session.id, destination: e.destination.slice(0, 300), origin: e.origin.slice(0, 300), ...(e.problem === undefined ? {} : { problem: e.problem.slice(0, 300) }) },
    });
  }

  /**
   * The target of a session opened a channel to the user's forwarded agent, which the session's groups allow
   * (ProxySession.agentForwarding); `problem` set: the user's client refused it. One event per channel,
   * awaited before the channel is handed to the target: an agent use the trail cannot note does not happen.
   */
  async recordAgentForward(e: { session: ProxySession; source: string; problem?: string }): Promise<void> {
    await this.deps.audit.record({
      type: 'session.agent_forward',
      outcome: e.problem === undefined ? 'success' : 'failure',
      actor: e.session.username,
      actorIp: normalizeIp(e.source),
      subject: `session:${e.session.id}`,
      ...(e.problem === undefined ? {} : { code: 'FORWARD_REFUSED_BY_CLIENT' }),
      detail: { session: e.session.id, ...(e.problem === undefined ? {} : { problem: e.problem.slice(0, 300) }) },
    });
  }

  /** A proxy refused a person the password let in (what it cannot finish yet, such as a second factor). */
  async recordRefusedLogin(e: { username: string; source: string; protocol: SessionProtocol; reason: string }): Promise<void> {
    await this.deps.audit.record({ type: 'session.login_refused', outcome: 'failure', actor: e.username, actorIp: normalizeIp(e.source), subject: e.username, code: 'AUTH_INVALID', detail: { protocol: e.protocol, reason: e.reason } });
  }

  /**
   * Admit a session or refuse it. The decision, the row and the `session.start` event are one transaction,
   * so nothing can change the decision between the check and the act; every refusal is a `session.refused`
   * event. The secret is unsealed only after admission, outside the transaction.
   */
  async open(req: OpenRequest): Promise<Admission> {
    const source = normalizeIp(req.source);
    const at = this.now();
    // Typed at a proxy's prompt: the same text rules as every field (no control characters, at most 1024).
    const reason = req.reason === undefined ? '' : requireText(req.reason.trim(), 'reason', { max: 1024 });
    const user = await this.deps.store.repos.users.byId(req.userId);
    const refused = async (refusal: Refusal, rule: string, code: ErrorCode | null): Promise<Admission> => {
      await this.deps.audit.record({
        type: 'session.refused',
        outcome: 'failure',
        actor: user?.username ?? `user:${req.userId}`,
        actorIp: source,
        subject: `device:${req.deviceId}/credential:${req.credentialId}`,
        code,
        detail: { protocol: req.protocol, refusal: refusal.kind, rule },
      });
      return { admitted: false, refusal };
    };
    if (!user) return refused({ kind: 'denied' }, 'no-such-user', 'ACCESS_DENIED');

    const gate = await this.deps.certificates.proxySessionAllowed(req.userId, req.authentication);
    if (!gate.allowed) return refused({ kind: 'certificate-required', code: gate.code }, gate.reason, gate.code);

    const timeZone = await this.deps.decisions.timeZone();
    const id = randomUUID();
    const hostId = this.hostId;
    // Listening before the row can commit: no end decided after the commit can pass unheard.
    this.admitting.set(id, { userId: user.id, grantId: null });
    try {
      return await this.admit(req, { id, at, source, reason, user, timeZone, hostId, refused });
    } finally {
      this.admitting.delete(id);
    }
  }

  private async admit(
    req: OpenRequest,
    ctx: {
      id: string;
      at: number;
      source: string;
      reason: string;
      user: { id: number; username: string };
      timeZone: string;
      hostId: string;
      refused: (refusal: Refusal, rule: string, code: ErrorCode | null) => Promise<Admission>;
    },
  ): Promise<Admission> {
    const { id, at, source, reason, user, timeZone, hostId, refused } = ctx;
    // Set inside the transaction (its last attempt is the one that committed).
    let hold = 'renewed' as 'renewed' | 'registered';
    // Held before this admission's transaction, so committed under a lease row that then existed.
    const heldBefore = [...this.live.values()].filter((s) => s.hostId === hostId);
    type Outcome =
      | { ok: true; target: Omit<SessionTarget, 'port'> & { connectivity: string }; grantId: number | null; grantEndsAt: number | null; commandRules: SessionCommandRules; portForwarding: boolean; agentForwarding: boolean }
      | { ok: false; refusal: Refusal; rule: string };
    const outcome = await this.deps.store.transaction(async (repos): Promise<Outcome> => {
      const { decision, covered } = await this.deps.decisions.decideIn(repos, timeZone, req.userId, req.deviceId, req.credentialId, req.protocol, at);
      if (!covered || decision.outcome === 'denied') return { ok: false, refusal: { kind: 'denied' }, rule: decision.rule };
      if (decision.outcome === 'approval-required') {
        return { ok: false, refusal: { kind: 'needs-approval', groupId: decision.groupId, approvalsNeeded: decision.approvalsNeeded, reasonRequired: decision.reasonRequired }, rule: decision.rule };
      }
      if (decision.reasonRequired && reason === '') return { ok: false, refusal: { kind: 'reason-required' }, rule: decision.rule };
      const device = (await repos.devices.device(req.deviceId))!;
      const credential = (await repos.credentials.credential(req.credentialId))!;
      // Shared access, not simultaneous: taken in the admitting transaction, so two admissions cannot both hold it.
      if (credential.exclusive) {
        const taken = await repos.credentials.checkout(credential.id, { userId: user.id, username: user.username, purpose: 'session', sessionId: id }, at, null);
        const subject = `credential:${credential.id}`;
        if (!taken.taken) {
          const until = taken.held.expires_at === null ? null : Number(taken.held.expires_at);
          await this.deps.audit.record({ type: 'credential.checkout', outcome: 'failure', actor: user.username, actorIp: source, subject, detail: { purpose: 'session', until, holder: taken.held.username } }, repos);
          return { ok: false, refusal: { kind: 'checked-out', holder: taken.held.username, until }, rule: 'checked-out' };
        }
        await this.deps.audit.record({ type: 'credential.checkout', outcome: 'success', actor: user.username, actorIp: source, subject, detail: { purpose: 'session', until: null, session: id } }, repos);
      }
      // The lease and the row in one transaction: a committed open row always has a live process named.
      hold = await repos.sessionHosts.touch(hostId, at, at + this.hostLeaseMs);
      await repos.proxySessions.insert({
        id,
        user_id: user.id,
        username: user.username,
        device_id: device.id,
        hostname: device.hostname,
        credential_id: credential.id,
        credential_username: credential.username,
        protocol: req.protocol,
        source_ip: source,
        reason,
        rule: decision.rule,
        group_id: decision.groupId,
        grant_id: decision.grantId,
        emergency: decision.emergency,
        status: 'open',
        started_at: at,
        ended_at: null,
        end_reason: null,
        bytes_in: 0,
        bytes_out: 0,
        exit_status: null,
        host_id: hostId,
        progress_at: null,
      });
      await this.deps.audit.record(
        {
          type: 'session.start',
          outcome: 'success',
          actor: user.username,
          actorIp: source,
          subject: `${credential.username}@${device.hostname}`,
          detail: { session: id, protocol: req.protocol, deviceId: device.id, credentialId: credential.id, rule: decision.rule, groupId: decision.groupId, grantId: decision.grantId, emergency: decision.emergency, ...(reason ? { reason } : {}) },
        },
        repos,
      );
      const admitting = decision.groupIds ?? (decision.groupId === null ? [] : [decision.groupId]);
      const commandRules = await commandRulesOf(repos, admitting);
      const portForwarding = await portForwardingOf(repos, admitting);
      const agentForwarding = await agentForwardingOf(repos, admitting);
      const grant = decision.grantId === null ? undefined : await repos.accessRequests.request(decision.grantId);
      return {
        ok: true,
        grantId: decision.grantId,
        grantEndsAt: grant ? Number(grant.ends_at) : null,
        commandRules,
        portForwarding,
        agentForwarding,
        target: { deviceId: device.id, hostname: device.hostname, address: device.address, connectivity: device.connectivity, credentialId: credential.id, username: credential.username, domain: credential.domain, secretKind: credential.secret_kind },
      };
    });
    if (!outcome.ok) return refused(outcome.refusal, outcome.rule, 'ACCESS_DENIED');
    const pending = this.admitting.get(id);
    if (pending) pending.grantId = outcome.grantId;
    this.renewedAt = Math.max(this.renewedAt, at);
    // The lease row had to be made again while sessions were held under it: the sweep declared this process
    // dead and marked them interrupted. They end here, as the heartbeat would have ended them.
    if (hold === 'registered') for (const s of heldBefore) s.requestEnd('interrupted');

    const { connectivity, ...target } = outcome.target;
    let secret: Buffer;
    try {
      secret = await this.deps.credentials.secretBytesOf(req.credentialId);
    } catch (e) {
      // No secret, no session: the admitted row ends at once with the reason (fail closed).
      await this.endRow(id, user.username, source, { reason: 'vault-unavailable' }, req.credentialId);
      throw e;
    }
    const port = parseConnectivity(connectivity).get(req.protocol.toUpperCase())!;
    const session = new ProxySession(this, id, user.id, user.username, req.protocol, { ...target, port }, secret, outcome.grantId, outcome.commandRules, outcome.portForwarding, outcome.agentForwarding);
    session.hostId = hostId;
    const early = this.admitting.get(id)?.endReason;
    // The grant's end is known now and cannot move: this process ends the session on the dot. The
    // grant.expired change on the feed (announced by a job, every second) stays the backstop.
    if (outcome.grantEndsAt !== null) session.endIn(outcome.grantEndsAt - this.now(), 'grant-expired');
    this.live.set(id, session);
    this.admitting.delete(id);
    this.startHeartbeat();
    // Ended while it was being admitted: the adapter hears it as soon as it listens (onEndRequested).
    if (early !== undefined) session.requestEnd(early);
    return { admitted: true, session };
  }

  /** @internal through ProxySession.progress */
  noteProgress(sessionId: string, bytesIn: number, bytesOut: number): void {
    if (this.live.has(sessionId)) this.pending.set(sessionId, { bytesIn, bytesOut });
  }

  /**
   * The open sessions, wherever they run, from the store: who, where, since when, the bytes so far, the
   * recording. For auditors (audit.read) and for those who may end them (access.manage).
   */
  async liveSessions(actor: { profile: string }, options: { limit?: number; offset?: number } = {}): Promise<LiveSessionView[]> {
    if (!can(actor.profile, 'audit.read') && !can(actor.profile, 'access.manage')) throw new WardenError('AUTH_FORBIDDEN', 'the audit.read or access.manage permission is required');
    const now = this.now();
    const rows = await this.deps.store.repos.proxySessions.live(Math.min(Math.max(1, options.limit ?? 1000), 10_000), Math.max(0, options.offset ?? 0));
    const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
    return rows.map((r) => ({
      id: r.id,
      user: r.username,
      device: r.hostname,
      credential: r.credential_username,
      source: r.source_ip,
      protocol: r.protocol,
      startedAt: iso(r.started_at)!,
      bytesIn: Number(r.bytes_in),
      bytesOut: Number(r.bytes_out),
      progressAt: iso(r.progress_at),
      recordingId: r.recording_id,
      reason: r.reason,
      emergency: Boolean(r.emergency),
      process: r.host_id,
      responsive: r.host_expires_at !== null && Number(r.host_expires_at) > now,
    }));
  }

  /** One page of the live sessions, newest first, and how many are open (the same permission as liveSessions). */
  async pageLiveSessions(actor: { profile: string }, page: { limit: number; offset: number }): Promise<{ sessions: LiveSessionView[]; total: number }> {
    const [sessions, counts] = await Promise.all([this.liveSessions(actor, page), this.openCounts()]);
    return { sessions, total: Object.values(counts).reduce((a, b) => a + b, 0) };
  }

  /** How many sessions are open now, per protocol (for status lines). */
  openCounts(): Promise<Record<string, number>> {
    return this.deps.store.repos.proxySessions.openCounts();
  }

  /**
   * The sweep (a job): declare dead the processes whose lease lapsed, and mark interrupted every open session
   * no live process holds, each with a `session.interrupted` event in the same transaction. Returns how many.
   * A process paused past its lease that wakes finds its lease gone and ends those sessions itself.
   */
  async sweepInterrupted(now = this.now()): Promise<number> {
    return this.deps.store.transaction(async (repos) => {
      await repos.sessionHosts.takeLapsed(now);
      let n = 0;
      for (const row of await repos.proxySessions.orphaned(500)) {
        if (!(await repos.proxySessions.interrupt(row.id, now, PROCESS_GONE))) continue;
        n++;
        await queueRotationAfterUse(repos, row.credential_id, `session ${row.id} was interrupted`, now);
        await this.checkinAfterSession(repos, row.id, row.credential_id, now);
        await this.deps.audit.record(
          {
            type: 'session.interrupted',
            outcome: 'failure',
            actor: row.username,
            actorIp: row.source_ip,
            subject: `session:${row.id}`,
            detail: { session: row.id, process: row.host_id, bytesIn: Number(row.bytes_in), bytesOut: Number(row.bytes_out), progressAt: row.progress_at === null ? null : Number(row.progress_at) },
          },
          repos,
        );
      }
      return n;
    });
  }

  /**
   * Stop the heartbeat (the process is closing): the last bytes are written and the lease let go, so a
   * session still held (its daemon did not close it) is marked interrupted at the next sweep, not 15 s later.
   */
  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    await this.beating;
    await this.beat({ release: true }).catch((e: unknown) => {
      log.warn('live sessions: final progress write failed', { error: e });
    });
  }

  private startHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => {
      if (this.beating) return;
      this.beating = this.beat()
        .catch((e: unknown) => {
          log.warn('live sessions: progress or lease write failed', { error: e });
        })
        .finally(() => (this.beating = undefined));
    }, this.progressMs);
    // The heartbeat serves sessions; it must not keep a process alive that has nothing else to do.
    this.heartbeat.unref();
  }

  /** Write the pending bytes and renew the lease when due, in one non-durable transaction. */
  private async beat(opts: { release?: boolean } = {}): Promise<void> {
    const now = this.now();
    const updates = [...this.pending].map(([id, p]) => ({ id, ...p }));
    this.pending.clear();
    const hostId = this.hostId;
    const held = [...this.live.values()].some((s) => s.hostId === hostId);
    const renew = !opts.release && held && now - this.renewedAt >= this.hostLeaseMs / 3;
    if (opts.release && updates.length === 0 && this.renewedAt === 0) return;
    if (!opts.release && updates.length === 0 && !renew) {
      if (this.live.size === 0) {
        clearInterval(this.heartbeat);
        this.heartbeat = undefined;
      }
      return;
    }
    // Batches of PROGRESS_BATCH rows, the loop served between them: a transaction runs on the event loop
    // (SQLite is synchronous), and the proxy's sockets must not wait for 2,000 rows at once.
    const batches: (typeof updates)[] = [];
    for (let i = 0; i < updates.length; i += PROGRESS_BATCH) batches.push(updates.slice(i, i + PROGRESS_BATCH));
    if (batches.length === 0) batches.push([]);
    let lost = false;
    for (let b = 0; b < batches.length; b++) {
      const batch = batches[b]!;
      const first = b === 0;
      try {
        await this.deps.store.transaction(
          async (repos) => {
            if (batch.length > 0) await repos.proxySessions.progress(batch, now);
            if (first && renew) lost = !(await repos.sessionHosts.renew(hostId, now + this.hostLeaseMs));
            if (first && opts.release && this.renewedAt > 0) await repos.sessionHosts.release(hostId);
          },
          // Counters and a lease: worth nothing after a power loss, which ends every session anyway.
          { durable: false },
        );
      } catch (e) {
        // Not lost: the next beat writes them, unless newer figures came meanwhile.
        for (const u of batches.slice(b).flat()) if (!this.pending.has(u.id)) this.pending.set(u.id, { bytesIn: u.bytesIn, bytesOut: u.bytesOut });
        throw e;
      }
      if (b + 1 < batches.length) await new Promise((resolve) => setImmediate(resolve));
    }
    if (renew && !lost) this.renewedAt = now;
    if (lost) {
      // Declared dead while alive (paused past the lease): the store already says these sessions ended.
      log.warn('live sessions: this process lost its lease; its sessions end as interrupted', { host: hostId });
      this.hostId = defaultHostIdLike(this.deps.liveness?.hostId);
      this.renewedAt = 0;
      this.endSessionsOf(hostId, 'interrupted');
    }
  }

  private endSessionsOf(hostId: string, reason: string): void {
    for (const s of this.live.values()) if (s.hostId === hostId) s.requestEnd(reason);
  }

  /** @internal through ProxySession.checkHostKey */
  async checkHostKey(session: ProxySession, fingerprint: string): Promise<'pinned' | 'match' | 'mismatch'> {
    return this.deps.hostKeys.checkHostKey(session.target.deviceId, session.protocol, fingerprint);
  }

  /** @internal through ProxySession.close */
  async closeSession(session: ProxySession, end: SessionEnd): Promise<void> {
    this.live.delete(session.id);
    this.pending.delete(session.id);
    await this.endRow(session.id, session.username, null, end, session.target.credentialId);
  }

  /**
   * An exclusive credential held by a session's user goes back when that session ends — unless the same user
   * still has another session open with it — and its rotation is queued (check-in rotates).
   */
  private async checkinAfterSession(repos: Repositories, sessionId: string, credentialId: number, at: number): Promise<void> {
    const hold = await repos.credentials.checkoutOf(credentialId, at);
    if (!hold || hold.purpose !== 'session') return;
    const stillOpen = (await repos.proxySessions.openOf(hold.user_id, credentialId)).filter((s) => s.id !== sessionId);
    if (stillOpen.length > 0) return;
    await repos.credentials.checkin(credentialId);
    await this.deps.audit.record({ type: 'credential.checkin', outcome: 'info', actor: hold.username, actorIp: null, subject: `credential:${credentialId}`, detail: { holder: hold.username, how: `session ${sessionId} ended` } }, repos);
    await repos.credentials.enqueueRotation({ credential_id: credentialId, trigger_kind: 'check-in', reason: `checked in: session ${sessionId} ended`, due_at: at, created_at: at });
  }

  private async endRow(id: string, username: string, source: string | null, end: SessionEnd, credentialId: number): Promise<void> {
    const at = this.now();
    await this.deps.store.transaction(async (repos) => {
      const closed = await repos.proxySessions.close(id, { at, reason: end.reason, bytesIn: end.bytesIn ?? 0, bytesOut: end.bytesOut ?? 0, exitStatus: end.exitStatus ?? null });
      if (!closed) return;
      await queueRotationAfterUse(repos, credentialId, `session ${id} ended`, at);
      await this.checkinAfterSession(repos, id, credentialId, at);
      await this.deps.audit.record(
        { type: 'session.end', outcome: 'info', actor: username, actorIp: source, subject: `session:${id}`, detail: { session: id, reason: end.reason, bytesIn: end.bytesIn ?? 0, bytesOut: end.bytesOut ?? 0, exitStatus: end.exitStatus ?? null } },
        repos,
      );
    });
  }
}

/**
 * A session with a credential that changes automatically has ended (or died): its rotation is queued in the
 * same transaction, so a daemon that stops right after loses none. The rotation job runs it (and drops it when
 * the appliance's "rotate after use" is off).
 */
async function queueRotationAfterUse(repos: Repositories, credentialId: number, reason: string, at: number): Promise<void> {
  const credential = await repos.credentials.credential(credentialId);
  if (!credential?.auto_change || credential.status !== 'active') return;
  await repos.credentials.enqueueRotation({ credential_id: credentialId, trigger_kind: 'after-use', reason, due_at: at, created_at: at });
}

/** A fresh lease name: a configured one gets a generation suffix, so the dead name is never reused. */
function defaultHostIdLike(configured: string | undefined): string {
  return configured === undefined ? defaultHostId() : `${configured}:${randomBytes(4).toString('hex')}`.slice(0, 128);
}

/** Port forwarding for a session: allowed only if every admitting group allows it (none: not allowed). */
async function portForwardingOf(repos: Repositories, groupIds: readonly number[]): Promise<boolean> {
  if (groupIds.length === 0) return false;
  for (const id of new Set(groupIds)) if (!(await repos.accessGroups.group(id))?.allow_port_forwarding) return false;
  return true;
}

/** Agent forwarding for a session: the same rule as ports (every admitting group allows it; none: not allowed). */
async function agentForwardingOf(repos: Repositories, groupIds: readonly number[]): Promise<boolean> {
  if (groupIds.length === 0) return false;
  for (const id of new Set(groupIds)) if (!(await repos.accessGroups.group(id))?.allow_agent_forwarding) return false;
  return true;
}

/** The command rules of the admitting groups, merged to the most restrictive when there are several. */
async function commandRulesOf(repos: Repositories, groupIds: readonly number[]): Promise<SessionCommandRules> {
  const sets: { id: number; mode: CommandRuleMode; rules: CommandRule[] }[] = [];
  for (const id of [...new Set(groupIds)]) {
    const r = await repos.commandRules.ofGroup(id);
    if (r && (r.rules.length > 0 || r.mode === 'allow-list')) sets.push({ id, ...r });
  }
  if (sets.length === 0) return { mode: 'rules', rules: [], groupIds: [], why: 'no command rules' };
  const merged = mostRestrictive(sets);
  const why =
    sets.length === 1
      ? `the rules of group #${sets[0]!.id}`
      : `the most restrictive merge of groups ${sets.map((s) => `#${s.id}`).join(', ')} (all admit this session): ` +
        `${merged.mode === 'allow-list' ? 'allow-list mode because one of them uses it; ' : ''}every group's block rules before any group's allow rules`;
  return { mode: merged.mode, rules: merged.rules, groupIds: sets.map((s) => s.id), why };
}
