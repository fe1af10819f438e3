// Certificate login as a second factor: validate the presented certificate against the trust store and the
// account, bind the first accepted certificate, log every use, failure, bind and revoke. Also the one
// decision the proxies ask: may this user open a proxy session under "force authentication with certificate"?
import type { X509Certificate } from 'node:crypto';
import type { Store, UserCertificateRow, Repositories, UserRow } from '../store/index.js';
import { csvField, type AuditTrail } from '../audit/index.js';
import type { SettingsService } from '../settings/index.js';
import { type TrustStore, type PresentedCertificate, validateClientCertificate, dn, parseCertificate, parseCertificates } from '../pki/index.js';
import { AuthError, NotFoundError, type ErrorCode } from '../errors/index.js';
import { normalizeIp } from '../net/index.js';
import type { FactorVerdict } from './auth-service.js';
import { sshBlobOfCertificate } from './ssh-public-key.js';

/** How a proxy session's person authenticated (what the forced-certificate gate judges). */
export interface ProxyAuthenticationProof {
  method: string;
  /** The X.509 fingerprint of the certificate whose key signed the login, when one did. */
  certificateFingerprint?: string;
}

export interface CertificateBindingView {
  id: number;
  userId: number;
  username: string;
  subject: string;
  issuer: string;
  serial: string;
  fingerprint: string;
  email: string;
  notBefore: string;
  notAfter: string;
  status: 'bound' | 'revoked';
  boundAt: string;
  firstUsedAt: string;
  lastUsedAt: string;
  revokedAt: string | null;
  revokedBy: string | null;
}

export interface CertificateUsageEntry {
  at: string;
  event: 'bind' | 'use' | 'failure' | 'revoke';
  username: string | null;
  subject: string | null;
  fingerprint: string | null;
  code: string | null;
  ip: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function bindingView(r: UserCertificateRow & { username: string }): CertificateBindingView {
  return {
    id: r.id,
    userId: r.user_id,
    username: r.username,
    subject: r.subject,
    issuer: r.issuer,
    serial: r.serial,
    fingerprint: r.fingerprint,
    email: r.email,
    notBefore: iso(r.not_before)!,
    notAfter: iso(r.not_after)!,
    status: r.status,
    boundAt: iso(r.bound_at)!,
    firstUsedAt: iso(r.first_used_at)!,
    lastUsedAt: iso(r.last_used_at)!,
    revokedAt: iso(r.revoked_at),
    revokedBy: r.revoked_by,
  };
}

/**
 * The binding's certificate as a proxy presents it to the validator: the leaf, and the intermediates the client's
 * browser sent at the last web login (SSH carries neither; the trust store supplies the rest of the chain).
 */
function presentedOf(bound: Pick<UserCertificateRow, 'pem' | 'chain_pem'>): { cert: X509Certificate; presented: PresentedCertificate } {
  const cert = parseCertificate(Buffer.from(bound.pem));
  return { cert, presented: { leaf: cert.raw, chain: bound.chain_pem ? parseCertificates(bound.chain_pem).map((c) => c.raw) : [] } };
}

export class CertificateLogin {
  constructor(
    private readonly deps: { store: Store; audit: AuditTrail; settings: SettingsService; trust: TrustStore; clock?: () => number },
  ) {}

  private now(): number {
    return (this.deps.clock ?? Date.now)();
  }

