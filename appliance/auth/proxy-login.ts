// Authenticating a person on a proxy that speaks its own protocol (SSH): one object per connection, driven
// from the protocol's authentication callbacks, over the same rules as the web login (AuthService.authenticateFactor:
// denylist, throttle, lockout, disabled accounts, the generic failure, every outcome audited with protocol
// 'ssh'). The proxy learns only failure, "continue with this factor", or success with who and how.
//
// What an account needs on SSH (required = its second factor under the settings; sole = ssh.allowPublicKeyAsSoleFactor):
//   none         password, or a registered key
//   totp         password + TOTP, or registered key + TOTP (keyboard-interactive); the key alone when sole
//   certificate  password + the bound certificate's key (smart card), or registered key + it; either key alone when sole
//                (the forced-certificate gate still lets only the card's key open sessions)
//   duo          refused (Duo's Universal Prompt needs a browser); a registered key alone when sole
// An account that must change its password first is refused until it has, on the web.
import type { MfaMethod, Repositories, Store, UserRow } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { SettingsService } from '../settings/index.js';
import { AuthError, type ErrorCode } from '../errors/index.js';
import { requiredSecondFactor, type AuthService, type AuthenticatedPerson, type FactorVerdict, type LoginProtocol, type PersonFactor } from './auth-service.js';
import type { CertificateLogin } from './certificate-login.js';
import type { TotpService } from './totp.js';
import { sshFingerprint, verifySshSignature, type SshSignature } from './ssh-public-key.js';

export type ProxyFactor = 'password' | 'publickey' | 'certificate' | 'totp';
/** What the proxy should ask for next: SSH 'password' or 'keyboard-interactive' for password and TOTP, 'publickey' for the card's key. */
export type ProxyDue = 'password' | 'totp' | 'certificate';
export type ProxyAuthMethod = 'password' | 'password+totp' | 'publickey' | 'publickey+totp' | 'publickey+certificate' | 'certificate' | 'password+certificate';

export interface ProxyAuthentication {
  userId: number;
  username: string;
  method: ProxyAuthMethod;
  /** The X.509 fingerprint of the bound certificate whose key signed the login (the forced-certificate gate reads it). */
  certificateFingerprint?: string;
  /** The SHA256 fingerprint of the registered key that signed the login. */
  keyFingerprint?: string;
}

export type ProxyStep =
  | {
      outcome: 'failure';
      /**
       * Only after a right factor the door cannot finish with (Duo, a password to change first, TOTP not
       * enrolled): a line the proxy may show, pointing to the web portal. Never set for a wrong factor.
       */
      notice?: string;
    }
  | { outcome: 'continue'; due: ProxyDue }
  | { outcome: 'success'; authentication: ProxyAuthentication };

/** An SSH public key as the client offered it: the algorithm name and the wire-format blob. */
export interface OfferedKey {
  algo: string;
  data: Buffer;
}

/** A connection that keeps failing is cut off here too, whatever the proxy's own limit: nothing more is judged. */
export const MAX_STEPS_PER_CONNECTION = 10;

const NOTICE = {
  duo: "This account's second factor (Duo) works only in the web portal.",
  passwordChange: 'This account must change its password in the web portal first.',
  totpEnrol: 'This account must enrol its authenticator app in the web portal first.',
} as const;

/** Who is logging in, from where, through which door (the web has its own login). */
export interface ProxyLoginRequest {
  username: string;
  ip: string;
  protocol: Exclude<LoginProtocol, 'web'>;
}

export interface ProxyLoginDeps {
  store: Store;
  audit: AuditTrail;
  settings: SettingsService;
  auth: AuthService;
  certificates: CertificateLogin;
  totp: TotpService;
  clock?: () => number;
}

export class ProxyLoginService {
  constructor(private readonly deps: ProxyLoginDeps) {}

  /** One authentication, for one connection: call its steps from the protocol's callbacks, one at a time. */
  begin(req: ProxyLoginRequest): ProxyLogin {
    return new ProxyLogin(this.deps, req);
  }
}

