// Credential rotation: a new password made here, set on the target by the executor for its kind (no agent on
// the target), proved by logging in with it, and only then committed to the vault — on any failure the old
// password stays current and the audit event says why. One rotation per credential at a time in this process.
// A credential may name a change account (a privileged account of the same device): it then sets the password
// without knowing the current one, which is also how reconciliation mends a password changed behind the
// vault's back. Rotations asked for by use (a session ended, a password viewed), by the schedule and by status
// control wait in the database's rotation queue until the rotation job runs them.
import type { Store, CredentialRow, PinnedProtocol, RotationQueueRow } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { Vault } from '../vault/index.js';
import { DEFAULT_SETTINGS, type SettingsService } from '../settings/index.js';
import { parseConnectivity, type Actor, type HostKeyService } from '../access/index.js';
import { actorEvent } from '../access/index.js';
import { InputError, NotFoundError, WardenError } from '../errors/index.js';
import { logger } from '../log/index.js';
import { DEFAULT_TEMPLATE, generatePassword, parseTemplate, type PasswordTemplate } from './password-generator.js';
import { RotationError, SshPasswdExecutor, type ChangeAccount, type PasswordExecutor, type RotationTarget } from './ssh-executor.js';
import { SshAuthorizedKeysExecutor, publicBlobOf, type KeyExecutor } from './ssh-key-executor.js';
import { MysqlExecutor } from './mysql-executor.js';
import { PostgresExecutor } from './postgres-executor.js';
import { LdapExecutor } from './ldap-executor.js';

const log = logger('rotation');

/** What asked for the rotation (the audit event says it). */
export type RotationTrigger = 'manual' | 'schedule' | 'after-use' | 'after-view' | 'status-control' | 'check-in';

export interface RotationResult {
  credentialId: number;
  executor: string;
  /** Epoch ms the new secret became the vault's. */
  rotatedAt: number;
  /** SSH keys: whether the old key no longer logs in (its authorized_keys line removed and the login refused). */
  oldKeyRevoked?: boolean;
}

export interface ReconcileResult extends RotationResult {
  /** Whether the vaulted password had stopped working (changed on the target behind the vault's back). */
  drift: boolean;
}

/** Status control's verdict on one credential. */
export interface StatusVerdict {
  credentialId: number;
  state: 'working' | 'failing';
  checkedAt: number;
  /** Why failing (the reason), '' when working. */
  detail: string;
}

/** Credentials checked at once by the periodic status control (each one SSH login on its target). */
export const STATUS_CHECK_CONCURRENCY = 8;
/** How often the periodic status control runs. */
export const STATUS_CHECK_INTERVAL_MS = 60 * 60_000;
/** How often the rotation job looks at the queue (and the schedule). */
export const ROTATION_JOB_INTERVAL_MS = 30_000;
/** Rotations the job runs at once. */
export const ROTATION_CONCURRENCY = 4;
/** A queued rotation that failed is tried again after 5 min, doubling per failure, at most daily. */
const RETRY_BASE_MS = 5 * 60_000;
const RETRY_MAX_MS = 24 * 60 * 60_000;

const SYSTEM: Actor = { username: 'system', ip: null };

export interface RotationDeps {
  store: Store;
  audit: AuditTrail;
  vault: Vault;
  hostKeys: HostKeyService;
  /** The rotation job's policy (schedule interval, after-use on/off, the grace after a view); absent: the defaults. */
  settings?: SettingsService;
  /**
   * By name; defaults: SSH (`passwd` in a PTY, or chpasswd through a change account) for passwords, and
   * authorized_keys over SSH for SSH keys, on any device that offers SSH.
   */
  executors?: { ssh?: PasswordExecutor; sshKeys?: KeyExecutor; mysql?: PasswordExecutor; postgres?: PasswordExecutor; ldaps?: PasswordExecutor; ldapStartTls?: PasswordExecutor };
  /** The appliance's default template (below a device type's and a credential's own). */
  template?: PasswordTemplate;
  clock?: () => number;
}

interface PasswordTarget {
  credential: CredentialRow;
  deviceType: string;
  target: RotationTarget;
  /** The executor for this credential's device (passwords; SSH keys always go to the key executor). */
  executor: PasswordExecutor;
  /** The change account's row, when the credential names one. */
  changer: CredentialRow | undefined;
}