  /**
   * Check `presented` for `user`; on success bind it if the account has no bound certificate yet and no
   * account ever held this certificate (a certificate is bound to one account, and once revoked, to none).
   * Throws AuthError with the precise reason code (the caller shows only the generic message).
   */
  async verify(user: UserRow, presented: PresentedCertificate, ipRaw: string): Promise<{ bindingId: number; fingerprint: string; bound: boolean }> {
    const ip = normalizeIp(ipRaw);
    const settings = await this.deps.settings.current();
    const trust = await this.deps.trust.snapshot();
    const bound = await this.deps.store.repos.userCertificates.boundFor(user.id);
    const now = this.now();
    const result = validateClientCertificate(presented, trust, {
      now,
      checkEmail: settings.mfa.checkCertificateEmail,
      accountEmail: user.email,
      bound: bound ? { fingerprint: bound.fingerprint, issuer: bound.issuer, serial: bound.serial } : undefined,
    });
    if (!result.ok) {
      await this.failure(user, ip, result.code, result.reason, result.cert ? { fingerprint: result.cert.fingerprint256, subject: dn(result.cert.subject) } : undefined);
      throw new AuthError(result.code, result.reason);
    }
    const { cert, identity } = result;
    // What this login's chain needed from the client: a proxy, which never sees the chain, builds it with these.
    const chainPem = result.intermediates.length > 0 ? result.intermediates.map((c) => c.toString().trim() + '\n').join('') : null;
    // Whether this certificate may bind, and the binding, are decided inside one transaction (and, for the
    // fingerprint, by the unique claim the insert makes): a parallel login cannot slip between them.
    const outcome = await this.deps.store.transaction(async (repos): Promise<{ refused: { code: ErrorCode; reason: string } } | { bindingId: number; newlyBound: boolean }> => {
      let bindingId: number;
      let newlyBound = false;
      const current = await repos.userCertificates.boundFor(user.id);
      if (current && current.fingerprint !== identity.fingerprint) {
        // Another login of this account bound a different certificate since the validation above.
        return { refused: { code: 'CERT_NOT_BOUND_CERT', reason: 'this is not the certificate bound to the account' } };
      }
      if (!current) {
        const claim = await repos.userCertificates.claimOf(identity.fingerprint);
        // A certificate whose binding an administrator revoked (a lost card) never binds again, anywhere.
        if (claim?.status === 'revoked') {
          return { refused: { code: 'CERT_REVOKED', reason: `this certificate's binding (${claim.id}, account ${claim.username}) was revoked by ${claim.revoked_by ?? 'an administrator'}` } };
        }
        if (claim) return { refused: { code: 'CERT_BOUND_ELSEWHERE', reason: `this certificate is bound to another account (${claim.username}, binding ${claim.id})` } };
        const inserted = await repos.userCertificates.insert({
          user_id: user.id,
          fingerprint: identity.fingerprint,
          issuer: identity.issuer,
          serial: identity.serial,
          subject: result.subject.slice(0, 1024),
          email: result.email.slice(0, 255),
          not_before: Date.parse(cert.validFrom),
          not_after: Date.parse(cert.validTo),
          pem: cert.toString(),
          chain_pem: chainPem,
          status: 'bound',
          bound_at: now,
          first_used_at: now,
          last_used_at: now,
          revoked_at: null,
          revoked_by: null,
        });
        // Claimed by another writer (another process) between the read above and this insert.
        if (inserted === undefined) return { refused: { code: 'CERT_BOUND_ELSEWHERE', reason: 'this certificate was bound to another account at the same moment' } };
        bindingId = inserted;
        newlyBound = true;
        await this.event(repos, { event: 'bind', user, ip, fingerprint: identity.fingerprint, subject: result.subject });
      } else {
        bindingId = current.id;
        await repos.userCertificates.update(current.id, { last_used_at: now, chain_pem: chainPem });
      }
      await this.event(repos, { event: 'use', user, ip, fingerprint: identity.fingerprint, subject: result.subject });
      if (newlyBound) {
        await this.deps.audit.record(
          { type: 'pki.cert_bind', outcome: 'success', actor: user.username, actorIp: ip, subject: user.username, detail: { fingerprint: identity.fingerprint, certSubject: result.subject } },
          repos,
        );
      }
      await this.deps.audit.record(
        { type: 'auth.mfa', outcome: 'success', actor: user.username, actorIp: ip, subject: user.username, detail: { method: 'certificate', fingerprint: identity.fingerprint } },
        repos,
      );
      return { bindingId, newlyBound };
    });
    if ('refused' in outcome) {
      await this.failure(user, ip, outcome.refused.code, outcome.refused.reason, { fingerprint: identity.fingerprint, subject: result.subject });
      throw new AuthError(outcome.refused.code, outcome.refused.reason);
    }
    return { bindingId: outcome.bindingId, fingerprint: identity.fingerprint, bound: outcome.newlyBound };
  }

  private async failure(user: UserRow, ip: string, code: ErrorCode, reason: string, cert?: { fingerprint: string; subject: string }): Promise<void> {
    await this.deps.audit.withChange(
      { type: 'auth.mfa', outcome: 'failure', actor: user.username, actorIp: ip, subject: user.username, code, detail: { method: 'certificate', reason, ...(cert ? { fingerprint: cert.fingerprint } : {}) } },
      (repos) => this.event(repos, { event: 'failure', user, ip, fingerprint: cert?.fingerprint ?? null, subject: cert?.subject ?? null, code }),
    );
  }

  private async event(
    repos: Repositories,
    e: { event: 'bind' | 'use' | 'failure' | 'revoke'; user: Pick<UserRow, 'id' | 'username'>; ip: string | null; fingerprint: string | null; subject: string | null; code?: string },
  ): Promise<void> {
    await repos.certificateEvents.insert({
      ts: this.now(),
      event: e.event,
      user_id: e.user.id,
      username: e.user.username,
      fingerprint: e.fingerprint,
      subject: e.subject === null ? null : e.subject.slice(0, 1024),
      code: e.code ?? null,
      ip: e.ip,
    });
  }

