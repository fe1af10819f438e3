// The second step of web login: a session opened by the right password stays in stage 'mfa' until the
// factor the account requires (certificate, TOTP or Duo) is presented; then it becomes 'complete'.
// Every failure is an audit row with its precise code; the caller shows only the generic message.
import type { Store, MfaMethod, UserRow } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { PresentedCertificate } from '../pki/index.js';
import { AuthError, isWardenError } from '../errors/index.js';
import type { AuthService, SessionContext } from './auth-service.js';
import type { CertificateLogin } from './certificate-login.js';
import type { TotpService, TotpEnrolment } from './totp.js';
import type { DuoService } from './duo.js';
import { normalizeIp } from '../net/index.js';

export class SecondFactorService {
  constructor(
    private readonly deps: {
      store: Store;
      audit: AuditTrail;
      auth: AuthService;
      certificates: CertificateLogin;
      totp: TotpService;
      duo: DuoService;
    },
  ) {}

  private due(ctx: SessionContext, method: MfaMethod): void {
    if (ctx.mfaRequired !== method) throw new AuthError('AUTH_SESSION_INVALID', `no ${method} second factor is due in this session`);
  }

  private async complete(ctx: SessionContext, method: MfaMethod, certificateFingerprint: string | null, ip: string): Promise<void> {
    await this.deps.store.repos.webSessions.update(ctx.sessionId, { stage: 'complete', mfa_method: method, certificate_fingerprint: certificateFingerprint, mfa_state: null });
    await this.deps.store.repos.users.update(ctx.user.id, { failed_attempts: 0 });
    if (method !== 'certificate') {
      // Certificate login writes its own rows (with the usage log); the others are recorded here.
      await this.deps.audit.record({ type: 'auth.mfa', outcome: 'success', actor: ctx.user.username, actorIp: ip, subject: ctx.user.username, detail: { method } });
    }
  }

  private async failed(user: UserRow, ip: string, method: MfaMethod, e: unknown, countsAsAttempt: boolean): Promise<never> {
    const code = isWardenError(e) ? e.code : 'INTERNAL';
    await this.deps.audit.record({ type: 'auth.mfa', outcome: 'failure', actor: user.username, actorIp: ip, subject: user.username, code, detail: { method, reason: (e as Error).message } });
    if (countsAsAttempt) await this.deps.auth.countFailedAttempt(user, ip);
    throw e;
  }

  /** The certificate the client presented in this request's TLS handshake. */
  async withCertificate(ctx: SessionContext, presented: PresentedCertificate, ipRaw: string): Promise<{ bound: boolean }> {
    this.due(ctx, 'certificate');
    const ip = normalizeIp(ipRaw);
    // CertificateLogin writes the failure rows itself (audit and usage log).
    const r = await this.deps.certificates.verify(ctx.user, presented, ip);
    await this.complete(ctx, 'certificate', r.fingerprint, ip);
    return { bound: r.bound };
  }

  /** TOTP enrolment for an account that has none yet (first login after TOTP was required). */
  async totpEnrolment(ctx: SessionContext): Promise<{ enrolled: true } | ({ enrolled: false } & TotpEnrolment)> {
    this.due(ctx, 'totp');
    if (await this.deps.totp.isEnrolled(ctx.user.id)) return { enrolled: true };
    return { enrolled: false, ...(await this.deps.totp.enrol(ctx.user)) };
  }

  async withTotp(ctx: SessionContext, code: string, ipRaw: string): Promise<void> {
    this.due(ctx, 'totp');
    const ip = normalizeIp(ipRaw);
    try {
      await this.deps.totp.check(ctx.user, code);
    } catch (e) {
      // Six digits can be guessed: every wrong code counts toward lockout.
      return this.failed(ctx.user, ip, 'totp', e, true);
    }
    await this.complete(ctx, 'totp', null, ip);
  }

  async duoStart(ctx: SessionContext, redirectUrl: string, ipRaw: string): Promise<{ url: string }> {
    this.due(ctx, 'duo');
    const ip = normalizeIp(ipRaw);
    try {
      const { url, state } = await this.deps.duo.start(ctx.user, redirectUrl);
      await this.deps.store.repos.webSessions.update(ctx.sessionId, { mfa_state: state });
      return { url };
    } catch (e) {
      return this.failed(ctx.user, ip, 'duo', e, false);
    }
  }

  async duoCallback(ctx: SessionContext, params: { code: string; state: string }, redirectUrl: string, ipRaw: string): Promise<void> {
    this.due(ctx, 'duo');
    const ip = normalizeIp(ipRaw);
    try {
      await this.deps.duo.finish(ctx.user, { code: params.code, state: params.state, expectedState: ctx.session.mfa_state, redirectUrl });
    } catch (e) {
      // A state is good for one try.
      await this.deps.store.repos.webSessions.update(ctx.sessionId, { mfa_state: null });
      return this.failed(ctx.user, ip, 'duo', e, false);
    }
    await this.complete(ctx, 'duo', null, ip);
  }
}
