// Administration of local accounts: create, list, disable/enable, unlock, reset password. Every change is
// one transaction with its audit row, so nothing lands half-way.
import type { MfaMethod, Store, UserRow } from '../store/index.js';
import type { AuditTrail, AuditDetail, AuditEvent, AuditEventType, AuditEventWithout } from '../audit/index.js';
import type { SettingsService } from '../settings/index.js';
import type { Argon2Cost } from '../config/index.js';
import { isUniqueViolation, type Repositories } from '../store/index.js';
import { InputError, NotFoundError, WardenError } from '../errors/index.js';
import { requireText } from '../errors/index.js';
import { checkComplexity, generateOneTimePassword, hashPassword } from '../auth/index.js';
import { isLanguage, LANGUAGES, type Language } from '../i18n/index.js';
import { isProfile, PROFILE_NAMES, type ProfileName } from './profiles.js';

export interface Actor {
  username: string;
  ip: string | null;
}

/** The detail argument of `actorEvent`: may be left out only where the catalogue declares no required field. */
export type ActorEventDetail<K extends AuditEventType> = {} extends AuditDetail<K> ? AuditDetail<K> | undefined : AuditDetail<K>;

/** The audit event of a change an actor made; `detail` is checked against the catalogue entry of `type`. */
export function actorEvent<K extends AuditEventType>(type: K, actor: Actor, subject: string, detail: ActorEventDetail<K>, outcome: AuditEvent['outcome'] = 'success'): AuditEvent<K> {
  // The cast only restates what the signature checked: TypeScript cannot narrow the mapped union by a generic K.
  return { type, outcome, actor: actor.username, actorIp: actor.ip, subject: subject.slice(0, 128), ...(detail ? { detail } : {}) } as unknown as AuditEvent<K>;
}

export interface NewUser {
  username: string;
  fullName: string;
  email: string;
  profile: ProfileName;
  language?: Language;
  /** If absent a one-time password is generated; either way it must be changed at first login. */
  password?: string;
}

/** What the API and orbit show of a user: never the hash. */
export interface UserView {
  id: number;
  username: string;
  fullName: string;
  email: string;
  profile: string;
  language: string;
  status: 'active' | 'disabled';
  locked: boolean;
  failedAttempts: number;
  mustChangePassword: boolean;
  /** The second factor this account uses at web login (before the global "force certificate" setting). */
  mfaMethod: MfaMethod;
  lastLoginAt: string | null;
  createdAt: string;
}

const USERNAME = /^[\p{L}\p{N}][\p{L}\p{N}._@-]*$/u;
const EMAIL = /^[^\s@]+@[^\s@]+$/u;

export function validateUsername(value: unknown): string {
  const name = requireText(value, 'username', { min: 1, max: 64 });
  if (!USERNAME.test(name)) throw new InputError('username may hold letters, digits and . _ @ - and must start with a letter or digit', { field: 'username' });
  return name;
}

export function validateNewUser(input: unknown): NewUser {
  if (typeof input !== 'object' || input === null) throw new InputError('user must be an object');
  const i = input as Record<string, unknown>;
  const username = validateUsername(i.username);
  const fullName = requireText(i.fullName, 'fullName', { min: 1, max: 255 });
  const email = requireText(i.email ?? '', 'email', { max: 255 });
  if (email !== '' && !EMAIL.test(email)) throw new InputError('email is not an e-mail address', { field: 'email' });
  if (!isProfile(i.profile)) throw new InputError(`profile must be one of ${PROFILE_NAMES.join(', ')}`, { field: 'profile' });
  if (i.language !== undefined && !isLanguage(i.language)) throw new InputError(`language must be one of ${LANGUAGES.join(', ')}`, { field: 'language' });
  if (i.password !== undefined && typeof i.password !== 'string') throw new InputError('password must be a string', { field: 'password' });
  return {
    username,
    fullName,
    email,
    profile: i.profile,
    ...(i.language !== undefined ? { language: i.language as Language } : {}),
    ...(i.password !== undefined ? { password: i.password as string } : {}),
  };
}

