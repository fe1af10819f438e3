// Local-password login, lockout, forced change, web sessions. Every outcome is an audit event with its
// precise code; callers show clients only GENERIC_AUTH_MESSAGE for any AuthError.
import type { MfaMethod, Repositories, Store, UserRow, WebSessionRow } from '../store/index.js';
import type { AuditDetail, AuditTrail } from '../audit/index.js';
import type { SettingsService, Settings } from '../settings/index.js';
import type { Argon2Cost } from '../config/index.js';
import { AuthError, PolicyError, WardenError, type ErrorCode } from '../errors/index.js';
import { DecoyHash, hashPassword, hashScheme, needsRehash, verifyPassword } from './password-hash.js';
import { checkComplexity, isInHistory } from './password-rules.js';
import { IpDenylist, expandIpv6, normalizeIp } from '../net/index.js';
import { newSessionRow, newSessionToken, sessionIdOf, sessionProblem, type SessionEndReason } from './web-sessions.js';

/** What a failed login adds to its reason in the audit row (auth.login's declared fields). */
type LoginFailureDetail = Pick<AuditDetail<'auth.login'>, 'source' | 'attempts'>;

export interface AuthDeps {
  store: Store;
  audit: AuditTrail;
  settings: SettingsService;
  /** The cost of new password hashes; a stored hash of another scheme or cost is replaced at its next login. */
  argon2: Argon2Cost;
  clock?: () => number;
}

export interface LoginRequest {
  username: string;
  password: string;
  ip: string;
  userAgent?: string;
}

export type LoginProtocol = 'web' | 'ssh' | 'rdp';

export interface AuthenticationRequest {
  username: string;
  password: string;
  ip: string;
  /** Which door the person came through: recorded on the audit event, the rules are the same. */
  protocol: LoginProtocol;
}

/** Which event records a factor: a login's first factor is auth.login, a later one auth.mfa. */
export type FactorEvent = 'auth.login' | 'auth.mfa';

export interface FactorRequest {
  username: string;
  ip: string;
  protocol: LoginProtocol;
  /** A later factor of a login already under way: the account by id (a rename in between changes nothing). */
  userId?: number;
}

export type FactorVerdict =
  | {
      ok: true;
      /** A key's or certificate's fingerprint, for the audit event. */
      fingerprint?: string;
      /** Slow work for the admission, done only once the account is known admissible (outside any transaction). */
      beforeAdmit?: () => Promise<void>;
      /**
       * Runs in the admission transaction, before the account is admitted: re-checks what the judgement read
       * (false: withdrawn meanwhile, the login fails) and writes what the factor's use changes; returns detail
       * for the auth.login event.
       */
      onAdmit?: (repos: Repositories) => Promise<{ hashUpgraded?: { from: string; to: string } } | false>;
    }
  | {
      ok: false;
      code: ErrorCode;
      reason: string;
      /** True: the factor was right but this door cannot finish the login (refused without counting a failure). */
      refusal?: boolean;
      /** Written with the failure's audit event (a certificate's usage log). */
      onFailure?: (repos: Repositories) => Promise<void>;
    };

/** One factor of a login, judged for an account under the rules every factor shares (AuthService.authenticateFactor). */
export interface PersonFactor {
  /** Named on the audit event: password, publickey, certificate, totp. */
  method: string;
  event: FactorEvent;
  /** Judge the factor for this account; run after the attempt is reserved, whatever the account's state. */
  check(user: UserRow): Promise<FactorVerdict>;
  /** For a name that is no account: spend what `check` would (the password's decoy hash). */
  decoy?(): Promise<void>;
  /** Does success complete the login (all failures reset) or is more due (only this attempt given back)? Default: no second factor due. */
  completes?(person: Omit<AuthenticatedPerson, 'ip' | 'at'>): boolean;
}

/** A person whose password was right and whose account was admissible at `at`. */
export interface AuthenticatedPerson {
  user: UserRow;
  /** The second factor still due, or null. */
  mfaRequired: MfaMethod | null;
  ip: string;
  at: number;
}

