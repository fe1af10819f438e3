// Password view: a credential's secret shown to a user the access decision allows, with a reason when the
// group requires one, and the PCI split (each user sees one half, no user both halves).
import { DEFAULT_SETTINGS, type SettingsService } from '../settings/index.js';
import type { Store } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import { InputError, WardenError } from '../errors/index.js';
import { requireText } from '../errors/index.js';
import { decide, type AccessGroupRule, type Decision } from './decision.js';
import { toGrant, type AccessDecisions } from './access-decisions.js';
import { groupOptions } from './access-groups.js';
import { withinWindows } from './time-windows.js';
import { credentialView, type CredentialService } from './credentials.js';
import type { Actor } from './user-admin.js';

/**
 * Where a user stands with viewing one credential's password right now (the console's list): allowed (with
 * or without a reason), approval needed, already requested (a pending request of theirs), outside the time
 * window, or unavailable — which is all a user learns of a credential none of their groups holds.
 */
export interface PasswordViewState {
  state: 'allowed' | 'reason-required' | 'needs-approval' | 'requested' | 'outside-window' | 'unavailable';
  /** needs-approval / requested: how many approvals it takes. */
  approvalsNeeded?: number;
  /** requested: the pending request. */
  requestId?: number;
}

export class PasswordViewService {
  constructor(private readonly deps: { store: Store; audit: AuditTrail; decisions: AccessDecisions; credentials: CredentialService; settings?: SettingsService; clock?: () => number }) {}

  private now(): number {
    return (this.deps.clock ?? Date.now)();
  }

  /**
   * Show a credential's secret to a user the access decision allows, with a reason when the group requires one.
   * For a split credential each user sees one half, and no user both halves.
   */
  async viewPassword(actor: Actor & { userId: number }, credentialId: number, reason: string | undefined): Promise<{ secret: string; part: 'whole' | 'first-half' | 'second-half' }> {
    const row = await this.deps.store.repos.credentials.credential(credentialId);
    const { decision: d, covered } = row
      ? await this.deps.decisions.decideIn(this.deps.store.repos, await this.deps.decisions.timeZone(), actor.userId, row.device_id, credentialId, 'password-view', this.now())
      : { decision: { outcome: 'denied', rule: 'no-such-credential' } as Decision, covered: false };
    if (d.outcome !== 'allowed') {
      await this.deps.audit.record({ type: 'vault.password_view', outcome: 'failure', actor: actor.username, actorIp: actor.ip, subject: `credential:${credentialId}`, code: 'AUTH_FORBIDDEN', detail: { rule: d.rule } });
      // Outside the user's groups, the same answer whether the credential exists or not.
      if (!covered) throw new WardenError('AUTH_FORBIDDEN', 'not allowed');
      throw new WardenError('AUTH_FORBIDDEN', d.outcome === 'approval-required' ? 'approval is required first' : `not allowed (${d.rule})`, { details: { rule: d.rule, outcome: d.outcome } });
    }
    const credential = credentialView(row!);
    const why = reason === undefined || reason === '' ? '' : requireText(reason, 'reason', { max: 1024 });
    if (d.reasonRequired && why.trim().length < 3) throw new InputError('a reason is required to view this password', { field: 'reason' });
    // Shared access, not simultaneous: an exclusive credential is taken for the checkout time, in one transaction
    // with the look at who holds it (two viewers cannot both take it), before anything is shown.
    if (credential.exclusive) {
      const at = this.now();
      const minutes = (await this.deps.settings?.current())?.rotation.checkoutMinutes ?? DEFAULT_SETTINGS.rotation.checkoutMinutes;
      const until = at + minutes * 60_000;
      const subject = `credential:${credentialId}`;
      const taken = await this.deps.store.transaction(async (repos) => {
        const r = await repos.credentials.checkout(credentialId, { userId: actor.userId, username: actor.username, purpose: 'password-view', sessionId: null }, at, until);
        const heldUntil = r.taken ? until : r.held.expires_at === null ? null : Number(r.held.expires_at);
        await this.deps.audit.record({ type: 'credential.checkout', outcome: r.taken ? 'success' : 'failure', actor: actor.username, actorIp: actor.ip, subject, detail: { purpose: 'password-view', until: heldUntil, ...(r.taken ? {} : { holder: r.held.username }) } }, repos);
        return r;
      });
      if (!taken.taken) {
        const heldUntil = taken.held.expires_at === null ? null : new Date(Number(taken.held.expires_at)).toISOString();
        throw new WardenError('CONFLICT', `${taken.held.username} holds this credential ${heldUntil ? `until ${heldUntil}` : 'for the length of their session'} (shared access, not simultaneous)`, { details: { holder: taken.held.username, until: heldUntil } });
      }
    }
    const { secret, version } = await this.deps.credentials.currentSecret(credentialId);
    let part: 'whole' | 'first-half' | 'second-half' = 'whole';
    let shown = secret;
    if (credential.splitView) {
      const half = await this.splitHalfFor(credentialId, actor.userId);
      const cut = Math.ceil([...secret].length / 2);
      const chars = [...secret];
      shown = half === 1 ? chars.slice(0, cut).join('') : chars.slice(cut).join('');
      part = half === 1 ? 'first-half' : 'second-half';
    }
    const viewed = { type: 'vault.password_view', outcome: 'success', actor: actor.username, actorIp: actor.ip, subject: `credential:${credentialId}`, detail: { reason: why, part, rule: d.rule, emergency: d.emergency, version } } as const;
    // A password that changes automatically is rotated once its viewer had time to use it (the rotation job
    // waits the appliance's grace after the view); queued with the event, so neither exists without the other.
    if (credential.autoChange && credential.status === 'active') {
      const at = this.now();
      await this.deps.audit.withChange(viewed, (repos) => repos.credentials.enqueueRotation({ credential_id: credentialId, trigger_kind: 'after-view', reason: `password viewed by ${actor.username}`, due_at: at, created_at: at }));
    } else {
      await this.deps.audit.record(viewed);
    }
    return { secret: shown, part };
  }