export class RotationService {
  private readonly now: () => number;
  private readonly ssh: PasswordExecutor;
  private readonly keys: KeyExecutor;
  private readonly mysql: PasswordExecutor;
  private readonly postgres: PasswordExecutor;
  private readonly ldaps: PasswordExecutor;
  private readonly ldapStartTls: PasswordExecutor;
  /** Credentials being rotated or reconciled by this process now. */
  private readonly busy = new Set<number>();

  constructor(private readonly deps: RotationDeps) {
    this.now = deps.clock ?? Date.now;
    this.ssh = deps.executors?.ssh ?? new SshPasswdExecutor();
    this.keys = deps.executors?.sshKeys ?? new SshAuthorizedKeysExecutor();
    this.mysql = deps.executors?.mysql ?? new MysqlExecutor();
    this.postgres = deps.executors?.postgres ?? new PostgresExecutor();
    this.ldaps = deps.executors?.ldaps ?? new LdapExecutor(20_000, 'ldaps');
    this.ldapStartTls = deps.executors?.ldapStartTls ?? new LdapExecutor(20_000, 'starttls');
  }

  /**
   * The credential, how its executor reaches the account on the target, and its change account (passwords) — or
   * why nothing can be `verb` (rotated, checked) there: not found, disabled (rotation), a device without SSH, a
   * change account that is disabled or of another device.
   */
  private async rotationTarget(credentialId: number, verb: 'rotated' | 'checked'): Promise<PasswordTarget> {
    const credential = await this.deps.store.repos.credentials.credential(credentialId);
    if (!credential) throw new NotFoundError('credential');
    const device = await this.deps.store.repos.devices.device(credential.device_id);
    if (!device) throw new NotFoundError('device');
    if (verb === 'rotated' && credential.status !== 'active') throw new InputError('a disabled credential is not rotated', { field: 'credential' });
    // The executor by the device: a database server or a directory (its type says which, and it offers the port)
    // has its accounts changed in its own protocol; anything else that offers SSH, over SSH.
    const ports = parseConnectivity(device.connectivity);
    const type = device.type ?? '';
    const kind = /maria|mysql/i.test(type) ? 'mysql' : /postgres/i.test(type) ? 'postgres' : /ldap|directory/i.test(type) ? 'ldap' : undefined;
    const service: { port: number; executor: PasswordExecutor; pin: PinnedProtocol } | undefined =
      credential.secret_kind !== 'password' || kind === undefined
        ? undefined
        : kind === 'mysql'
          ? withPort(ports.get('MYSQL') ?? ports.get('MARIADB'), this.mysql, MysqlExecutor.pinProtocol)
          : kind === 'postgres'
            ? withPort(ports.get('POSTGRESQL') ?? ports.get('POSTGRES'), this.postgres, 'ssh')
            : (withPort(ports.get('LDAPS'), this.ldaps, LdapExecutor.pinProtocol) ?? withPort(ports.get('LDAP'), this.ldapStartTls, LdapExecutor.pinProtocol));
    const sshPort = ports.get('SSH');
    if (!service && sshPort === undefined) {
      const wanted = kind === 'mysql' ? ' and no MYSQL port' : kind === 'postgres' ? ' and no POSTGRESQL port' : kind === 'ldap' ? ' and no LDAPS or LDAP port' : '';
      throw new InputError(`no executor ${verb === 'rotated' ? 'rotates' : 'checks'} credentials on ${device.hostname}: it offers no SSH${wanted}`, { field: 'connectivity' });
    }
    const { port, executor, pin } = service ?? { port: sshPort!, executor: this.ssh, pin: 'ssh' as const };
    const target: RotationTarget = { address: device.address, port, username: credential.username, checkHostKey: (fp) => this.deps.hostKeys.checkHostKey(device.id, pin, fp) };
    let changer: CredentialRow | undefined;
    // An SSH key is rotated by the account itself (its own authorized_keys): the change account sets passwords.
    if (verb === 'rotated' && credential.secret_kind === 'password' && credential.change_credential_id !== null) {
      changer = await this.deps.store.repos.credentials.credential(credential.change_credential_id);
      if (!changer || changer.status !== 'active') throw new InputError('the change account of this credential is missing or disabled', { field: 'changeCredentialId' });
      if (changer.device_id !== credential.device_id) throw new InputError('the change account must be a credential of the same device', { field: 'changeCredentialId' });
    }
    return { credential, deviceType: device.type ?? '', target, executor, changer };
  }