export interface LoginSuccess {
  /** The cookie value; only its hash is stored. */
  token: string;
  csrfToken: string;
  user: UserRow;
  passwordChangeRequired: boolean;
  /** The second factor still due before the session is complete, or null. */
  mfaRequired: MfaMethod | null;
}

export interface SessionContext {
  sessionId: string;
  csrfToken: string;
  user: UserRow;
  passwordChangeRequired: boolean;
  /** The second factor still due (stage 'mfa'), or null once the session is complete. */
  mfaRequired: MfaMethod | null;
  session: WebSessionRow;
}

/** The second factor an account must present at web login under the current settings, or null. */
export function requiredSecondFactor(user: Pick<UserRow, 'mfa_method'>, settings: Settings): MfaMethod | null {
  if (settings.mfa.forceCertificateForAll) return 'certificate';
  return user.mfa_method === 'none' ? null : user.mfa_method;
}

/** How stale a web session's last-seen mark may get before a request writes a new one. */
export const TOUCH_EVERY_MS = 5_000;

const END_CODES: Record<SessionEndReason, ErrorCode> = {
  logout: 'AUTH_SESSION_INVALID',
  idle: 'AUTH_SESSION_IDLE',
  expired: 'AUTH_SESSION_EXPIRED',
  ip_changed: 'AUTH_SESSION_IP_CHANGED',
  replaced: 'AUTH_SESSION_REPLACED',
  disabled: 'AUTH_DISABLED',
  password_reset: 'AUTH_SESSION_INVALID',
  unlocked: 'AUTH_SESSION_INVALID',
};

export class AuthService {
  private readonly store: Store;
  private readonly audit: AuditTrail;
  private readonly settings: SettingsService;
  private readonly argon2: Argon2Cost;
  private readonly clock: () => number;
  private readonly decoy: DecoyHash;
  private denylist: { source: readonly string[]; list: IpDenylist } | undefined;

  constructor(deps: AuthDeps) {
    this.store = deps.store;
    this.audit = deps.audit;
    this.settings = deps.settings;
    this.argon2 = deps.argon2;
    this.clock = deps.clock ?? Date.now;
    this.decoy = new DecoyHash(deps.argon2);
  }

  /** Is the account locked now under `settings`? (A lock past its duration is no lock.) */
  isLocked(user: Pick<UserRow, 'locked_at'>, settings: Settings, now = this.clock()): boolean {
    if (user.locked_at === null) return false;
    const minutes = settings.lockout.durationMinutes;
    return minutes === 0 || now < user.locked_at + minutes * 60_000;
  }

  /**
   * One more failed attempt (a wrong current password on change, a wrong TOTP code): at the configured
   * maximum the account locks and its sessions end. Returns the attempt count.
   */
  async countFailedAttempt(user: Pick<UserRow, 'id' | 'username'>, ip: string): Promise<number> {
    const now = this.clock();
    const attempts = await this.store.repos.users.incrementFailedAttempts(user.id, now);
    await this.lockIfOverLimit(user, ip, attempts);
    return attempts;
  }

  /**
   * Lock the account if its failures reached the maximum. The lock is one conditional statement, so of
   * several failures judged at once exactly one locks (and audits); the lock ends the account's sessions.
   */
  private async lockIfOverLimit(user: Pick<UserRow, 'id' | 'username'>, ip: string, attempts: number): Promise<void> {
    const settings = await this.settings.current();
    const now = this.clock();
    await this.store.transaction(async (repos) => {
      if (!(await repos.users.lockIfOverLimit(user.id, settings.lockout.maxAttempts, now))) return;
      await repos.webSessions.deleteForUser(user.id);
      await repos.changes.announce('user.locked', `user:${user.id}`, { userId: user.id, username: user.username });
      await this.audit.record(
        { type: 'auth.lockout', outcome: 'failure', actor: 'system', actorIp: ip, subject: user.username, code: 'AUTH_LOCKED', detail: { attempts, durationMinutes: settings.lockout.durationMinutes } },
        repos,
      );
    });
  }

