// SSH public keys users register for the terminal proxy: added from an authorized_keys line, listed, removed;
// every change audited with the change. Who may act on whose keys is the caller's rule (the route's
// permission: a user on their own keys, an administrator with users.manage on anyone's).
import type { Store, UserSshKeyRow } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import { InputError, NotFoundError, WardenError } from '../errors/index.js';
import { normalizeIp } from '../net/index.js';
import { parseAuthorizedKeyLine } from './ssh-public-key.js';

export interface SshKeyView {
  id: number;
  userId: number;
  algorithm: string;
  fingerprint: string;
  comment: string;
  /** The authorized_keys line (public: shown so a user can tell their keys apart and copy them). */
  publicKey: string;
  createdAt: string;
  lastUsedAt: string | null;
}

/** Enough for any person's laptops, cards and build hosts; a bound on what one account can make the proxy hold. */
export const MAX_SSH_KEYS_PER_USER = 50;

function view(r: UserSshKeyRow): SshKeyView {
  return {
    id: r.id,
    userId: r.user_id,
    algorithm: r.algorithm,
    fingerprint: r.fingerprint,
    comment: r.comment,
    publicKey: `${r.algorithm} ${r.public_key}${r.comment ? ' ' + r.comment : ''}`,
    createdAt: new Date(r.created_at).toISOString(),
    lastUsedAt: r.last_used_at === null ? null : new Date(r.last_used_at).toISOString(),
  };
}

/** A label given apart from the key line: what the line's comment may hold (no control characters, at most 255 characters), not empty. */
function keyLabel(input: string): string {
  const label = typeof input === 'string' ? input.trim() : '';
  if (label === '') throw new InputError('the key name is empty', { field: 'name' });
  if (/[\u0000-\u001f\u007f-\u009f]/u.test(label) || !label.isWellFormed()) throw new InputError('the key name contains control characters', { field: 'name' });
  if ([...label].length > 255) throw new InputError('the key name is longer than 255 characters', { field: 'name' });
  return label;
}

export interface SshKeyActor {
  username: string;
  ip: string | null;
}

export class SshKeyService {
  constructor(private readonly deps: { store: Store; audit: AuditTrail; clock?: () => number }) {}

  private now(): number {
    return (this.deps.clock ?? Date.now)();
  }

  async list(userId: number): Promise<SshKeyView[]> {
    return (await this.deps.store.repos.sshKeys.forUser(userId)).map(view);
  }

  /**
   * Register `line` for `userId`. InputError for a line that is not an acceptable public key; ConflictError for a
   * duplicate. `comment`, when given, replaces the line's own comment (the label shown in lists), under the same rules.
   */
  async add(actor: SshKeyActor, userId: number, line: string, opts: { comment?: string } = {}): Promise<SshKeyView> {
    const key = parseAuthorizedKeyLine(line);
    if (opts.comment !== undefined) key.comment = keyLabel(opts.comment);
    const ip = actor.ip === null ? null : normalizeIp(actor.ip);
    const now = this.now();
    const user = await this.deps.store.repos.users.byId(userId);
    if (!user) throw new NotFoundError('user');
    const id = await this.deps.store.transaction(async (repos) => {
      if ((await repos.sshKeys.forUser(userId)).length >= MAX_SSH_KEYS_PER_USER) throw new WardenError('CONFLICT', `an account holds at most ${MAX_SSH_KEYS_PER_USER} SSH keys`);
      const inserted = await repos.sshKeys.insert({
        user_id: userId,
        algorithm: key.algorithm,
        public_key: key.blob.toString('base64'),
        fingerprint: key.fingerprint,
        comment: key.comment,
        created_at: now,
        last_used_at: null,
      });
      if (inserted === undefined) throw new WardenError('CONFLICT', `this key (${key.fingerprint}) is already registered for the account`);
      await this.deps.audit.record(
        { type: 'user.ssh_key_add', outcome: 'success', actor: actor.username, actorIp: ip, subject: user.username, detail: { keyId: inserted, algorithm: key.algorithm, fingerprint: key.fingerprint, bits: key.bits } },
        repos,
      );
      return inserted;
    });
    return view((await this.deps.store.repos.sshKeys.byId(userId, id))!);
  }

  async remove(actor: SshKeyActor, userId: number, keyId: number): Promise<void> {
    const ip = actor.ip === null ? null : normalizeIp(actor.ip);
    const user = await this.deps.store.repos.users.byId(userId);
    if (!user) throw new NotFoundError('SSH key');
    await this.deps.store.transaction(async (repos) => {
      const row = await repos.sshKeys.byId(userId, keyId);
      if (!row || !(await repos.sshKeys.delete(userId, keyId))) throw new NotFoundError('SSH key');
      await this.deps.audit.record(
        { type: 'user.ssh_key_remove', outcome: 'success', actor: actor.username, actorIp: ip, subject: user.username, detail: { keyId, algorithm: row.algorithm, fingerprint: row.fingerprint } },
        repos,
      );
    });
  }
}