  /**
   * The template a new password of this credential follows — its own, else its device type's, else the default —
   * and where it came from.
   */
  private async templateFor(credential: CredentialRow, deviceType: string): Promise<{ template: PasswordTemplate; from: 'credential' | 'device-type' | 'default' }> {
    const fallback = { template: this.deps.template ?? DEFAULT_TEMPLATE, from: 'default' as const };
    const own = credential.password_template;
    const stored = own ?? (deviceType !== '' ? await this.deps.store.repos.credentials.passwordTemplate(deviceType) : undefined);
    if (stored === undefined) return fallback;
    // Stored after the same validation; a row that no longer parses falls back to the default, loudly.
    try {
      return { template: parseTemplate(JSON.parse(stored)), from: own !== null ? 'credential' : 'device-type' };
    } catch (e) {
      log.warn('a stored password template is not valid; the default is used', { credential: credential.id, error: (e as Error).message });
      return fallback;
    }
  }

  /** Every device type's template. */
  async deviceTypeTemplates(): Promise<{ deviceType: string; template: PasswordTemplate; updatedAt: string }[]> {
    return (await this.deps.store.repos.credentials.passwordTemplates()).map((r) => ({ deviceType: r.device_type, template: JSON.parse(r.template) as PasswordTemplate, updatedAt: new Date(Number(r.updated_at)).toISOString() }));
  }

  /** Set a device type's template (matched without case); null removes it. Audited. */
  async setDeviceTypeTemplate(actor: Actor, deviceType: string, input: unknown): Promise<PasswordTemplate | null> {
    const type = deviceType.trim();
    if (type === '' || type.length > 128) throw new InputError('a device type is 1 to 128 characters', { field: 'deviceType' });
    const template = input === null ? null : parseTemplate(input);
    const at = this.now();
    await this.deps.audit.withChange(actorEvent('credential.password_template', actor, `device-type:${type.toLowerCase()}`, { scope: 'device-type', removed: template === null }), async (repos) => {
      if (template === null) await repos.credentials.deletePasswordTemplate(type);
      else await repos.credentials.setPasswordTemplate(type, JSON.stringify(template), at);
    });
    return template;
  }

  /** Set one credential's own template; null: it follows its device type's again. Audited. */
  async setCredentialTemplate(actor: Actor, credentialId: number, input: unknown): Promise<PasswordTemplate | null> {
    if (!(await this.deps.store.repos.credentials.credential(credentialId))) throw new NotFoundError('credential');
    const template = input === null ? null : parseTemplate(input);
    await this.deps.audit.withChange(actorEvent('credential.password_template', actor, `credential:${credentialId}`, { scope: 'credential', removed: template === null }), (repos) =>
      repos.credentials.updateCredential(credentialId, { password_template: template === null ? null : JSON.stringify(template), updated_at: this.now() }),
    );
    return template;
  }

  /** The template a credential's next password follows, and where it comes from. */
  async effectiveTemplate(credentialId: number): Promise<{ template: PasswordTemplate; from: 'credential' | 'device-type' | 'default' }> {
    const credential = await this.deps.store.repos.credentials.credential(credentialId);
    if (!credential) throw new NotFoundError('credential');
    const device = await this.deps.store.repos.devices.device(credential.device_id);
    return this.templateFor(credential, device?.type ?? '');
  }

  private async openChanger(row: CredentialRow): Promise<ChangeAccount> {
    return { username: row.username, secretKind: row.secret_kind, secret: await this.deps.vault.open(row.secret_sealed, `credential:${row.id}`) };
  }

  /** Mark a credential busy in this process (CONFLICT if it already is); the caller frees it. */
  private hold(credentialId: number): void {
    if (this.busy.has(credentialId)) throw new WardenError('CONFLICT', 'this credential is being rotated now');
    this.busy.add(credentialId);
  }