  /** The throttle key of an address: IPv4 as is, IPv6 by its /64 (one host holds a whole /64). */
  static throttleSource(ip: string): string {
    const addr = normalizeIp(ip);
    if (!addr.includes(':')) return `ip:${addr}`;
    const full = expandIpv6(addr);
    return `ip:${full ? full.slice(0, 4).join(':') + '::/64' : addr}`;
  }

  /** After a failed login from `ip`: block the address when it reached the limit (audited once). */
  private async judgeSourceFailure(source: string, ip: string, settings: Settings): Promise<void> {
    const t = settings.loginThrottle;
    const until = await this.store.repos.loginThrottle.blockIfOverLimit(source, { limit: t.maxFailures, blockMs: t.blockMinutes * 60_000, now: this.clock() });
    if (until !== null) {
      await this.audit.record({
        type: 'auth.throttle',
        outcome: 'failure',
        actor: 'system',
        actorIp: ip,
        subject: source,
        code: 'AUTH_THROTTLED',
        detail: { failures: t.maxFailures, windowMinutes: t.windowMinutes, blockedUntil: new Date(until).toISOString() },
      });
    }
  }

  /** Throws AUTH_IP_DENIED if the address is on the denylist. Cheap: called on every request. */
  async checkIp(ip: string): Promise<void> {
    const settings = await this.settings.current();
    if (!this.denylist || this.denylist.source !== settings.ipDenylist) {
      this.denylist = { source: settings.ipDenylist, list: new IpDenylist(settings.ipDenylist) };
    }
    if (this.denylist.list.denies(ip)) throw new AuthError('AUTH_IP_DENIED', 'address is on the IP denylist');
  }

  private async fail(
    code: ErrorCode,
    reason: string,
    req: { username: string; ip: string; protocol?: LoginProtocol; event?: FactorEvent; method?: string },
    detail?: LoginFailureDetail,
    withChange?: (repos: Repositories) => Promise<void>,
  ): Promise<never> {
    const common = { outcome: 'failure' as const, actor: req.username.slice(0, 64), actorIp: req.ip, subject: req.username.slice(0, 128), code };
    // The web's password failures keep the shape they always had; other doors and factors name theirs.
    const named = { ...(req.protocol && req.protocol !== 'web' ? { protocol: req.protocol } : {}), ...detail };
    const event =
      req.event === 'auth.mfa'
        ? { ...common, type: 'auth.mfa' as const, detail: { method: req.method ?? 'unknown', reason, ...named } }
        : { ...common, type: 'auth.login' as const, detail: { reason, ...(req.method && req.method !== 'password' ? { method: req.method } : {}), ...named } };
    if (withChange) await this.audit.withChange(event, withChange);
    else await this.audit.record(event);
    throw new AuthError(code, reason);
  }

  /**
   * Authenticate a person by password — the same for web, SSH and RDP: denylist, the per-address throttle,
   * the account's lockout, the generic failure. `admit` runs inside the transaction that admits the login
   * (the account checked unlocked and active, its attempts reset), so what a protocol creates for the login
   * (a web session) exists only if the account was admissible at that moment. The second factor, if one is
   * due, is the caller's to ask for. `admit` may touch the store only through `repos`.
   */
  async authenticatePerson<T>(req: AuthenticationRequest, admit: (repos: Repositories, person: AuthenticatedPerson) => Promise<T>): Promise<{ person: AuthenticatedPerson; admitted: T }> {
    return this.authenticateFactor({ username: req.username, ip: req.ip, protocol: req.protocol }, this.passwordFactor(req.password), admit);
  }