  /**
   * The SSH wire-format blob of the key of the certificate bound to `userId` now, if there is one and SSH can
   * carry its key: what a client offers when that key is on a smart card (`ssh -I libpkcs11.so`).
   */
  async boundKeyBlob(userId: number): Promise<{ blob: Buffer; fingerprint: string } | undefined> {
    const bound = await this.deps.store.repos.userCertificates.boundFor(userId);
    if (!bound) return undefined;
    const blob = sshBlobOfCertificate(parseCertificate(Buffer.from(bound.pem)));
    return blob ? { blob, fingerprint: bound.fingerprint } : undefined;
  }

  /**
   * The bound certificate's key signed a login on a proxy: judge the certificate with the web's validator
   * (validity, CA active and valid, CRL, e-mail when checked, the binding) now. The verdict's admission
   * re-checks the binding in the admitting transaction and writes the usage log; a failure writes it too.
   * Only a bound certificate counts: SSH carries the key, not the certificate, so binding happens on the web.
   */
  async keyVerdict(user: UserRow, ipRaw: string, offered: Buffer): Promise<FactorVerdict> {
    const ip = normalizeIp(ipRaw);
    const settings = await this.deps.settings.current();
    const trust = await this.deps.trust.snapshot();
    const bound = await this.deps.store.repos.userCertificates.boundFor(user.id);
    const refuse = (code: ErrorCode, reason: string, cert?: { fingerprint: string; subject: string }): FactorVerdict => ({
      ok: false,
      code,
      reason,
      onFailure: (repos) => this.event(repos, { event: 'failure', user, ip, fingerprint: cert?.fingerprint ?? null, subject: cert?.subject ?? null, code }),
    });
    if (!bound) return refuse('CERT_MISSING', 'the account has no bound certificate (bind one at a web login first)');
    const { cert, presented } = presentedOf(bound);
    const blob = sshBlobOfCertificate(cert);
    if (!blob || !blob.equals(offered)) return refuse('AUTH_KEY_UNKNOWN', "the key is not the bound certificate's", { fingerprint: bound.fingerprint, subject: bound.subject });
    const result = validateClientCertificate(presented, trust, {
      now: this.now(),
      checkEmail: settings.mfa.checkCertificateEmail,
      accountEmail: user.email,
      bound: { fingerprint: bound.fingerprint, issuer: bound.issuer, serial: bound.serial },
    });
    if (!result.ok) return refuse(result.code, result.reason, { fingerprint: bound.fingerprint, subject: bound.subject });
    const fingerprint = result.identity.fingerprint;
    return {
      ok: true,
      fingerprint,
      onAdmit: async (repos) => {
        // Revoked (or replaced) while the signature was judged: the key no longer speaks for the account.
        const current = await repos.userCertificates.boundFor(user.id);
        if (!current || current.fingerprint !== fingerprint) return false;
        await repos.userCertificates.update(current.id, { last_used_at: this.now() });
        await this.event(repos, { event: 'use', user, ip, fingerprint, subject: result.subject });
        return {};
      },
    };
  }

  async list(filter: { userId?: number; status?: 'bound' | 'revoked' } = {}): Promise<CertificateBindingView[]> {
    return (await this.deps.store.repos.userCertificates.list(filter)).map(bindingView);
  }

  /** One page of the bindings (newest id last, as `list`), with how many match in all. */
  async page(filter: { userId?: number; status?: 'bound' | 'revoked' }, page: { limit: number; offset: number }): Promise<{ certificates: CertificateBindingView[]; total: number }> {
    const repo = this.deps.store.repos.userCertificates;
    const [rows, total] = await Promise.all([repo.list(filter, page), repo.count(filter)]);
    return { certificates: rows.map(bindingView), total };
  }