  /**
   * Status control for one credential: does its vaulted password log in on the target now? The verdict is
   * stored on the credential. `actor` (an administrator's "check now") is audited every time; the periodic
   * check (no actor) writes an event only when the verdict changes — a password that stops working raises one
   * alert, not one an hour. A failing credential that changes automatically and has a change account is
   * queued for reconciliation.
   */
  async checkStatus(credentialId: number, actor?: Actor): Promise<StatusVerdict> {
    const { credential, target, executor } = await this.rotationTarget(credentialId, 'checked');
    const secret = await this.deps.vault.open(credential.secret_sealed, `credential:${credential.id}`);
    let state: StatusVerdict['state'];
    let detail = '';
    let refused = false;
    try {
      const works = credential.secret_kind === 'ssh-key' ? await this.keys.verifyKey(target, secret) : await executor.verify(target, secret);
      state = works ? 'working' : 'failing';
      if (state === 'failing') {
        detail = credential.secret_kind === 'ssh-key' ? 'the vaulted key does not log in' : 'the vaulted password does not log in';
        refused = true;
      }
    } catch (e) {
      state = 'failing';
      detail = e instanceof RotationError ? e.reason : 'the check failed';
    } finally {
      secret.fill(0);
    }
    const checkedAt = this.now();
    const changed = credential.status_state !== state;
    const subject = `credential:${credential.id}`;
    const event =
      actor || changed
        ? actorEvent('credential.status_check', actor ?? SYSTEM, subject, { state, previous: credential.status_state, ...(detail ? { reason: detail } : {}) }, state === 'working' ? 'success' : 'failure')
        : null;
    // Only a refused password is drift; an unreachable target is not mended by setting a new one.
    const reconcile = refused && credential.secret_kind === 'password' && credential.auto_change && credential.status === 'active' && credential.change_credential_id !== null;
    const write = async (repos: typeof this.deps.store.repos) => {
      await repos.credentials.updateCredential(credential.id, { status_state: state, status_checked_at: checkedAt, status_detail: detail.slice(0, 200) });
      if (reconcile) await repos.credentials.enqueueRotation({ credential_id: credential.id, trigger_kind: 'reconcile', reason: 'status control: the vaulted password does not log in', due_at: checkedAt, created_at: checkedAt });
    };
    if (event) await this.deps.audit.withChange(event, write);
    else await this.deps.store.transaction(write);
    return { credentialId: credential.id, state, checkedAt, detail };
  }

  /**
   * The periodic status control: every active credential with status control on whose device offers SSH (a
   * password or an SSH key), STATUS_CHECK_CONCURRENCY at a time. One credential's failure is its verdict,
   * never the end of the run.
   */
  async checkAll(): Promise<{ checked: number; failing: number }> {
    const ids = (await this.deps.store.repos.credentials.credentials())
      .filter((c) => c.status_control && c.status === 'active')
      .map((c) => c.id);
    let failing = 0;
    let checked = 0;
    await eachAtMost(STATUS_CHECK_CONCURRENCY, ids, async (id) => {
      try {
        const v = await this.checkStatus(id);
        checked++;
        if (v.state === 'failing') failing++;
      } catch (e) {
        // A device without SSH, a credential deleted meanwhile: nothing to say about its password.
        log.debug('status control skipped a credential', { credential: id, error: (e as Error).message });
      }
    });
    return { checked, failing };
  }