  /** The password as a factor: hashed whatever the account's state; an older hash scheme replaced at admission. */
  passwordFactor(password: string, opts: { event?: FactorEvent; completes?: (person: Omit<AuthenticatedPerson, 'ip' | 'at'>) => boolean } = {}): PersonFactor {
    return {
      method: 'password',
      event: opts.event ?? 'auth.login',
      decoy: async () => void (await verifyPassword(password, await this.decoy.get())),
      ...(opts.completes ? { completes: opts.completes } : {}),
      check: async (user) => {
        if (!(await verifyPassword(password, user.password_hash))) return { ok: false, code: 'AUTH_BAD_PASSWORD', reason: 'wrong password' };
        // An older scheme or cost is replaced now that the password is known: read from the stored string, so a
        // login at the current cost pays one hash, not two. Hashed here, written with the admission.
        const seenHash = user.password_hash;
        if (!needsRehash(seenHash, this.argon2)) return { ok: true };
        let rehash: { hash: string; from: string } | undefined;
        return {
          ok: true,
          // Only for an account that is admissible: a locked one must not answer slower when the password was right.
          beforeAdmit: async () => {
            rehash = { hash: await hashPassword(password, this.argon2), from: hashScheme(seenHash) };
          },
          onAdmit: async (repos) => {
            // Only over the hash that was verified: a password reset while this login hashed is not undone.
            if (!rehash || !(await repos.users.replacePasswordHash(user.id, seenHash, rehash.hash))) return {};
            await repos.passwordHistory.replaceHash(user.id, seenHash, rehash.hash);
            return { hashUpgraded: { from: rehash.from, to: 'argon2id' } };
          },
        };
      },
    };
  }