/** Is a login that presented `factors` complete for an account that needs `required`? */
function complete(factors: ReadonlySet<ProxyFactor>, required: MfaMethod | null, sole: boolean): boolean {
  const first = factors.has('password') || factors.has('publickey');
  switch (required) {
    case null:
      return first;
    case 'totp':
      return (first && factors.has('totp')) || (sole && factors.has('publickey'));
    case 'certificate':
      return (factors.has('certificate') && (first || sole)) || (sole && factors.has('publickey'));
    case 'duo':
      return sole && factors.has('publickey');
    default:
      return false;
  }
}

/** What to ask next after `factors`, or a refusal when this door cannot ask for it. */
function next(factors: ReadonlySet<ProxyFactor>, required: MfaMethod | null): ProxyDue | 'duo' {
  if (required === 'certificate') return factors.has('certificate') ? 'password' : 'certificate';
  if (required === 'duo') return 'duo';
  return 'totp';
}

function methodOf(factors: ReadonlySet<ProxyFactor>): ProxyAuthMethod {
  const first = factors.has('password') ? 'password' : factors.has('publickey') ? 'publickey' : undefined;
  const second = factors.has('totp') ? 'totp' : factors.has('certificate') ? 'certificate' : undefined;
  return (first && second ? `${first}+${second}` : (first ?? second)) as ProxyAuthMethod;
}

export class ProxyLogin {
  private readonly factors = new Set<ProxyFactor>();
  private userId: number | undefined;
  private username: string;
  private certificateFingerprint: string | undefined;
  private keyFingerprint: string | undefined;
  private authenticated: ProxyAuthentication | undefined;
  private steps = 0;
  private busy = false;

  constructor(
    private readonly deps: ProxyLoginDeps,
    private readonly req: ProxyLoginRequest,
  ) {
    this.username = req.username;
  }

  /** The person, once every factor the account needs was presented; throws AUTH_INVALID before. */
  result(): ProxyAuthentication {
    if (!this.authenticated) throw new AuthError('AUTH_INVALID', 'the login is not complete');
    return this.authenticated;
  }

  /** What is still due (after a 'continue' step), or undefined before the first factor and once complete. */
  get due(): ProxyDue | undefined {
    return this.pendingDue;
  }
  private pendingDue: ProxyDue | undefined;

  /** Can `factor` be presented now (before any factor: a first one; after, only what is due)? */
  private mayPresent(factor: ProxyFactor): boolean {
    if (this.authenticated) return false;
    if (this.factors.size === 0) return factor !== 'totp';
    if (this.pendingDue === 'password') return factor === 'password';
    return factor === this.pendingDue;
  }

  async password(password: string): Promise<ProxyStep> {
    if (!this.mayPresent('password')) return this.outOfTurn();
    return this.step('password', (sole) => this.deps.auth.passwordFactor(password, { event: this.eventFor(), completes: (p) => this.completes('password', p, sole) }));
  }

  async totp(code: string): Promise<ProxyStep> {
    if (!this.mayPresent('totp')) return this.outOfTurn();
    return this.step('totp', (sole) => ({
      method: 'totp',
      event: 'auth.mfa',
      completes: (p) => this.completes('totp', p, sole),
      check: async (user): Promise<FactorVerdict> => {
        try {
          await this.deps.totp.check(user, code);
          return { ok: true };
        } catch (e) {
          if (e instanceof AuthError) return { ok: false, code: e.code, reason: e.message };
          throw e;
        }
      },
    }));
  }

