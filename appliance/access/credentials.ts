// Credentials of devices: validation, create/update/disable, their secrets sealed in the vault.
import type { Store, CredentialRow } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import { insertSealed, type Vault } from '../vault/index.js';
import { InputError, NotFoundError } from '../errors/index.js';
import { requireText } from '../errors/index.js';
import { audited } from './audited.js';
import { optionalText } from './input.js';
import type { DeviceService } from './devices.js';
import type { Actor } from './user-admin.js';

export const CREDENTIAL_KINDS = ['local-privileged', 'local-user', 'domain-user', 'domain-admin', 'service-account', 'application'] as const;

export interface CredentialView {
  id: number;
  deviceId: number;
  kind: string;
  username: string;
  secretKind: 'password' | 'ssh-key';
  domain: string;
  extraInfo: string;
  labels: string[];
  owner: string;
  autoChange: boolean;
  statusControl: boolean;
  splitView: boolean;
  status: 'active' | 'disabled';
  updatedAt: string;
  /** Status control's last verdict: does the vaulted password log in on the target (and when it was asked). */
  passwordStatus: { state: 'unchecked' | 'working' | 'failing'; checkedAt: string | null; detail: string };
  /** The change account: a credential of the same device that sets this one's password (rotation, reconciliation). */
  changeCredentialId: number | null;
  /** Days between scheduled rotations when autoChange is on; null: the appliance's setting. */
  rotationIntervalDays: number | null;
  /** Shared access, not simultaneous: one user holds it at a time (a session, or a password view for a while). */
  exclusive: boolean;
}

/** Largest secret (an SSH private key with comments fits easily). */
const MAX_SECRET = 16 * 1024;

export function credentialView(c: CredentialRow): CredentialView {
  let labels: string[] = [];
  try {
    labels = JSON.parse(c.labels) as string[];
  } catch {
    labels = [];
  }
  return {
    id: c.id,
    deviceId: c.device_id,
    kind: c.kind,
    username: c.username,
    secretKind: c.secret_kind,
    domain: c.domain,
    extraInfo: c.extra_info,
    labels,
    owner: c.owner,
    autoChange: c.auto_change,
    statusControl: c.status_control,
    splitView: c.split_view,
    status: c.status,
    updatedAt: new Date(c.updated_at).toISOString(),
    passwordStatus: { state: c.status_state, checkedAt: c.status_checked_at === null ? null : new Date(Number(c.status_checked_at)).toISOString(), detail: c.status_detail },
    changeCredentialId: c.change_credential_id,
    rotationIntervalDays: c.rotation_interval_days,
    exclusive: c.exclusive,
  };
}

export class CredentialService {
  constructor(private readonly deps: { store: Store; audit: AuditTrail; vault: Vault; devices: DeviceService; clock?: () => number }) {}

  private now(): number {
    return (this.deps.clock ?? Date.now)();
  }

  static validateCredential(input: unknown, creating: boolean) {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InputError('credential must be an object');
    const i = input as Record<string, unknown>;
    const allowed = ['deviceId', 'kind', 'username', 'secret', 'secretKind', 'domain', 'extraInfo', 'labels', 'owner', 'autoChange', 'statusControl', 'splitView', 'changeCredentialId', 'rotationIntervalDays', 'exclusive'];
    for (const k of Object.keys(i)) if (!allowed.includes(k)) throw new InputError(`unknown field ${k}`, { field: k });
    if (creating && (!Number.isInteger(i.deviceId) || (i.deviceId as number) < 1)) throw new InputError('deviceId is required', { field: 'deviceId' });
    const kind = i.kind === undefined && !creating ? undefined : requireText(i.kind ?? 'local-privileged', 'kind', { max: 32 });
    if (kind !== undefined && !(CREDENTIAL_KINDS as readonly string[]).includes(kind)) throw new InputError(`kind must be one of ${CREDENTIAL_KINDS.join(', ')}`, { field: 'kind' });
    const secretKind = i.secretKind ?? (creating ? 'password' : undefined);
    if (secretKind !== undefined && secretKind !== 'password' && secretKind !== 'ssh-key') throw new InputError('secretKind must be password or ssh-key', { field: 'secretKind' });
    let secret: string | undefined;
    if (i.secret !== undefined) {
      if (typeof i.secret !== 'string' || i.secret.length === 0 || Buffer.byteLength(i.secret) > MAX_SECRET) throw new InputError(`secret must be 1 to ${MAX_SECRET} bytes`, { field: 'secret' });
      if (!i.secret.isWellFormed()) throw new InputError('secret is not valid Unicode', { field: 'secret' });
      if (secretKind === 'ssh-key' && !/^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(i.secret.trim())) throw new InputError('an ssh-key secret must be a PEM or OpenSSH private key', { field: 'secret' });
      secret = i.secret;
    } else if (creating) {
      throw new InputError('secret is required', { field: 'secret' });
    }
    const labels = i.labels === undefined ? undefined : i.labels;
    if (labels !== undefined && (!Array.isArray(labels) || labels.length > 32 || !labels.every((l) => typeof l === 'string' && l.length > 0 && l.length <= 64))) {
      throw new InputError('labels must be up to 32 strings of 1–64 characters', { field: 'labels' });
    }
    const flag = (k: string) => {
      if (i[k] === undefined) return undefined;
      if (typeof i[k] !== 'boolean') throw new InputError(`${k} must be true or false`, { field: k });
      return i[k] as boolean;
    };
    const nullableInt = (k: string, min: number, max: number) => {
      if (i[k] === undefined) return undefined;
      if (i[k] === null) return null;
      if (typeof i[k] !== 'number' || !Number.isInteger(i[k]) || (i[k] as number) < min || (i[k] as number) > max) throw new InputError(`${k} must be null or an integer from ${min} to ${max}`, { field: k });
      return i[k] as number;
    };
    return {
      changeCredentialId: nullableInt('changeCredentialId', 1, Number.MAX_SAFE_INTEGER),
      rotationIntervalDays: nullableInt('rotationIntervalDays', 1, 3650),
      deviceId: i.deviceId as number | undefined,
      kind,
      username: i.username === undefined && !creating ? undefined : requireText(i.username, 'username', { min: 1, max: 255 }),
      secret,
      secretKind: secretKind as 'password' | 'ssh-key' | undefined,
      domain: i.domain === undefined ? undefined : optionalText(i.domain, 'domain', 255),
      extraInfo: i.extraInfo === undefined ? undefined : optionalText(i.extraInfo, 'extraInfo', 1024),
      labels: labels as string[] | undefined,
      owner: i.owner === undefined ? undefined : optionalText(i.owner, 'owner', 64),
      autoChange: flag('autoChange'),
      statusControl: flag('statusControl'),
      splitView: flag('splitView'),
      exclusive: flag('exclusive'),
    };
  }