  /**
   * Authenticate a person by one factor — a password, and on the proxies a key or a TOTP code — under the
   * rules every factor shares: denylist, the per-address throttle, the account's lockout and status, the
   * generic failure, each outcome audited. A factor is judged only inside an attempt reserved beforehand
   * (one conditional statement each for the source and the account), and the login is admitted by one
   * statement that checks the account is still active and unlocked, in the transaction that runs `admit` and
   * writes the audit event: a burst cannot pass more than the limits, and nothing between check and grant.
   */
  async authenticateFactor<T>(req: FactorRequest, factor: PersonFactor, admit: (repos: Repositories, person: AuthenticatedPerson) => Promise<T>): Promise<{ person: AuthenticatedPerson; admitted: T }> {
    const ip = normalizeIp(req.ip);
    const who = { username: req.username, ip, protocol: req.protocol, event: factor.event, method: factor.method };
    try {
      await this.checkIp(ip);
    } catch (e) {
      if (e instanceof AuthError) return this.fail(e.code, e.message, who);
      throw e;
    }
    const settings = await this.settings.current();
    const now = this.clock();
    const t = settings.loginThrottle;

    // Every check below is taken *before* the slow password hash and decided in one conditional statement
    // each: the source's attempt, then the account's. A burst cannot pass more than the limits through the
    // hash, and nothing judged later depends on a row read before an await.
    // They commit together and without an fsync (each holds the event loop): after a power loss no login is in
    // flight, so nothing rests on them, and the commit that ends every login (its admission, or its failure's
    // audit event) is durable and syncs them along. No audit event rides in this commit.
    const source = AuthService.throttleSource(ip);
    const gate = await this.store.transaction(
      async (repos) => {
        if (!(await repos.loginThrottle.reserve(source, { limit: t.maxFailures, windowMs: t.windowMinutes * 60_000, now }))) return { state: 'throttled' } as const;
        const user = req.userId !== undefined ? await repos.users.byId(req.userId) : await repos.users.byUsername(req.username.normalize('NFC'));
        if (!user) return { state: 'unknown' } as const;
        // A lock whose time has passed is lifted (and audited) first, in a durable commit of its own below.
        if (user.locked_at !== null && !this.isLocked(user, settings, now)) return { state: 'known', user, reserved: undefined } as const;
        return { state: 'known', user, reserved: await repos.users.reserveAttempt(user.id, settings.lockout.maxAttempts, now) } as const;
      },
      { durable: false },
    );
    if (gate.state === 'throttled') return this.fail('AUTH_THROTTLED', 'too many failed logins from this address', who, { source });
    const failed = async (code: ErrorCode, reason: string, detail?: LoginFailureDetail, withChange?: (repos: Repositories) => Promise<void>): Promise<never> => {
      await this.judgeSourceFailure(source, ip, settings);
      return this.fail(code, reason, who, detail, withChange);
    };
    if (gate.state === 'unknown') {
      await factor.decoy?.();
      return failed('AUTH_UNKNOWN_USER', 'no such user');
    }

    const user = gate.user;
    const reserved =
      gate.reserved ??
      (await this.store.transaction(async (repos) => {
        // A lock whose time has passed is lifted before the attempt is judged (once, however many see it).
        if (await repos.users.liftLock(user.id, user.locked_at!, now)) {
          await this.audit.record({ type: 'auth.unlock', outcome: 'info', actor: 'system', subject: user.username, detail: { reason: 'lock duration elapsed' } }, repos);
        }
        return repos.users.reserveAttempt(user.id, settings.lockout.maxAttempts, now);
      }));
    // Judged whatever the outcome, so a locked or disabled account answers in the same time.
    const verdict = await factor.check(user);
    if (!reserved) return failed('AUTH_LOCKED', 'account is locked');
    if (user.status !== 'active') {
      await this.store.repos.users.refundAttempt(user.id);
      return failed('AUTH_DISABLED', 'account is disabled');
    }
    if (!verdict.ok && verdict.refusal) {
      // A right factor the door cannot take further (a second factor it cannot ask for): no guess, no count.
      await this.store.transaction(async (repos) => {
        await repos.users.refundAttempt(user.id);
        await repos.loginThrottle.refund(source);
      }, { durable: false });
      return this.fail(verdict.code, verdict.reason, who, undefined, verdict.onFailure);
    }
    if (!verdict.ok) {
      const attempts = (await this.store.repos.users.byId(user.id))?.failed_attempts ?? 0;
      await this.lockIfOverLimit(user, ip, attempts);
      return failed(verdict.code, verdict.reason, { attempts }, verdict.onFailure);
    }

    await verdict.beforeAdmit?.();
    const mfaRequired = requiredSecondFactor(user, settings);
    const person: AuthenticatedPerson = { user, mfaRequired, ip, at: now };
    const completes = factor.completes ? factor.completes({ user, mfaRequired }) : mfaRequired === null;
    const outcome = await this.store.transaction(async (repos) => {
      // What the factor rests on must still hold now (a key still registered, a certificate still bound).
      const extra = verdict.onAdmit ? await verdict.onAdmit(repos) : {};
      if (extra === false) return { admitted: false, code: 'AUTH_INVALID', reason: `the ${factor.method} was withdrawn while it was checked` } as const;
      // The right factor gives the source its attempt back, whether or not the account is still open.
      await repos.loginThrottle.refund(source);
      // Failed attempts reset only once the login is complete: a right password with a second factor
      // still due gives back only its own reserved attempt, not the count of wrong TOTP codes before it.
      // The account must still be unlocked now, in this transaction: a parallel wrong guess may have locked it.
      // (Not thrown: the refund above still lands.)
      if (!(await repos.users.admitLogin(user.id, now, completes ? 'reset' : 'refund'))) return { admitted: false, code: 'AUTH_LOCKED', reason: `account was locked while the ${factor.method} was checked` } as const;
      const result = await admit(repos, person);
      const common = { outcome: 'success' as const, actor: user.username, actorIp: ip, subject: user.username };
      const protocol = { protocol: req.protocol };
      const fingerprint = verdict.fingerprint ? { fingerprint: verdict.fingerprint } : {};
      await this.audit.record(
        factor.event === 'auth.mfa'
          ? { ...common, type: 'auth.mfa', detail: { method: factor.method, ...protocol, ...fingerprint } }
          : { ...common, type: 'auth.login', detail: { method: factor.method, ...protocol, ...(mfaRequired && !completes ? { secondFactorDue: mfaRequired } : {}), ...fingerprint, ...extra } },
        repos,
      );
      return { admitted: true, result } as const;
    });
    if (!outcome.admitted) return this.fail(outcome.code, outcome.reason, who);
    const fresh = (await this.store.repos.users.byId(user.id))!;
    return { person: { ...person, user: fresh }, admitted: outcome.result };
  }