  /**
   * Rotate a credential's password now. Refused (INPUT_INVALID) for what no executor handles yet; CONFLICT while
   * a rotation of it runs; ROTATION_FAILED (details.reason) when the target could not be changed or the new
   * password not proved — the vault then still holds the old one (and the target too, or it was put back).
   * With a change account, the account's password is set through it and the current one is not needed.
   */
  async rotate(actor: Actor, credentialId: number, trigger: RotationTrigger = 'manual', cause?: string): Promise<RotationResult> {
    const { credential, deviceType, target, executor, changer } = await this.rotationTarget(credentialId, 'rotated');
    const { template } = await this.templateFor(credential, deviceType);
    this.hold(credential.id);
    if (credential.secret_kind === 'ssh-key') return this.rotateKey(actor, credential, target, trigger, cause).finally(() => this.busy.delete(credential.id));
    const secrets: Buffer[] = [];
    try {
      const current = await this.deps.vault.open(credential.secret_sealed, `credential:${credential.id}`);
      secrets.push(current);
      const change = changer ? await this.openChanger(changer) : undefined;
      if (change) secrets.push(change.secret);
      const next = Buffer.from(generatePassword(template), 'utf8');
      secrets.push(next);
      const context = { trigger, executor: executor.name, ...(changer ? { changeAccount: changer.id } : {}), ...(cause ? { cause: cause.slice(0, 200) } : {}) };
      const failed = async (stage: 'change' | 'verify', reason: string, said: string, restored?: boolean): Promise<never> => {
        await this.deps.audit.record(actorEvent('credential.rotate', actor, `credential:${credential.id}`, { ...context, stage, reason, ...(said ? { said } : {}), ...(restored === undefined ? {} : { restored }) }, 'failure'));
        log.warn('a rotation failed', { credential: credential.id, stage, reason });
        throw new WardenError('ROTATION_FAILED', `the password was not rotated: ${reason}${said ? ` (${said})` : ''}`, { details: { reason, stage } });
      };
      try {
        if (change) await executor.reset(target, change, next);
        else await executor.change(target, current, next);
      } catch (e) {
        if (e instanceof RotationError) return await failed('change', e.reason, e.said);
        throw e;
      }
      if (!(await this.proves(executor, target, next, credential.id))) {
        // The target took a password that does not log in: put the old one back, so the vault stays true.
        const restored = await (change ? executor.reset(target, change, current) : executor.change(target, next, current)).then(
          () => true,
          () => false,
        );
        return await failed('verify', 'the new password did not log in', '', restored);
      }
      const at = await this.commit(credential.id, next, 'rotation', actor, actorEvent('credential.rotate', actor, `credential:${credential.id}`, { ...context, stage: 'committed' }));
      return { credentialId: credential.id, executor: executor.name, rotatedAt: at };
    } finally {
      for (const s of secrets) s.fill(0);
      this.busy.delete(credential.id);
    }
  }

  /**
   * An SSH key's rotation: a new pair of the old key's family, its public line authorized over a login with the
   * current key, proved by a login with the new key, then the old key's line removed over the new key's login and
   * the old key tried once more. The vault takes the new key once it is proved, whether or not the old one could be
   * revoked (the event says which): the vault must always hold a key that works. A new key that does not log in is
   * removed again and nothing changes.
   */
  private async rotateKey(actor: Actor, credential: CredentialRow, target: RotationTarget, trigger: RotationTrigger, cause: string | undefined): Promise<RotationResult> {
    const executor = this.keys;
    const secrets: Buffer[] = [];
    const context = { trigger, executor: executor.name, ...(cause ? { cause: cause.slice(0, 200) } : {}) };
    const failed = async (stage: 'change' | 'verify', reason: string, said: string, restored?: boolean): Promise<never> => {
      await this.deps.audit.record(actorEvent('credential.rotate', actor, `credential:${credential.id}`, { ...context, stage, reason, ...(said ? { said } : {}), ...(restored === undefined ? {} : { restored }) }, 'failure'));
      log.warn('a key rotation failed', { credential: credential.id, stage, reason });
      throw new WardenError('ROTATION_FAILED', `the key was not rotated: ${reason}${said ? ` (${said})` : ''}`, { details: { reason, stage } });
    };
    try {
      const current = await this.deps.vault.open(credential.secret_sealed, `credential:${credential.id}`);
      secrets.push(current);
      const old = publicBlobOf(current);
      if (!old) return await failed('change', 'current-key-refused', 'the vaulted key cannot be read');
      const next = await executor.newKey(current, `warden-credential-${credential.id}`);
      secrets.push(next.privateKey);
      try {
        await executor.authorize(target, current, next);
      } catch (e) {
        if (e instanceof RotationError) return await failed('change', e.reason, e.said);
        throw e;
      }
      let works: boolean;
      try {
        works = await executor.verifyKey(target, next.privateKey);
      } catch (e) {
        works = false;
        log.warn('the new key could not be verified', { credential: credential.id, error: (e as Error).message });
      }
      if (!works) {
        const restored = await executor.revoke(target, current, next.blob).then(
          () => true,
          () => false,
        );
        return await failed('verify', 'the new key did not log in', '', restored);
      }
      let oldKeyRevoked = false;
      let said = '';
      try {
        await executor.revoke(target, next.privateKey, old.blob);
        oldKeyRevoked = !(await executor.verifyKey(target, current));
        if (!oldKeyRevoked) said = 'the old key still logs in (authorized elsewhere than ~/.ssh/authorized_keys?)';
      } catch (e) {
        said = e instanceof RotationError ? `${e.reason}${e.said ? `: ${e.said}` : ''}` : 'the old key could not be removed';
      }
      if (!oldKeyRevoked) log.warn('a rotated key\'s predecessor still logs in', { credential: credential.id });
      const at = await this.commit(credential.id, next.privateKey, 'rotation', actor, actorEvent('credential.rotate', actor, `credential:${credential.id}`, { ...context, stage: 'committed', oldKeyRevoked, ...(said ? { said: said.slice(0, 200) } : {}) }));
      return { credentialId: credential.id, executor: executor.name, rotatedAt: at, oldKeyRevoked };
    } finally {
      for (const s of secrets) s.fill(0);
    }
  }

