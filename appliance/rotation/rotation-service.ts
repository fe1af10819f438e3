// Credential rotation: a new password made here, set on the target by the executor for its kind (no agent on
// the target), proved by logging in with it, and only then committed to the vault — on any failure the old
// password stays current and the audit event says why. One rotation per credential at a time in this process.
import type { Store } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { Vault } from '../vault/index.js';
import { parseConnectivity, type Actor, type HostKeyService } from '../access/index.js';
import { actorEvent } from '../access/index.js';
import { InputError, NotFoundError, WardenError } from '../errors/index.js';
import { logger } from '../log/index.js';
import { DEFAULT_TEMPLATE, generatePassword, type PasswordTemplate } from './password-generator.js';
import { RotationError, SshPasswdExecutor, type PasswordExecutor, type RotationTarget } from './ssh-executor.js';

const log = logger('rotation');

/** What asked for the rotation (the audit event says it). */
export type RotationTrigger = 'manual' | 'schedule' | 'after-use';

export interface RotationResult {
  credentialId: number;
  executor: string;
  /** Epoch ms the new password became the vault's. */
  rotatedAt: number;
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

export interface RotationDeps {
  store: Store;
  audit: AuditTrail;
  vault: Vault;
  hostKeys: HostKeyService;
  /** By name; default: SSH (`passwd` in a PTY) for any device that offers SSH. */
  executors?: { ssh?: PasswordExecutor };
  template?: PasswordTemplate;
  clock?: () => number;
}

export class RotationService {
  private readonly now: () => number;
  private readonly ssh: PasswordExecutor;
  /** Credentials being rotated by this process now. */
  private readonly busy = new Set<number>();

  constructor(private readonly deps: RotationDeps) {
    this.now = deps.clock ?? Date.now;
    this.ssh = deps.executors?.ssh ?? new SshPasswdExecutor();
  }

  /**
   * The credential, and how its executor reaches the account on the target — or why nothing can be `verb` (rotated,
   * checked) there: not found, disabled (rotation), not a password, a device without SSH.
   */
  private async passwordTarget(credentialId: number, verb: 'rotated' | 'checked') {
    const credential = await this.deps.store.repos.credentials.credential(credentialId);
    if (!credential) throw new NotFoundError('credential');
    const device = await this.deps.store.repos.devices.device(credential.device_id);
    if (!device) throw new NotFoundError('device');
    if (verb === 'rotated' && credential.status !== 'active') throw new InputError('a disabled credential is not rotated', { field: 'credential' });
    if (credential.secret_kind !== 'password') throw new InputError(`only passwords are ${verb} so far${verb === 'rotated' ? ' (SSH keys are not yet)' : ''}`, { field: 'secretKind' });
    const sshPort = parseConnectivity(device.connectivity).get('SSH');
    if (sshPort === undefined) throw new InputError(`no executor ${verb === 'rotated' ? 'rotates' : 'checks'} passwords on ${device.hostname}: it offers no SSH`, { field: 'connectivity' });
    const target: RotationTarget = { address: device.address, port: sshPort, username: credential.username, checkHostKey: (fp) => this.deps.hostKeys.checkHostKey(device.id, 'ssh', fp) };
    return { credential, target };
  }

  /**
   * Status control for one credential: does its vaulted password log in on the target now? The verdict is
   * stored on the credential. `actor` (an administrator's "check now") is audited every time; the periodic
   * check (no actor) writes an event only when the verdict changes — a password that stops working raises one
   * alert, not one an hour.
   */
  async checkStatus(credentialId: number, actor?: Actor): Promise<StatusVerdict> {
    const { credential, target } = await this.passwordTarget(credentialId, 'checked');
    const secret = await this.deps.vault.open(credential.secret_sealed, `credential:${credential.id}`);
    let state: StatusVerdict['state'];
    let detail = '';
    try {
      state = (await this.ssh.verify(target, secret)) ? 'working' : 'failing';
      if (state === 'failing') detail = 'the vaulted password does not log in';
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
        ? actorEvent('credential.status_check', actor ?? { username: 'system', ip: null }, subject, { state, previous: credential.status_state, ...(detail ? { reason: detail } : {}) }, state === 'working' ? 'success' : 'failure')
        : null;
    const write = (repos: typeof this.deps.store.repos) => repos.credentials.updateCredential(credential.id, { status_state: state, status_checked_at: checkedAt, status_detail: detail.slice(0, 200) });
    if (event) await this.deps.audit.withChange(event, write);
    else await write(this.deps.store.repos);
    return { credentialId: credential.id, state, checkedAt, detail };
  }

  /**
   * The periodic status control: every active credential with status control on whose device offers SSH and
   * whose secret is a password, STATUS_CHECK_CONCURRENCY at a time. One credential's failure is its verdict,
   * never the end of the run.
   */
  async checkAll(): Promise<{ checked: number; failing: number }> {
    const ids = (await this.deps.store.repos.credentials.credentials())
      .filter((c) => c.status_control && c.status === 'active' && c.secret_kind === 'password')
      .map((c) => c.id);
    let next = 0;
    let failing = 0;
    let checked = 0;
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        try {
          const v = await this.checkStatus(id);
          checked++;
          if (v.state === 'failing') failing++;
        } catch (e) {
          // A device without SSH, a credential deleted meanwhile: nothing to say about its password.
          log.debug('status control skipped a credential', { credential: id, error: (e as Error).message });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(STATUS_CHECK_CONCURRENCY, ids.length) }, worker));
    return { checked, failing };
  }