  /** Web login: a person authenticated by password, and the web session (the web's own business) for them. */
  async login(req: LoginRequest): Promise<LoginSuccess> {
    // Read before the admission transaction: inside it only `repos` may touch the store (one connection).
    const lifetimeMs = (await this.settings.current()).sessions.absoluteLifetimeHours * 3_600_000;
    const { person, admitted } = await this.authenticatePerson({ ...req, protocol: 'web' }, (repos, p) => this.startWebSession(repos, p, req.userAgent ?? '', lifetimeMs));
    return { ...admitted, user: person.user, passwordChangeRequired: person.user.must_change_password, mfaRequired: person.mfaRequired };
  }

  /** The one web session of an account: any earlier one ends (single active session). Returns the cookie value. */
  private async startWebSession(repos: Repositories, person: AuthenticatedPerson, userAgent: string, lifetimeMs: number): Promise<{ token: string; csrfToken: string }> {
    const token = newSessionToken();
    const row = newSessionRow({
      pendingMfa: person.mfaRequired,
      token,
      userId: person.user.id,
      ip: person.ip,
      userAgent,
      now: person.at,
      lifetimeMs,
    });
    const replaced = await repos.webSessions.deleteForUser(person.user.id);
    await repos.webSessions.insert(row);
    if (replaced > 0) {
      await this.audit.record(
        { type: 'session.end', outcome: 'info', actor: 'system', actorIp: person.ip, subject: person.user.username, code: 'AUTH_SESSION_REPLACED', detail: { reason: 'replaced', count: replaced } },
        repos,
      );
    }
    return { token, csrfToken: row.csrf_token };
  }

  /**
   * Resolve a session cookie for a request from `ip`; touches the idle timer, unless `touch: false` (a
   * long-lived connection checking that its session still stands, without the user doing anything). A session
   * found ended (idle, expired, replaced, another address, the user disabled) is deleted and its end audited.
   * Throws AuthError.
   */
  async authenticate(token: string, ip: string, options: { touch?: boolean } = {}): Promise<SessionContext> {
    const now = this.clock();
    const addr = normalizeIp(ip);
    const row = await this.store.repos.webSessions.byId(sessionIdOf(token));
    if (!row) throw new AuthError('AUTH_SESSION_INVALID', 'no such session');
    const settings = await this.settings.current();
    const user = await this.store.repos.users.byId(row.user_id);
    const problem = !user || user.status !== 'active' ? 'disabled' : sessionProblem(row, now, addr, settings.sessions.idleTimeoutMinutes * 60_000);
    if (problem) {
      await this.store.repos.webSessions.delete(row.id);
      await this.audit.record({
        type: 'session.end',
        outcome: 'info',
        actor: 'system',
        actorIp: addr,
        subject: user?.username ?? String(row.user_id),
        code: END_CODES[problem],
        detail: { reason: problem, sessionIp: row.client_ip },
      });
      throw new AuthError(END_CODES[problem], `session ended: ${problem}`);
    }
    // The idle clock counts in minutes: a write per request would cost a commit per request for nothing, so a
    // session seen in the last TOUCH_EVERY_MS keeps its mark (idle time is then off by at most that much).
    const touch = options.touch !== false && (now - row.last_seen_at >= TOUCH_EVERY_MS || now < row.last_seen_at);
    if (touch) await this.store.repos.webSessions.touch(row.id, now);
    return {
      sessionId: row.id,
      csrfToken: row.csrf_token,
      user: user!,
      passwordChangeRequired: user!.must_change_password,
      mfaRequired: row.stage === 'mfa' ? row.mfa_method : null,
      session: options.touch === false ? row : { ...row, last_seen_at: now },
    };
  }

  async logout(sessionId: string, ip: string): Promise<void> {
    const row = await this.store.repos.webSessions.byId(sessionId);
    if (!row) return;
    await this.store.repos.webSessions.delete(sessionId);
    const user = await this.store.repos.users.byId(row.user_id);
    await this.audit.record({ type: 'auth.logout', outcome: 'success', actor: user?.username ?? null, actorIp: normalizeIp(ip), subject: user?.username ?? null, detail: { reason: 'logout' } });
  }

