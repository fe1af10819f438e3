// The decision loader: reads the snapshot one decision needs from the store and asks the one `decide()` —
// for an admission or a request (inside its transaction), for a protected item, and for everything a user
// may reach now (the SSH menu, the web's "my devices").
import type { Store, AccessRequestRow, Repositories } from '../store/index.js';
import { decide, decideProtectedItem, parseConnectivity, type AccessGrant, type AccessGroupRule, type Decision, type Purpose } from './decision.js';
import { can } from './profiles.js';
import { withinWindows } from './time-windows.js';
import { groupOptions } from './access-groups.js';

/**
 * What a user is told about a target that none of their groups holds, or that does not exist: the same
 * two words either way, so the answer reveals neither existence nor the groups that do hold it.
 */
const PLAIN_DENIAL: Decision = { outcome: 'denied', rule: 'denied' };

/** A decision and whether the target is the user's at all (one of their enabled groups holds it). */
export interface Evaluation {
  decision: Decision;
  covered: boolean;
}

export function toGrant(r: AccessRequestRow): AccessGrant {
  return {
    requestId: r.id,
    userId: r.user_id,
    deviceId: r.device_id,
    credentialId: r.credential_id,
    purpose: r.purpose,
    groupId: r.group_id,
    startsAt: r.starts_at,
    endsAt: r.ends_at,
    emergency: r.emergency,
  };
}

/** A target's state for one purpose, as a user may see it: what they would get if they asked now. */
export interface TargetState {
  state: 'allowed' | 'reason-required' | 'needs-approval' | 'outside-window' | 'unavailable';
  rule: string;
  /** Allowed through an approved request or emergency access: which, and until when (ISO 8601). */
  grant?: { requestId: number; endsAt: string; emergency: boolean };
}

/** One (device, credential) pair a user's groups cover, with its state per purpose right now. */
export interface ReachableTarget {
  device: { id: number; hostname: string; address: string; status: string };
  credential: { id: number; username: string; domain: string; kind: string; secretKind: string; status: string };
  protocols: ('ssh' | 'rdp')[];
  states: Partial<Record<Purpose, TargetState>>;
}

function targetState(d: Decision, grants: readonly AccessGrant[]): TargetState {
  if (d.outcome === 'allowed') {
    const state: TargetState = { state: d.reasonRequired ? 'reason-required' : 'allowed', rule: d.rule };
    const grant = d.grantId === null ? undefined : grants.find((g) => g.requestId === d.grantId);
    if (grant) state.grant = { requestId: grant.requestId, endsAt: new Date(grant.endsAt).toISOString(), emergency: grant.emergency };
    return state;
  }
  if (d.outcome === 'approval-required') return { state: 'needs-approval', rule: d.rule };
  return { state: d.rule.startsWith('outside-time-window') ? 'outside-window' : 'unavailable', rule: d.rule };
}

export class AccessDecisions {
  constructor(private readonly deps: { store: Store; timeZone: () => Promise<string>; clock?: () => number }) {}

  private now(): number {
    return (this.deps.clock ?? Date.now)();
  }

  /** Build the decision snapshot for one (user, device, credential) from the store and decide. */
  async decide(userId: number, deviceId: number, credentialId: number, purpose: Purpose, at = this.now()): Promise<Decision> {
    return (await this.evaluate(this.deps.store.repos, await this.deps.timeZone(), userId, deviceId, credentialId, purpose, at)).decision;
  }

  /**
   * The decision as the user may see it (the "my decision" API): in full for a target one of their groups
   * holds, a plain denial otherwise — whether the ids exist or not.
   */
  async decideForUser(userId: number, deviceId: number, credentialId: number, purpose: Purpose, at = this.now()): Promise<Decision> {
    const { decision, covered } = await this.evaluate(this.deps.store.repos, await this.deps.timeZone(), userId, deviceId, credentialId, purpose, at);
    return covered ? decision : PLAIN_DENIAL;
  }

  /**
   * The decision and whether the target is the user's at all, read through `repos` — a transaction's, when a
   * write depends on it (an admission, a request), so the decision and its act are one. `timeZone` comes
   * from `timeZone()` read before the transaction: inside it only `repos` may touch the store.
   */
  async decideIn(repos: Repositories, timeZone: string, userId: number, deviceId: number, credentialId: number, purpose: Purpose, at: number): Promise<Evaluation> {
    return this.evaluate(repos, timeZone, userId, deviceId, credentialId, purpose, at);
  }

  /** The zone time windows are read in (the setting, else the system's). */
  timeZone(): Promise<string> {
    return this.deps.timeZone();
  }

  /** The decision, read through `repos` (a transaction's, when a write depends on it). */
  private async evaluate(repos: Repositories, timeZone: string, userId: number, deviceId: number, credentialId: number, purpose: Purpose, at: number): Promise<Evaluation> {
    const user = await repos.users.byId(userId);
    const device = await repos.devices.device(deviceId);
    const credential = await repos.credentials.credential(credentialId);
    if (!user) return { decision: { outcome: 'denied', rule: 'no-such-user' }, covered: false };
    if (!device) return { decision: { outcome: 'denied', rule: 'no-such-device' }, covered: false };
    if (!credential) return { decision: { outcome: 'denied', rule: 'no-such-credential' }, covered: false };
    const rows = await repos.accessGroups.groupsForDecision(userId, deviceId, credentialId);
    const groups: AccessGroupRule[] = rows.map((g) => ({
      ...groupOptions(g),
      userIds: new Set([userId]),
      deviceIds: new Set(g.has_device === null ? [] : [deviceId]),
      credentialIds: new Set(g.has_credential === null ? [] : [credentialId]),
    }));
    const covered = credential.device_id === deviceId && rows.some((g) => g.has_device !== null && g.has_credential !== null);
    const decision = decide({
      user: { id: user.id, profile: user.profile, status: user.status },
      device: { id: device.id, status: device.status, connectivity: device.connectivity },
      credential: { id: credential.id, deviceId: credential.device_id, status: credential.status },
      purpose,
      at,
      timeZone,
      groups,
      grants: (await repos.accessRequests.activeGrants(userId, at)).map(toGrant),
    });
    return { decision, covered };
  }