  /**
   * Revoke a binding: the certificate stops working and the user binds a new one at the next login. The
   * account stays active; web sessions that were authenticated with this certificate end.
   */
  async revoke(id: number, actor: { username: string; ip: string | null }): Promise<CertificateBindingView> {
    const binding = await this.deps.store.repos.userCertificates.byId(id);
    if (!binding) throw new NotFoundError('certificate binding');
    const user = await this.deps.store.repos.users.byId(binding.user_id);
    if (!user) throw new NotFoundError('user');
    if (binding.status === 'bound') {
      await this.deps.audit.withChange(
        { type: 'pki.cert_revoke', outcome: 'success', actor: actor.username, actorIp: actor.ip, subject: user.username, detail: { bindingId: id, fingerprint: binding.fingerprint } },
        async (repos) => {
          await repos.userCertificates.update(id, { status: 'revoked', revoked_at: this.now(), revoked_by: actor.username });
          const sessions = await repos.webSessions.forUser(user.id);
          for (const s of sessions) if (s.certificate_fingerprint === binding.fingerprint) await repos.webSessions.delete(s.id);
          await this.event(repos, { event: 'revoke', user, ip: actor.ip, fingerprint: binding.fingerprint, subject: binding.subject });
        },
      );
    }
    return (await this.list({ userId: user.id })).find((b) => b.id === id)!;
  }

  async usage(filter: { userId?: number; since?: number; until?: number; limit?: number }): Promise<CertificateUsageEntry[]> {
    const rows = await this.deps.store.repos.certificateEvents.query({ ...filter, limit: Math.min(filter.limit ?? 1000, 10_000) });
    return rows.map((r) => ({ at: iso(r.ts)!, event: r.event, username: r.username, subject: r.subject, fingerprint: r.fingerprint, code: r.code, ip: r.ip }));
  }

  static usageCsv(entries: CertificateUsageEntry[]): string {
    const head = ['at', 'event', 'username', 'subject', 'fingerprint', 'code', 'ip'];
    const lines = entries.map((e) => [e.at, e.event, e.username, e.subject, e.fingerprint, e.code, e.ip].map(csvField).join(','));
    return [head.join(','), ...lines].join('\r\n') + '\r\n';
  }

  /**
   * "Force authentication with certificate" for proxy sessions: when on, a user may open a proxy session
   * only if they were authenticated with the certificate bound to them now — on a proxy that authenticated
   * the person itself (SSH), by that login (`authentication`): its certificate's key, and the certificate
   * still valid under the trust store now; otherwise by their current web session.
   */
  async proxySessionAllowed(userId: number, authentication?: ProxyAuthenticationProof): Promise<{ allowed: true } | { allowed: false; code: ErrorCode; reason: string }> {
    const settings = await this.deps.settings.current();
    if (!settings.mfa.forceCertificateForProxy) return { allowed: true };
    if (authentication) return this.proxyLoginAllowed(userId, authentication);
    const session = await this.deps.store.repos.webSessions.completeForUser(userId);
    if (!session) return { allowed: false, code: 'CERT_MISSING', reason: 'no signed-in web session' };
    const now = this.now();
    if (now >= session.expires_at || now - session.last_seen_at >= settings.sessions.idleTimeoutMinutes * 60_000) {
      return { allowed: false, code: 'AUTH_SESSION_EXPIRED', reason: 'the web session has expired' };
    }
    if (session.mfa_method !== 'certificate' || !session.certificate_fingerprint) {
      return { allowed: false, code: 'CERT_MISSING', reason: 'the web session was not authenticated with a certificate' };
    }
    const bound = await this.deps.store.repos.userCertificates.boundFor(userId);
    if (!bound || bound.fingerprint !== session.certificate_fingerprint) {
      return { allowed: false, code: 'CERT_NOT_BOUND_CERT', reason: 'the web session used a certificate that is no longer bound' };
    }
    return { allowed: true };
  }

  private async proxyLoginAllowed(userId: number, authentication: ProxyAuthenticationProof): Promise<{ allowed: true } | { allowed: false; code: ErrorCode; reason: string }> {
    if (!authentication.method.split('+').includes('certificate') || !authentication.certificateFingerprint) {
      return { allowed: false, code: 'CERT_MISSING', reason: `the login (${authentication.method}) was not made with the bound certificate's key` };
    }
    const bound = await this.deps.store.repos.userCertificates.boundFor(userId);
    if (!bound || bound.fingerprint !== authentication.certificateFingerprint) {
      return { allowed: false, code: 'CERT_NOT_BOUND_CERT', reason: 'the login used a certificate that is no longer bound' };
    }
    // The login was judged minutes ago, perhaps: a CA inactivated or a CRL installed since refuses now.
    const user = await this.deps.store.repos.users.byId(userId);
    const settings = await this.deps.settings.current();
    const result = validateClientCertificate(presentedOf(bound).presented, await this.deps.trust.snapshot(), {
      now: this.now(),
      checkEmail: settings.mfa.checkCertificateEmail,
      accountEmail: user?.email ?? '',
      bound: { fingerprint: bound.fingerprint, issuer: bound.issuer, serial: bound.serial },
    });
    if (!result.ok) return { allowed: false, code: result.code, reason: result.reason };
    return { allowed: true };
  }
}