  /**
   * The user changes their own password. The current password is re-checked (a wrong one counts toward
   * lockout), then complexity, not equal to the current one, not among the last N.
   */
  async changePassword(opts: { userId: number; currentPassword: string; newPassword: string; ip: string }): Promise<void> {
    const ip = normalizeIp(opts.ip);
    const user = await this.store.repos.users.byId(opts.userId);
    if (!user || user.status !== 'active') throw new AuthError('AUTH_SESSION_INVALID', 'no active user');
    const settings = await this.settings.current();
    const now = this.clock();
    if (!(await verifyPassword(opts.currentPassword, user.password_hash))) {
      await this.countFailedAttempt(user, ip);
      await this.audit.record({ type: 'auth.password_change', outcome: 'failure', actor: user.username, actorIp: ip, subject: user.username, code: 'AUTH_BAD_PASSWORD' });
      throw new AuthError('AUTH_BAD_PASSWORD', 'current password is wrong');
    }
    try {
      if (opts.newPassword === opts.currentPassword) throw new PolicyError('PASSWORD_SAME_AS_CURRENT', 'the new password must differ from the current one');
      checkComplexity(opts.newPassword, user.username, settings.passwordPolicy);
      const recent = await this.store.repos.passwordHistory.recent(user.id, settings.passwordPolicy.historyCount);
      if (await isInHistory(opts.newPassword, recent)) {
        throw new PolicyError('PASSWORD_REUSED', `the password must differ from the last ${settings.passwordPolicy.historyCount}`);
      }
    } catch (e) {
      if (e instanceof WardenError) {
        await this.audit.record({ type: 'auth.password_change', outcome: 'failure', actor: user.username, actorIp: ip, subject: user.username, code: e.code });
      }
      throw e;
    }
    const hash = await hashPassword(opts.newPassword, this.argon2);
    await this.audit.withChange({ type: 'auth.password_change', outcome: 'success', actor: user.username, actorIp: ip, subject: user.username }, async (repos) => {
      await repos.users.update(user.id, { password_hash: hash, password_changed_at: now, must_change_password: false, failed_attempts: 0, updated_at: now });
      await repos.passwordHistory.add(user.id, hash, now);
    });
  }

  /**
   * A proxy refused an attempt before any account could be looked up: the login name is not one it can
   * parse (SSH's "user:credential@device" grammar). Audited as a failed first factor and counted against the
   * source's throttle like an unknown user, so garbage names are neither invisible nor free to try. The name
   * reaches the trail printable and cut short; its full length goes in the reason.
   */
  async refuseUnparsableName(req: { name: string; ip: string; protocol: Exclude<LoginProtocol, 'web'>; method: string }): Promise<void> {
    const ip = normalizeIp(req.ip);
    const settings = await this.settings.current();
    const t = settings.loginThrottle;
    const source = AuthService.throttleSource(ip);
    // Control characters would reach syslog and terminals reading the trail: each becomes '?'.
    const shown = [...req.name.slice(0, 64)].map((ch) => (/^[\x20-\x7e]$/.test(ch) ? ch : '?')).join('');
    const who = { username: shown, ip, protocol: req.protocol, method: req.method };
    const reserved = await this.store.transaction((repos) => repos.loginThrottle.reserve(source, { limit: t.maxFailures, windowMs: t.windowMinutes * 60_000, now: this.clock() }), { durable: false });
    try {
      if (!reserved) return await this.fail('AUTH_THROTTLED', 'too many failed logins from this address', who, { source });
      await this.judgeSourceFailure(source, ip, settings);
      await this.fail('AUTH_INVALID', `login name cannot be parsed (${req.name.length} characters)`, who);
    } catch (e) {
      if (!(e instanceof AuthError)) throw e;
    }
  }

  /** Drop sessions past their lifetime or idle timeout (a periodic sweep; validation checks too). */
  async sweepSessions(): Promise<number> {
    const settings = await this.settings.current();
    const now = this.clock();
    return this.store.repos.webSessions.deleteExpired(now, now - settings.sessions.idleTimeoutMinutes * 60_000);
  }
}