  async listCredentials(filter: { deviceId?: number; ids?: number[] } = {}): Promise<CredentialView[]> {
    return (await this.deps.store.repos.credentials.credentials(filter)).map(credentialView);
  }

  /** One page of credentials (each with its device's host name) and how many match; see CredentialsRepository.pageCredentials. */
  async pageCredentials(page: { deviceId?: number; text?: string; limit: number; offset: number }): Promise<{ credentials: (CredentialView & { hostname: string; deviceStatus: 'active' | 'disabled' })[]; total: number }> {
    const text = page.text?.trim() || undefined;
    const { rows, total } = await this.deps.store.repos.credentials.pageCredentials({ ...page, ...(text ? { text } : { text: undefined }) });
    return { credentials: rows.map((r) => ({ ...credentialView(r), hostname: r.hostname, deviceStatus: r.device_status })), total };
  }

  async credential(id: number): Promise<CredentialView> {
    const c = await this.deps.store.repos.credentials.credential(id);
    if (!c) throw new NotFoundError('credential');
    return credentialView(c);
  }

  async createCredential(actor: Actor, input: unknown): Promise<CredentialView> {
    const c = CredentialService.validateCredential(input, true);
    const device = await this.deps.devices.device(c.deviceId!);
    if (c.changeCredentialId != null) await this.requireChangeAccount(c.changeCredentialId, device.id, undefined);
    const now = this.now();
    // Sealed with the row's own id as context, before the transaction (the token never works while a write
    // lock is held): for the id the row is expected to get, confirmed in the transaction.
    const guess = (await this.deps.store.repos.credentials.highestCredentialId()) + 1;
    const seal = (id: number) => this.deps.vault.sealText(c.secret!, `credential:${id}`);
    const id = await insertSealed(guess, seal, (sealed, confirm) => audited(this.deps.audit, { type: 'credential.create', actor, subject: `${c.username}@${device.hostname}` }, async (repos) => {
      const id = await repos.credentials.insertCredential({
        device_id: device.id,
        kind: c.kind!,
        username: c.username!,
        secret_kind: c.secretKind!,
        secret_sealed: sealed,
        domain: c.domain ?? '',
        extra_info: c.extraInfo ?? '',
        labels: JSON.stringify(c.labels ?? []),
        owner: c.owner ?? '',
        auto_change: c.autoChange ?? false,
        status_control: c.statusControl ?? false,
        split_view: c.splitView ?? false,
        change_credential_id: c.changeCredentialId ?? null,
        rotation_interval_days: c.rotationIntervalDays ?? null,
        exclusive: c.exclusive ?? false,
        status: 'active',
        created_at: now,
        updated_at: now,
      });
      confirm(id);
      await repos.credentials.addVersion(id, { sealed, source: 'create', by: actor.username, at: now });
      return id;
    }));
    return this.credential(id);
  }