  /**
   * Reconciliation: the credential's change account sets a new password on the target without the old one,
   * the new one is proved by a login and vaulted. Whether the vaulted password still worked is asked first and
   * recorded as `drift` (it had been changed behind the vault's back). Needs a change account (INPUT_INVALID
   * without); ROTATION_FAILED as rotate.
   */
  async reconcile(actor: Actor, credentialId: number, trigger: RotationTrigger = 'manual', cause?: string): Promise<ReconcileResult> {
    const { credential, deviceType, target, executor, changer } = await this.rotationTarget(credentialId, 'rotated');
    const { template } = await this.templateFor(credential, deviceType);
    if (credential.secret_kind !== 'password') throw new InputError('reconciliation sets passwords: an SSH key is rotated by the account itself', { field: 'secretKind' });
    if (!changer) throw new InputError('reconciliation needs a change account: set one on the credential (changeCredentialId)', { field: 'changeCredentialId' });
    this.hold(credential.id);
    const secrets: Buffer[] = [];
    try {
      const current = await this.deps.vault.open(credential.secret_sealed, `credential:${credential.id}`);
      secrets.push(current);
      const change = await this.openChanger(changer);
      secrets.push(change.secret);
      const next = Buffer.from(generatePassword(template), 'utf8');
      secrets.push(next);
      const context = { trigger, executor: executor.name, changeAccount: changer.id, ...(cause ? { cause: cause.slice(0, 200) } : {}) };
      const failed = async (stage: 'check' | 'change' | 'verify', reason: string, said: string, drift?: boolean): Promise<never> => {
        await this.deps.audit.record(actorEvent('credential.reconcile', actor, `credential:${credential.id}`, { ...context, stage, reason, ...(said ? { said } : {}), ...(drift === undefined ? {} : { drift }) }, 'failure'));
        log.warn('a reconciliation failed', { credential: credential.id, stage, reason });
        throw new WardenError('ROTATION_FAILED', `the password was not reconciled: ${reason}${said ? ` (${said})` : ''}`, { details: { reason, stage } });
      };
      let drift: boolean;
      try {
        drift = !(await executor.verify(target, current));
      } catch (e) {
        if (e instanceof RotationError) return await failed('check', e.reason, e.said);
        throw e;
      }
      try {
        await executor.reset(target, change, next);
      } catch (e) {
        if (e instanceof RotationError) return await failed('change', e.reason, e.said, drift);
        throw e;
      }
      if (!(await this.proves(executor, target, next, credential.id))) return await failed('verify', 'the new password did not log in', '', drift);
      const at = await this.commit(credential.id, next, 'reconcile', actor, actorEvent('credential.reconcile', actor, `credential:${credential.id}`, { ...context, stage: 'committed', drift }));
      return { credentialId: credential.id, executor: executor.name, rotatedAt: at, drift };
    } finally {
      for (const s of secrets) s.fill(0);
      this.busy.delete(credential.id);
    }
  }

  /** Whether `next` logs the account in (a target that cannot be asked counts as no). */
  private async proves(executor: PasswordExecutor, target: RotationTarget, next: Buffer, credentialId: number): Promise<boolean> {
    try {
      return await executor.verify(target, next);
    } catch (e) {
      log.warn('the new password could not be verified', { credential: credentialId, error: (e as Error).message });
      return false;
    }
  }