  /**
   * Rotate a credential's password now. Refused (INPUT_INVALID) for what no executor handles yet; CONFLICT while
   * a rotation of it runs; ROTATION_FAILED (details.reason) when the target could not be changed or the new
   * password not proved — the vault then still holds the old one (and the target too, or it was put back).
   */
  async rotate(actor: Actor, credentialId: number, trigger: RotationTrigger = 'manual'): Promise<RotationResult> {
    const { credential, target } = await this.passwordTarget(credentialId, 'rotated');
    const subject = `credential:${credential.id}`;
    if (this.busy.has(credential.id)) throw new WardenError('CONFLICT', 'this credential is being rotated now');
    this.busy.add(credential.id);
    const executor = this.ssh;
    let current: Buffer;
    try {
      current = await this.deps.vault.open(credential.secret_sealed, `credential:${credential.id}`);
    } catch (e) {
      // No token, no rotation: and no credential left marked busy for ever.
      this.busy.delete(credential.id);
      throw e;
    }
    const next = Buffer.from(generatePassword(this.deps.template ?? DEFAULT_TEMPLATE), 'utf8');
    const failed = async (stage: 'change' | 'verify', reason: string, said: string, restored?: boolean): Promise<never> => {
      await this.deps.audit.record(
        actorEvent('credential.rotate', actor, subject, { trigger, executor: executor.name, stage, reason, ...(said ? { said } : {}), ...(restored === undefined ? {} : { restored }) }, 'failure'),
      );
      log.warn('a rotation failed', { credential: credential.id, stage, reason });
      throw new WardenError('ROTATION_FAILED', `the password was not rotated: ${reason}${said ? ` (${said})` : ''}`, { details: { reason, stage } });
    };
    try {
      try {
        await executor.change(target, current, next);
      } catch (e) {
        if (e instanceof RotationError) return await failed('change', e.reason, e.said);
        throw e;
      }
      let works: boolean;
      try {
        works = await executor.verify(target, next);
      } catch (e) {
        works = false;
        log.warn('the new password could not be verified', { credential: credential.id, error: (e as Error).message });
      }
      if (!works) {
        // The target took a password that does not log in: put the old one back, so the vault stays true.
        const restored = await executor.change(target, next, current).then(
          () => true,
          () => false,
        );
        return await failed('verify', 'the new password did not log in', '', restored);
      }
      const sealed = await this.deps.vault.seal(next, `credential:${credential.id}`);
      const at = this.now();
      await this.deps.audit.withChange(actorEvent('credential.rotate', actor, subject, { trigger, executor: executor.name, stage: 'committed' }), async (repos) => {
        // The new password was just proved by a login: status control's verdict too.
        await repos.credentials.updateCredential(credential.id, { secret_sealed: sealed, updated_at: at, status_state: 'working', status_checked_at: at, status_detail: '' });
        await repos.credentials.addVersion(credential.id, { sealed, source: 'rotation', by: actor.username, at });
        // A new secret starts a new split, as an edit does.
        await repos.credentials.clearSplitHolders(credential.id);
      });
      return { credentialId: credential.id, executor: executor.name, rotatedAt: at };
    } finally {
      current.fill(0);
      next.fill(0);
      this.busy.delete(credential.id);
    }
  }
}