function nameTaken(wanted: string, existing: string): WardenError {
  return existing === wanted
    ? new WardenError('CONFLICT', `user ${wanted} already exists`)
    : new WardenError('CONFLICT', `user name ${wanted} looks the same as the existing user ${existing} (case and look-alike letters count as the same)`);
}

export class UserAdminService {
  constructor(
    private readonly deps: { store: Store; audit: AuditTrail; settings: SettingsService; argon2: Argon2Cost; clock?: () => number },
  ) {}

  private now(): number {
    return (this.deps.clock ?? Date.now)();
  }

  async view(user: UserRow): Promise<UserView> {
    const settings = await this.deps.settings.current();
    const lockedAt = user.locked_at;
    const minutes = settings.lockout.durationMinutes;
    const locked = lockedAt !== null && (minutes === 0 || this.now() < lockedAt + minutes * 60_000);
    return {
      id: user.id,
      username: user.username,
      fullName: user.full_name,
      email: user.email,
      profile: user.profile,
      language: user.language,
      status: user.status,
      locked,
      failedAttempts: user.failed_attempts,
      mustChangePassword: user.must_change_password,
      mfaMethod: user.mfa_method,
      lastLoginAt: user.last_login_at === null ? null : new Date(user.last_login_at).toISOString(),
      createdAt: new Date(user.created_at).toISOString(),
    };
  }

  async list(): Promise<UserView[]> {
    const rows = await this.deps.store.repos.users.list();
    return Promise.all(rows.map((r) => this.view(r)));
  }

  /** One page of accounts for the console's list (see UsersRepository.page), with the lockout read fresh. */
  async page(filter: { text?: string; status?: 'active' | 'disabled' | 'locked'; limit: number; offset: number }): Promise<{ users: UserView[]; total: number }> {
    const minutes = (await this.deps.settings.current()).lockout.durationMinutes;
    const { rows, total } = await this.deps.store.repos.users.page({
      ...filter,
      ...(filter.status === 'locked' && minutes > 0 ? { lockedSince: this.now() - minutes * 60_000 } : {}),
    });
    return { users: await Promise.all(rows.map((r) => this.view(r))), total };
  }

  async get(id: number): Promise<UserRow> {
    const u = await this.deps.store.repos.users.byId(id);
    if (!u) throw new NotFoundError('user');
    return u;
  }

  async byUsername(username: string): Promise<UserRow> {
    const u = await this.deps.store.repos.users.byUsername(username.normalize('NFC'));
    if (!u) throw new NotFoundError('user');
    return u;
  }

  private change<T>(event: AuditEventWithout<'outcome'>, fn: (repos: Repositories) => Promise<T>): Promise<T> {
    // Adding the outcome keeps the type and detail the caller was checked against.
    return this.deps.audit.withChange({ ...event, outcome: 'success' } as AuditEvent, fn);
  }

  /** Create a user; returns the one-time password when one was generated (shown once, never stored). */
  async create(actor: Actor, input: unknown): Promise<{ user: UserRow; oneTimePassword: string | undefined }> {
    const u = validateNewUser(input);
    const settings = await this.deps.settings.current();
    const generated = u.password === undefined ? generateOneTimePassword() : undefined;
    const password = u.password ?? generated!;
    checkComplexity(password, u.username, settings.passwordPolicy);
    // A friendly early answer; the unique index on the name's key is what holds against a parallel create.
    const lookalike = await this.deps.store.repos.users.byUsernameKey(u.username);
    if (lookalike) throw nameTaken(u.username, lookalike.username);
    const hash = await hashPassword(password, this.deps.argon2);
    const now = this.now();
    const id = await this.change(
      { type: 'user.create', actor: actor.username, actorIp: actor.ip, subject: u.username, detail: { profile: u.profile } },
      async (repos) => {
        const id = await repos.users.insert({
          username: u.username,
          full_name: u.fullName,
          email: u.email,
          profile: u.profile,
          language: u.language ?? settings.defaultLanguage,
          password_hash: hash,
          password_changed_at: now,
          must_change_password: true,
          status: 'active',
          failed_attempts: 0,
          locked_at: null,
          last_login_at: null,
          created_at: now,
          updated_at: now,
        });
        await repos.passwordHistory.add(id, hash, now);
        return id;
      },
    ).catch(async (e: unknown) => {
      const other = isUniqueViolation(e, { table: 'users' }) ? await this.deps.store.repos.users.byUsernameKey(u.username) : undefined;
      throw other ? nameTaken(u.username, other.username) : e;
    });
    return { user: (await this.deps.store.repos.users.byId(id))!, oneTimePassword: generated };
  }