  /** The proved password becomes the vault's: sealed first (never inside the transaction), then one commit with its event. */
  private async commit(credentialId: number, next: Buffer, source: 'rotation' | 'reconcile', actor: Actor, event: Parameters<AuditTrail['withChange']>[0]): Promise<number> {
    const sealed = await this.deps.vault.seal(next, `credential:${credentialId}`);
    const at = this.now();
    await this.deps.audit.withChange(event, async (repos) => {
      // The new password was just proved by a login: status control's verdict too.
      await repos.credentials.updateCredential(credentialId, { secret_sealed: sealed, updated_at: at, status_state: 'working', status_checked_at: at, status_detail: '' });
      await repos.credentials.addVersion(credentialId, { sealed, source, by: actor.username, at });
      // A new secret starts a new split, as an edit does.
      await repos.credentials.clearSplitHolders(credentialId);
      // Whatever waited for this credential is done by this change.
      await repos.credentials.dequeueRotation(credentialId);
    });
    return at;
  }

  /**
   * The rotation job: exclusive credentials whose view hold ran out are checked in, credentials whose secret
   * outlived their interval are queued (schedule), then the queue's
   * due entries run, ROTATION_CONCURRENCY at a time. A failed one is tried again later (5 min, doubling, at most
   * daily), its failure kept on the entry and in the audit trail; one failure never ends the run.
   */
  async runQueue(): Promise<{ queued: number; rotated: number; failed: number; dropped: number }> {
    const policy = (await this.deps.settings?.current())?.rotation ?? DEFAULT_SETTINGS.rotation;
    const now = this.now();
    await this.releaseExpired(now);
    let queued = 0;
    for (const s of await this.deps.store.repos.credentials.scheduledRotations(now, policy.intervalDays, 500)) {
      const reason = `the secret is older than ${s.days} day${s.days === 1 ? '' : 's'}`;
      if (await this.deps.store.transaction((repos) => repos.credentials.enqueueRotation({ credential_id: s.id, trigger_kind: 'schedule', reason, due_at: now, created_at: now }))) queued++;
    }
    const due = await this.deps.store.repos.credentials.dueRotations(now, 200);
    let rotated = 0;
    let failed = 0;
    let dropped = 0;
    await eachAtMost(ROTATION_CONCURRENCY, due, async (entry) => {
      const outcome = await this.runEntry(entry, policy, now);
      if (outcome === 'rotated') rotated++;
      else if (outcome === 'failed') failed++;
      else if (outcome === 'dropped') dropped++;
    });
    return { queued, rotated, failed, dropped };
  }