  /**
   * A public key. Without `signed`, the client asks whether this key would do (SSH's query, before it signs):
   * the answer counts for nothing, and clients try several keys; 'acceptable' means only "send a signature"
   * (ssh2: `ctx.accept()` for a request without a signature). With `signed` (ssh2's `ctx.blob`,
   * `ctx.signature`, `ctx.hashAlgo`), the signature is verified here and the key judged as a factor: only a
   * 'success' or 'continue' step logs anything in.
   */
  async publicKey(key: OfferedKey, signed?: SshSignature): Promise<ProxyStep | { outcome: 'acceptable' }> {
    const kind = await this.keyKind(key.data);
    if (!signed) return kind ? { outcome: 'acceptable' } : { outcome: 'failure' };
    const signatureOk = verifySshSignature(key.data, signed);
    // An unusable key or a bad signature is a failed attempt like a wrong password; it is judged as one so the
    // lockout and throttle see it (which factor it would have been does not matter: the verdict is a failure).
    const factor: ProxyFactor = kind ?? (this.mayPresent('publickey') ? 'publickey' : 'certificate');
    if (!this.mayPresent(factor)) return this.outOfTurn();
    const fingerprint = sshFingerprint(key.data);
    return this.step(factor, (sole) => ({
      method: factor,
      event: this.eventFor(),
      completes: (p) => this.completes(factor, p, sole),
      check: async (user): Promise<FactorVerdict> => {
        if (!signatureOk) return { ok: false, code: 'AUTH_SIGNATURE_INVALID', reason: `the signature does not verify with key ${fingerprint}` };
        if (factor === 'certificate') return this.deps.certificates.keyVerdict(user, this.req.ip, key.data);
        const registered = await this.deps.store.repos.sshKeys.byFingerprint(user.id, fingerprint);
        if (!registered || !Buffer.from(registered.public_key, 'base64').equals(key.data)) return { ok: false, code: 'AUTH_KEY_UNKNOWN', reason: `key ${fingerprint} is not registered for the account` };
        return { ok: true, fingerprint, onAdmit: async (repos) => ((await repos.sshKeys.markUsed(user.id, fingerprint, (this.deps.clock ?? Date.now)())) ? {} : false) };
      },
    }));
  }

  /** Which factor a key would be for this login now: a registered key, the bound certificate's key, or none. */
  private async keyKind(blob: Buffer): Promise<'publickey' | 'certificate' | undefined> {
    if (this.authenticated) return undefined;
    const user = this.userId !== undefined ? await this.deps.store.repos.users.byId(this.userId) : await this.deps.store.repos.users.byUsername(this.req.username.normalize('NFC'));
    if (!user) return undefined;
    const settings = await this.deps.settings.current();
    if (this.mayPresent('publickey')) {
      const row = await this.deps.store.repos.sshKeys.byFingerprint(user.id, sshFingerprint(blob));
      if (row && Buffer.from(row.public_key, 'base64').equals(blob)) return 'publickey';
    }
    if (this.mayPresent('certificate') && requiredSecondFactor(user, settings) === 'certificate') {
      const bound = await this.deps.certificates.boundKeyBlob(user.id);
      if (bound?.blob.equals(blob)) return 'certificate';
    }
    return undefined;
  }

  private eventFor(): 'auth.login' | 'auth.mfa' {
    return this.factors.size === 0 ? 'auth.login' : 'auth.mfa';
  }

  private completes(factor: ProxyFactor, person: Omit<AuthenticatedPerson, 'ip' | 'at'>, sole: boolean): boolean {
    return complete(new Set([...this.factors, factor]), person.mfaRequired, sole);
  }

  private outOfTurn(): ProxyStep {
    // Not a factor this login can take now (e.g. a TOTP code before the password): nothing judged, nothing counted.
    return { outcome: 'failure' };
  }