  /**
   * The password-view state of each of these credentials for one user now: the user's groups, grants and
   * pending requests read once for the whole page, then the one decide() per credential, over the groups
   * that hold both it and its device (a credential no group of theirs holds is plainly unavailable).
   */
  async viewStates(userId: number, credentials: readonly { id: number; deviceId: number; status: string; deviceStatus: string }[], at = this.now()): Promise<Map<number, PasswordViewState>> {
    const out = new Map<number, PasswordViewState>();
    const repos = this.deps.store.repos;
    const user = await repos.users.byId(userId);
    if (!user || credentials.length === 0) return out;
    const timeZone = await this.deps.decisions.timeZone();
    const groupsById = new Map(
      (await repos.accessGroups.groupsOfUser(userId, null)).map((row) => {
        const g = groupOptions(row);
        return [g.id, { ...g, windowOpen: withinWindows(g.timeWindows, at, timeZone) }];
      }),
    );
    const ids = credentials.map((c) => c.id);
    const covering = new Map<number, number[]>();
    for (const r of await repos.accessGroups.groupsHoldingCredentials(ids)) {
      if (!groupsById.has(r.group_id)) continue;
      covering.set(r.credential_id, [...(covering.get(r.credential_id) ?? []), r.group_id]);
    }
    const grants = (await repos.accessRequests.activeGrants(userId, at)).map(toGrant);
    const pending = new Map((await repos.accessRequests.pendingRequestsOf(userId, ids, 'password-view', at)).map((r) => [r.credential_id, r]));
    const userIds = new Set([userId]);
    for (const c of credentials) {
      const groups: AccessGroupRule[] = (covering.get(c.id) ?? []).flatMap((id) => {
        const g = groupsById.get(id);
        return g ? [{ ...g, userIds, deviceIds: new Set([c.deviceId]), credentialIds: new Set([c.id]) }] : [];
      });
      if (groups.length === 0) {
        out.set(c.id, { state: 'unavailable' });
        continue;
      }
      const d = decide({
        user: { id: user.id, profile: user.profile, status: user.status },
        device: { id: c.deviceId, status: c.deviceStatus, connectivity: '' },
        credential: { id: c.id, deviceId: c.deviceId, status: c.status },
        purpose: 'password-view',
        at,
        timeZone,
        groups,
        grants,
      });
      if (d.outcome === 'allowed') out.set(c.id, { state: d.reasonRequired ? 'reason-required' : 'allowed' });
      else if (d.outcome === 'approval-required') {
        const p = pending.get(c.id);
        out.set(c.id, p ? { state: 'requested', approvalsNeeded: p.approvals_needed, requestId: p.id } : { state: 'needs-approval', approvalsNeeded: d.approvalsNeeded });
      } else out.set(c.id, { state: d.rule.startsWith('outside-time-window') ? 'outside-window' : 'unavailable' });
    }
    return out;
  }

  private async splitHalfFor(credentialId: number, userId: number): Promise<1 | 2> {
    return this.deps.store.transaction(async (repos) => {
      const holders = await repos.credentials.splitHolders(credentialId);
      const mine = holders.find((h) => h.user_id === userId);
      if (mine) return mine.half as 1 | 2;
      const free = [1, 2].find((h) => !holders.some((x) => x.half === h));
      if (!free) throw new WardenError('AUTH_FORBIDDEN', 'both halves of this password are already held by two other users');
      await repos.credentials.takeSplitHalf(credentialId, free, userId, this.now());
      return free as 1 | 2;
    });
  }
}
