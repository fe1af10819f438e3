// TOTP (RFC 6238) as a second factor, with otplib: enrolment hands out an otpauth:// URI and its QR code;
// the secret is sealed by the key service (never stored in clear); a code is accepted within ±1 time step
// and never twice (the last accepted step is kept and advanced atomically).
import type { Store, UserRow } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { Vault } from '../vault/index.js';
import { AuthError } from '../errors/index.js';

const PERIOD = 30;

// otplib and qrcode load on first use, not at every daemon and orbit start.
const otp = () => import('otplib');
const qr = async () => (await import('qrcode')).default;
const ISSUER = 'Warden';

export interface TotpEnrolment {
  otpauthUri: string;
  /** PNG of the URI's QR code, as a data: URL for an <img>. */
  qrCodeDataUrl: string;
  /** The base32 secret, for typing into an app that cannot scan. */
  secret: string;
}

export class TotpService {
  constructor(
    private readonly deps: { store: Store; audit: AuditTrail; vault: Vault; clock?: () => number },
  ) {}

  private now(): number {
    return (this.deps.clock ?? Date.now)();
  }

  async isEnrolled(userId: number): Promise<boolean> {
    return Boolean((await this.deps.store.repos.totp.get(userId))?.confirmed);
  }

  /**
   * Start (or restart, while unconfirmed) enrolment. A confirmed enrolment is never replaced here: an
   * administrator resets it first, so a stolen password alone cannot re-enrol.
   */
  async enrol(user: Pick<UserRow, 'id' | 'username'>): Promise<TotpEnrolment> {
    const existing = await this.deps.store.repos.totp.get(user.id);
    if (existing?.confirmed) throw new AuthError('AUTH_INVALID', 'TOTP is already enrolled');
    const { generateSecret, generateURI } = await otp();
    const secret = generateSecret({ length: 20 });
    await this.deps.store.repos.totp.put(user.id, await this.deps.vault.sealText(secret, `totp:${user.id}`), this.now());
    const otpauthUri = generateURI({ issuer: ISSUER, label: user.username, secret, period: PERIOD });
    const qrCodeDataUrl = await (await qr()).toDataURL(otpauthUri, { errorCorrectionLevel: 'M', margin: 2, width: 240 });
    await this.deps.audit.record({ type: 'auth.totp_enrol', outcome: 'info', actor: user.username, subject: user.username });
    return { otpauthUri, qrCodeDataUrl, secret };
  }

  /** Verify a code for `user`; the first valid code also confirms a pending enrolment. Throws AuthError. */
  async check(user: Pick<UserRow, 'id' | 'username'>, code: string): Promise<void> {
    const row = await this.deps.store.repos.totp.get(user.id);
    if (!row) throw new AuthError('MFA_TOTP_NOT_ENROLLED', 'no TOTP secret enrolled');
    if (!/^\d{6}$/.test(code)) throw new AuthError('MFA_TOTP_INVALID', 'a TOTP code is six digits');
    const secret = await this.deps.vault.openText(row.secret_sealed, `totp:${user.id}`);
    const { verify } = await otp();
    const result = await verify({
      secret,
      token: code,
      epoch: Math.floor(this.now() / 1000),
      period: PERIOD,
      epochTolerance: PERIOD,
      ...(row.last_time_step === null ? {} : { afterTimeStep: row.last_time_step }),
    });
    if (!result.valid) {
      // Tell replay from a wrong code for the audit row: the same code at an already used step.
      const replay = row.last_time_step !== null && (await verify({ secret, token: code, epoch: Math.floor(this.now() / 1000), period: PERIOD, epochTolerance: PERIOD })).valid;
      throw new AuthError(replay ? 'MFA_TOTP_REPLAY' : 'MFA_TOTP_INVALID', replay ? 'the code was already used' : 'wrong TOTP code');
    }
    // The matched step: the current one shifted by the window offset the code was found at.
    const timeStep = Math.floor(Math.floor(this.now() / 1000) / PERIOD) + result.delta;
    if (!(await this.deps.store.repos.totp.advance(user.id, timeStep))) {
      throw new AuthError('MFA_TOTP_REPLAY', 'the code was already used');
    }
  }

  /** An administrator clears a user's TOTP: the user enrols again at the next login. */
  async reset(userId: number): Promise<void> {
    await this.deps.store.repos.totp.remove(userId);
  }

  /** The current code for a base32 secret at `atMs` — for tests and for an operator's self-check. */
  static async codeFor(secret: string, atMs: number): Promise<string> {
    const { generate } = await otp();
    return generate({ secret, epoch: Math.floor(atMs / 1000), period: PERIOD });
  }
}