  /**
   * Judge one factor through AuthService.authenticateFactor, with this door's own refusals folded into the
   * verdict (so they are decided on the account as read under the reserved attempt), and the login's
   * completion audited in the transaction that admits it.
   */
  private async step(factor: ProxyFactor, make: (sole: boolean) => PersonFactor): Promise<ProxyStep> {
    if (this.busy) throw new AuthError('AUTH_INVALID', 'one authentication step at a time');
    if (++this.steps > MAX_STEPS_PER_CONNECTION) return { outcome: 'failure' };
    this.busy = true;
    try {
      const settings = await this.deps.settings.current();
      const sole = settings.ssh.allowPublicKeyAsSoleFactor;
      const inner = make(sole);
      let notice: string | undefined;
      const refuse = (code: ErrorCode, reason: string, shown: string): FactorVerdict => {
        notice = shown;
        return { ok: false, code, reason, refusal: true };
      };
      const wrapped: PersonFactor = {
        ...inner,
        check: async (user: UserRow): Promise<FactorVerdict> => {
          const verdict = await inner.check(user);
          if (!verdict.ok) return verdict;
          const required = requiredSecondFactor(user, settings);
          const factors = new Set([...this.factors, factor]);
          if (user.must_change_password) return refuse('AUTH_PASSWORD_CHANGE_REQUIRED', `the password must be changed on the web before an ${this.req.protocol.toUpperCase()} login`, NOTICE.passwordChange);
          if (factor === 'certificate' && required !== 'certificate') return refuse('AUTH_FACTOR_UNAVAILABLE', "the certificate's key is not this account's second factor", '');
          if (complete(factors, required, sole)) return verdict;
          const due = next(factors, required);
          if (due === 'duo') return refuse('AUTH_FACTOR_UNAVAILABLE', `the Duo second factor needs a browser: no ${this.req.protocol.toUpperCase()} login for this account`, NOTICE.duo);
          if (due === 'totp' && !(await this.deps.totp.isEnrolled(user.id))) return refuse('MFA_TOTP_NOT_ENROLLED', 'no TOTP authenticator is enrolled yet (enrolment happens at a web login)', NOTICE.totpEnrol);
          return verdict;
        },
      };
      let fingerprint: string | undefined;
      const { person } = await this.deps.auth.authenticateFactor(
        { username: this.username, ip: this.req.ip, protocol: this.req.protocol, ...(this.userId !== undefined ? { userId: this.userId } : {}) },
        {
          ...wrapped,
          check: async (user) => {
            const v = await wrapped.check(user);
            if (v.ok) fingerprint = v.fingerprint;
            return v;
          },
        },
        async (repos: Repositories, p: AuthenticatedPerson) => {
          const factors = new Set([...this.factors, factor]);
          if (!complete(factors, p.mfaRequired, sole)) return;
          const certificateFingerprint = factor === 'certificate' ? fingerprint : this.certificateFingerprint;
          const keyFingerprint = factor === 'publickey' ? fingerprint : this.keyFingerprint;
          await this.deps.audit.record(
            {
              type: 'auth.proxy_login',
              outcome: 'success',
              actor: p.user.username,
              actorIp: p.ip,
              subject: p.user.username,
              detail: { protocol: this.req.protocol, method: methodOf(factors), ...(certificateFingerprint ? { certificateFingerprint } : {}), ...(keyFingerprint ? { keyFingerprint } : {}) },
            },
            repos,
          );
        },
      ).catch((e: unknown) => {
        if (e instanceof AuthError) return { person: undefined, failure: e };
        throw e;
      });
      if (!person) return notice ? { outcome: 'failure', notice } : { outcome: 'failure' };

      this.factors.add(factor);
      this.userId = person.user.id;
      this.username = person.user.username;
      if (factor === 'certificate') this.certificateFingerprint = fingerprint;
      if (factor === 'publickey') this.keyFingerprint = fingerprint;
      if (complete(this.factors, person.mfaRequired, sole)) {
        this.pendingDue = undefined;
        this.authenticated = {
          userId: person.user.id,
          username: person.user.username,
          method: methodOf(this.factors),
          ...(this.certificateFingerprint ? { certificateFingerprint: this.certificateFingerprint } : {}),
          ...(this.keyFingerprint ? { keyFingerprint: this.keyFingerprint } : {}),
        };
        return { outcome: 'success', authentication: this.authenticated };
      }
      const due = next(this.factors, person.mfaRequired);
      // 'duo' was refused in the verdict above; a settings change in between is refused here.
      if (due === 'duo') return { outcome: 'failure' };
      this.pendingDue = due;
      return { outcome: 'continue', due };
    } finally {
      this.busy = false;
    }
  }
}