  private async runEntry(entry: RotationQueueRow, policy: { afterUse: boolean; afterViewMinutes: number }, now: number): Promise<'rotated' | 'failed' | 'dropped' | 'waiting'> {
    const repos = this.deps.store.repos;
    const credential = await repos.credentials.credential(entry.credential_id);
    const afterUse = entry.trigger_kind === 'after-use' || entry.trigger_kind === 'after-view';
    // Asked for by use or the schedule, the rotation needs the credential to still change automatically; a
    // reconciliation and an exclusive credential's check-in rotate whatever that flag says.
    const always = entry.trigger_kind === 'reconcile' || entry.trigger_kind === 'check-in';
    if (!credential || credential.status !== 'active' || (!always && !credential.auto_change) || (afterUse && !policy.afterUse)) {
      await repos.credentials.dequeueRotation(entry.credential_id);
      return 'dropped';
    }
    // The viewer's grace: the password they were shown works until it passed.
    const graceEnds = Number(entry.created_at) + policy.afterViewMinutes * 60_000;
    if (entry.trigger_kind === 'after-view' && graceEnds > now) {
      // Out of the way of the entries due now until then.
      await this.deps.store.transaction((r) => r.credentials.postponeRotation(entry.credential_id, graceEnds));
      return 'waiting';
    }
    if (this.busy.has(entry.credential_id)) return 'waiting';
    const trigger: RotationTrigger = entry.trigger_kind === 'reconcile' ? 'status-control' : entry.trigger_kind;
    try {
      if (entry.trigger_kind === 'reconcile') await this.reconcile(SYSTEM, entry.credential_id, trigger, entry.reason);
      else await this.rotate(SYSTEM, entry.credential_id, trigger, entry.reason);
      return 'rotated';
    } catch (e) {
      const attempts = Number(entry.attempts) + 1;
      const retryAt = this.now() + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(attempts - 1, 16));
      const why = e instanceof WardenError ? e.message : 'the rotation failed';
      await this.deps.store.transaction((r) => r.credentials.deferRotation(entry.credential_id, retryAt, why));
      log.warn('a queued rotation failed; it is tried again later', { credential: entry.credential_id, attempts, retryAt: new Date(retryAt).toISOString() });
      return 'failed';
    }
  }

  /** Who holds an exclusive credential now, and until when (null: free). */
  async checkoutOf(credentialId: number): Promise<{ holder: string; purpose: string; since: string; until: string | null } | null> {
    const hold = await this.deps.store.repos.credentials.checkoutOf(credentialId, this.now());
    return hold ? { holder: hold.username, purpose: hold.purpose, since: new Date(Number(hold.checked_out_at)).toISOString(), until: hold.expires_at === null ? null : new Date(Number(hold.expires_at)).toISOString() } : null;
  }

  /**
   * Give an exclusive credential back: its holder (`force` false: only their own hold, and not one a live session
   * keeps), or an administrator (`force`). Check-in queues its rotation (run by the rotation job). NOT_FOUND when
   * there is nothing of theirs to give back.
   */
  async checkin(actor: Actor & { userId: number }, credentialId: number, force = false): Promise<{ checkedIn: true; rotationQueued: boolean }> {
    const at = this.now();
    return this.deps.store.transaction(async (repos) => {
      const hold = await repos.credentials.checkoutOf(credentialId, at);
      if (!hold || (!force && (hold.user_id !== actor.userId || hold.purpose === 'session'))) throw new NotFoundError('checkout');
      await repos.credentials.checkin(credentialId);
      await this.deps.audit.record(actorEvent('credential.checkin', actor, `credential:${credentialId}`, { holder: hold.username, how: force && hold.user_id !== actor.userId ? `by ${actor.username}` : 'by its holder' }, 'info'), repos);
      const rotationQueued = await repos.credentials.enqueueRotation({ credential_id: credentialId, trigger_kind: 'check-in', reason: `checked in by ${actor.username}`, due_at: at, created_at: at });
      return { checkedIn: true as const, rotationQueued };
    });
  }

  /** Password-view holds whose time ran out go back, each with its rotation queued. */
  private async releaseExpired(now: number): Promise<number> {
    let n = 0;
    for (const hold of await this.deps.store.repos.credentials.expiredCheckouts(now, 200)) {
      const released = await this.deps.store.transaction(async (repos) => {
        // Only this hold, still expired: one taken again meanwhile (a new view, a session) stays.
        if (!(await repos.credentials.checkinExpired(hold.credential_id, hold.user_id, now))) return false;
        await this.deps.audit.record(actorEvent('credential.checkin', SYSTEM, `credential:${hold.credential_id}`, { holder: hold.username, how: 'its checkout time ran out' }, 'info'), repos);
        await repos.credentials.enqueueRotation({ credential_id: hold.credential_id, trigger_kind: 'check-in', reason: `checked in: ${hold.username}'s checkout time ran out`, due_at: now, created_at: now });
        return true;
      });
      if (released) n++;
    }
    return n;
  }

  /** The rotation waiting for a credential, if any (for the console and the API). */
  async queued(credentialId: number): Promise<{ trigger: string; reason: string; dueAt: string; attempts: number; lastError: string } | null> {
    const q = await this.deps.store.repos.credentials.queuedRotation(credentialId);
    return q ? { trigger: q.trigger_kind, reason: q.reason, dueAt: new Date(Number(q.due_at)).toISOString(), attempts: Number(q.attempts), lastError: q.last_error } : null;
  }
}

function withPort(port: number | undefined, executor: PasswordExecutor, pin: PinnedProtocol): { port: number; executor: PasswordExecutor; pin: PinnedProtocol } | undefined {
  return port === undefined ? undefined : { port, executor, pin };
}

/** Run `fn` over `items`, at most `limit` at once. */
async function eachAtMost<T>(limit: number, items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