  /**
   * What may this user reach now, and in what state — one page of the targets their groups cover, by host
   * name, filtered by text, each with the decision's state per purpose (the SSH menu at every login, the
   * web's "my devices"). The groups are read once and each target is decided over only the groups that hold
   * it, with the same `decide()` as every admission.
   */
  async reachable(userId: number, filter: { text?: string; limit?: number; offset?: number } = {}, at = this.now()): Promise<{ more: boolean; targets: ReachableTarget[] }> {
    const repos = this.deps.store.repos;
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), 100_000);
    const user = await repos.users.byId(userId);
    if (!user) return { more: false, targets: [] };
    const { rows, more } = await repos.accessGroups.coveredTargets(userId, { ...(filter.text ? { text: filter.text } : {}), limit, offset: Math.max(filter.offset ?? 0, 0) });
    if (rows.length === 0) return { more, targets: [] };
    const timeZone = await this.deps.timeZone();
    // Each group's windows are read once for this moment, not once per target.
    const groupsById = new Map(
      (await repos.accessGroups.groupsOfUser(userId, null)).map((row) => {
        const g = groupOptions(row);
        return [g.id, { ...g, windowOpen: withinWindows(g.timeWindows, at, timeZone) }];
      }),
    );
    const covering = new Map<number, number[]>();
    for (const r of await repos.accessGroups.groupsHoldingCredentials(rows.map((r) => r.credential_id))) {
      if (!groupsById.has(r.group_id)) continue; // not one of the user's enabled groups
      const list = covering.get(r.credential_id) ?? [];
      list.push(r.group_id);
      covering.set(r.credential_id, list);
    }
    const grants = (await repos.accessRequests.activeGrants(userId, at)).map(toGrant);
    const userIds = new Set([userId]);
    const targets = rows.map((r): ReachableTarget => {
      const deviceIds = new Set([r.device_id]);
      const credentialIds = new Set([r.credential_id]);
      const groups: AccessGroupRule[] = (covering.get(r.credential_id) ?? []).flatMap((id) => {
        const g = groupsById.get(id);
        return g ? [{ ...g, userIds, deviceIds, credentialIds }] : [];
      });
      const ports = parseConnectivity(r.connectivity);
      const purposes: Purpose[] = [...(['ssh', 'rdp'] as const).filter((p) => ports.has(p.toUpperCase())), 'password-view'];
      const states: ReachableTarget['states'] = {};
      for (const purpose of purposes) {
        states[purpose] = targetState(
          decide({
            user: { id: user.id, profile: user.profile, status: user.status },
            device: { id: r.device_id, status: r.device_status, connectivity: r.connectivity },
            credential: { id: r.credential_id, deviceId: r.device_id, status: r.credential_status },
            purpose,
            at,
            timeZone,
            groups,
            grants,
          }),
          grants,
        );
      }
      return {
        device: { id: r.device_id, hostname: r.hostname, address: r.address, status: r.device_status },
        credential: { id: r.credential_id, username: r.credential_username, domain: r.credential_domain, kind: r.credential_kind, secretKind: r.secret_kind, status: r.credential_status },
        protocols: purposes.filter((p): p is 'ssh' | 'rdp' => p !== 'password-view'),
        states,
      };
    });
    return { more, targets };
  }


  /** The decision for one protected item (owned by a device or an access group), read through `repos`. */
  async decideItemIn(repos: Repositories, timeZone: string, userId: number, item: { id: number; deviceId: number | null; accessGroupId: number | null }, at: number): Promise<Evaluation> {
    const user = await repos.users.byId(userId);
    if (!user) return { decision: { outcome: 'denied', rule: 'no-such-user' }, covered: false };
    const device = item.deviceId === null ? null : ((await repos.devices.device(item.deviceId)) ?? null);
    const rows = await repos.accessGroups.groupsOfUser(userId, item.deviceId);
    const groups: AccessGroupRule[] = rows.map((g) => ({
      ...groupOptions(g),
      userIds: new Set([userId]),
      deviceIds: new Set(g.has_device === null || item.deviceId === null ? [] : [item.deviceId]),
      credentialIds: new Set<number>(),
    }));
    const decision = decideProtectedItem({
      user: { id: user.id, profile: user.profile, status: user.status },
      item: { id: item.id, deviceId: item.deviceId, groupId: item.accessGroupId },
      device: device && { id: device.id, status: device.status },
      at,
      timeZone,
      groups,
      grants: (await repos.accessRequests.activeGrants(userId, at)).map(toGrant),
    });
    const covered =
      item.deviceId !== null ? rows.some((g) => g.has_device !== null) : item.accessGroupId !== null ? rows.some((g) => g.id === item.accessGroupId) : can(user.profile, 'credentials.manage');
    return { decision, covered };
  }
}