  async setStatus(actor: Actor, id: number, status: 'active' | 'disabled'): Promise<UserRow> {
    const user = await this.get(id);
    if (status === 'disabled') {
      if (user.username === actor.username) throw new WardenError('CONFLICT', 'you cannot disable your own account');
      if (user.profile === 'administrator' && user.status === 'active') {
        const admins = (await this.deps.store.repos.users.list()).filter((u) => u.profile === 'administrator' && u.status === 'active');
        if (admins.length <= 1) throw new WardenError('CONFLICT', 'the last active administrator cannot be disabled');
      }
    }
    await this.change(
      { type: status === 'disabled' ? 'user.disable' : 'user.enable', actor: actor.username, actorIp: actor.ip, subject: user.username },
      async (repos) => {
        await repos.users.update(id, { status, updated_at: this.now() });
        if (status === 'disabled') await repos.webSessions.deleteForUser(id);
        await repos.changes.announce(status === 'disabled' ? 'user.disabled' : 'user.enabled', `user:${id}`, { userId: id, username: user.username });
      },
    );
    return this.get(id);
  }

  async unlock(actor: Actor, id: number): Promise<UserRow> {
    const user = await this.get(id);
    await this.change({ type: 'user.unlock', actor: actor.username, actorIp: actor.ip, subject: user.username }, async (repos) => {
      await repos.users.update(id, { locked_at: null, failed_attempts: 0, updated_at: this.now() });
      await repos.changes.announce('user.unlocked', `user:${id}`, { userId: id, username: user.username });
    });
    return this.get(id);
  }

  /**
   * Set the account's second factor (per-user "certificate required" is method 'certificate'). Changing
   * away from TOTP forgets the enrolled secret, so coming back means enrolling anew.
   */
  async setMfaMethod(actor: Actor, id: number, method: unknown): Promise<UserRow> {
    if (method !== 'none' && method !== 'certificate' && method !== 'totp' && method !== 'duo') {
      throw new InputError('method must be one of none, certificate, totp, duo', { field: 'method' });
    }
    const user = await this.get(id);
    await this.change({ type: 'user.mfa_method', actor: actor.username, actorIp: actor.ip, subject: user.username, detail: { from: user.mfa_method, to: method } }, async (repos) => {
      await repos.users.update(id, { mfa_method: method, updated_at: this.now() });
      if (method !== 'totp') await repos.totp.remove(id);
    });
    return this.get(id);
  }

  /** Forget the user's TOTP secret: they enrol again at the next login. */
  async resetTotp(actor: Actor, id: number): Promise<void> {
    const user = await this.get(id);
    await this.change({ type: 'user.totp_reset', actor: actor.username, actorIp: actor.ip, subject: user.username }, (repos) => repos.totp.remove(id));
  }

  /** New one-time password, must be changed at next login; ends the user's sessions. */
  async resetPassword(actor: Actor, id: number): Promise<{ user: UserRow; oneTimePassword: string }> {
    const user = await this.get(id);
    const oneTimePassword = generateOneTimePassword();
    const hash = await hashPassword(oneTimePassword, this.deps.argon2);
    const now = this.now();
    await this.change({ type: 'user.reset_password', actor: actor.username, actorIp: actor.ip, subject: user.username }, async (repos) => {
      await repos.users.update(id, { password_hash: hash, password_changed_at: now, must_change_password: true, locked_at: null, failed_attempts: 0, updated_at: now });
      await repos.passwordHistory.add(id, hash, now);
      await repos.webSessions.deleteForUser(id);
      // Sessions in the proxies end as the web sessions just did.
      await repos.changes.announce('session.end-requested', `user:${id}`, { sessionId: null, userId: id, reason: 'password_reset' });
    });
    return { user: await this.get(id), oneTimePassword };
  }
}