  async updateCredential(actor: Actor, id: number, input: unknown): Promise<CredentialView> {
    const current = await this.credential(id);
    const c = CredentialService.validateCredential(input, false);
    if (c.deviceId !== undefined && c.deviceId !== current.deviceId) throw new InputError('a credential cannot move to another device', { field: 'deviceId' });
    if (c.changeCredentialId != null) await this.requireChangeAccount(c.changeCredentialId, current.deviceId, id);
    const sealed = c.secret !== undefined ? await this.deps.vault.sealText(c.secret, `credential:${id}`) : undefined;
    await audited(this.deps.audit, { type: 'credential.update', actor, subject: `credential:${id}`, detail: { valueChanged: c.secret !== undefined } }, async (repos) => {
      await repos.credentials.updateCredential(id, {
        ...(c.kind !== undefined ? { kind: c.kind } : {}),
        ...(c.username !== undefined ? { username: c.username } : {}),
        ...(c.secretKind !== undefined ? { secret_kind: c.secretKind } : {}),
        ...(sealed !== undefined ? { secret_sealed: sealed } : {}),
        ...(c.domain !== undefined ? { domain: c.domain } : {}),
        ...(c.extraInfo !== undefined ? { extra_info: c.extraInfo } : {}),
        ...(c.labels !== undefined ? { labels: JSON.stringify(c.labels) } : {}),
        ...(c.owner !== undefined ? { owner: c.owner } : {}),
        ...(c.autoChange !== undefined ? { auto_change: c.autoChange } : {}),
        ...(c.statusControl !== undefined ? { status_control: c.statusControl } : {}),
        ...(c.splitView !== undefined ? { split_view: c.splitView } : {}),
        ...(c.changeCredentialId !== undefined ? { change_credential_id: c.changeCredentialId } : {}),
        ...(c.rotationIntervalDays !== undefined ? { rotation_interval_days: c.rotationIntervalDays } : {}),
        ...(c.exclusive !== undefined ? { exclusive: c.exclusive } : {}),
        updated_at: this.now(),
      });
      // A new secret starts a new split: earlier half holders hold nothing of it; and a new version.
      if (sealed !== undefined) {
        await repos.credentials.clearSplitHolders(id);
        await repos.credentials.addVersion(id, { sealed, source: 'update', by: actor.username, at: this.now() });
      }
    });
    return this.credential(id);
  }

  /** A change account must be another credential of the same device (it logs in there to set the password). */
  private async requireChangeAccount(changeId: number, deviceId: number, selfId: number | undefined): Promise<void> {
    if (changeId === selfId) throw new InputError('a credential cannot be its own change account', { field: 'changeCredentialId' });
    const changer = await this.deps.store.repos.credentials.credential(changeId);
    if (!changer) throw new InputError('the change account is not a credential', { field: 'changeCredentialId' });
    if (changer.device_id !== deviceId) throw new InputError('the change account must be a credential of the same device', { field: 'changeCredentialId' });
  }

  async setCredentialStatus(actor: Actor, id: number, status: 'active' | 'disabled'): Promise<CredentialView> {
    await this.credential(id);
    await audited(this.deps.audit, { type: status === 'active' ? 'credential.enable' : 'credential.disable', actor, subject: `credential:${id}` }, (repos) => repos.credentials.updateCredential(id, { status, updated_at: this.now() }));
    return this.credential(id);
  }

  /** The secret as bytes, for a proxy to inject (the caller decided and audits the session, and zeroes the Buffer). */
  async secretBytesOf(credentialId: number): Promise<Buffer> {
    const c = await this.deps.store.repos.credentials.credential(credentialId);
    if (!c) throw new NotFoundError('credential');
    return await this.deps.vault.open(c.secret_sealed, `credential:${c.id}`);
  }

  /**
   * The secret in force now and its version number (null: a credential from before versions, never changed
   * since), read from one row so the two belong together: a password view shows and names the same version.
   */
  async currentSecret(credentialId: number): Promise<{ secret: string; version: number | null }> {
    const v = await this.deps.store.repos.credentials.currentVersion(credentialId);
    if (!v) return { secret: await this.secretOf(credentialId), version: null };
    const bytes = await this.deps.vault.open(v.secret_sealed, `credential:${credentialId}`);
    try {
      return { secret: bytes.toString('utf8'), version: v.version };
    } finally {
      bytes.fill(0);
    }
  }

  /** Every secret the credential has held — version, how it came, who, and when it was in force; never a secret. */
  async versions(credentialId: number): Promise<{ version: number; source: string; by: string; validFrom: string; validUntil: string | null }[]> {
    await this.credential(credentialId);
    return (await this.deps.store.repos.credentials.versions(credentialId)).map((v) => ({
      version: v.version,
      source: v.source,
      by: v.created_by,
      validFrom: new Date(Number(v.valid_from)).toISOString(),
      validUntil: v.valid_until === null ? null : new Date(Number(v.valid_until)).toISOString(),
    }));
  }

  /** The secret as text (password view); the bytes it was decoded from are zeroed. */
  async secretOf(credentialId: number): Promise<string> {
    const bytes = await this.secretBytesOf(credentialId);
    try {
      return bytes.toString('utf8');
    } finally {
      bytes.fill(0);
    }
  }
}
