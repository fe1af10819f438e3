// Server-side web sessions: an opaque random token in the cookie, only its SHA-256 in the store.
// One active session per account, idle timeout, absolute lifetime, bound to the client IP.
import { createHash, randomBytes } from 'node:crypto';
import type { MfaMethod, WebSessionRow } from '../store/index.js';

export function sessionIdOf(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function newSessionToken(): string {
  return randomBytes(32).toString('base64url');
}

export function newSessionRow(opts: {
  token: string;
  userId: number;
  ip: string;
  userAgent: string;
  now: number;
  lifetimeMs: number;
  /** The second factor still due, if any: the session then opens in stage 'mfa'. */
  pendingMfa: MfaMethod | null;
}): WebSessionRow {
  return {
    id: sessionIdOf(opts.token),
    user_id: opts.userId,
    client_ip: opts.ip,
    user_agent: opts.userAgent.slice(0, 255),
    csrf_token: randomBytes(24).toString('base64url'),
    created_at: opts.now,
    last_seen_at: opts.now,
    expires_at: opts.now + opts.lifetimeMs,
    stage: opts.pendingMfa ? 'mfa' : 'complete',
    // While stage is 'mfa' this is the factor due; once complete, the factor that was used.
    mfa_method: opts.pendingMfa,
    certificate_fingerprint: null,
    mfa_state: null,
  };
}

export type SessionEndReason = 'logout' | 'idle' | 'expired' | 'ip_changed' | 'replaced' | 'disabled' | 'password_reset' | 'unlocked';

/** Why a stored session is no longer valid at `now` for a request from `ip`, or undefined if it is. */
export function sessionProblem(row: WebSessionRow, now: number, ip: string, idleMs: number): SessionEndReason | undefined {
  if (now >= row.expires_at) return 'expired';
  if (now - row.last_seen_at >= idleMs) return 'idle';
  if (row.client_ip !== ip) return 'ip_changed';
  return undefined;
}

/**
 * How a complete web session was authenticated, as a proxied session's forced-certificate gate judges it
 * (ProxyAuthenticationProof): 'password', or 'password+' the second factor; the certificate's fingerprint
 * when that factor was the certificate.
 */
export function webLoginProof(row: Pick<WebSessionRow, 'mfa_method' | 'certificate_fingerprint'>): { method: 'password' | `password+${Exclude<MfaMethod, 'none'>}`; certificateFingerprint?: string } {
  const method = row.mfa_method === null || row.mfa_method === 'none' ? ('password' as const) : (`password+${row.mfa_method}` as const);
  return { method, ...(row.mfa_method === 'certificate' && row.certificate_fingerprint ? { certificateFingerprint: row.certificate_fingerprint } : {}) };
}
