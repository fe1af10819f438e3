// Access groups, the decision loader, access requests with approvals, emergency access, and password view
// (with PCI split). Proxies, web and API ask `decide()` here; approved and expired grants are announced on
// the store's change feed, so a proxy in any process can end the live sessions a grant no longer covers.
import type { Store, AccessGroupRow, AccessRequestRow, ChangeTopics, Repositories } from '../store/index.js';
import { isStoreConstraint, isUniqueViolation } from '../store/index.js';
import type { AuditDetail, AuditDetailMember, AuditEventType, AuditTrail } from '../audit/index.js';
import { InputError, NotFoundError, WardenError } from '../errors/index.js';
import { requireText } from '../errors/index.js';
import { decide, decideProtectedItem, parseConnectivity, type Decision, type GroupOptions, type PolicyGroup, type PolicyGrant, type Purpose } from './decision.js';
import { can } from './profiles.js';
import { validateTimeWindows, withinWindows, type TimeWindow } from './time-windows.js';
import { credentialView, type InventoryService, type ProtectedItemView } from './inventory.js';
import { actorEvent, type Actor, type ActorEventDetail } from './user-admin.js';

export interface AccessGroupInput extends GroupOptions {
  userIds: number[];
  approverIds: number[];
  deviceIds: number[];
  credentialIds: number[];
}

export interface AccessGroupView extends AccessGroupInput {
  id: number;
}

export interface AccessRequestView {
  id: number;
  userId: number;
  deviceId: number;
  credentialId: number;
  purpose: 'session' | 'password-view';
  reason: string;
  startsAt: string;
  endsAt: string;
  status: string;
  emergency: boolean;
  approvals: number;
  approvalsNeeded: number;
}

/** The payload of the feed's `grant.expired` change. */
export type GrantExpired = ChangeTopics['grant.expired'];

/** Grants that ended up to this instant have been announced (appliance_meta; set first by migration 0007). */
export const GRANT_EXPIRY_WATERMARK = 'grants.expiry_announced_until';

const MAX_MEMBERS = 100_000;

/**
 * The longest grant, approved or emergency: a request's period (startsAt to endsAt) may not exceed it, and
 * the grant stored is exactly that period. Groups set no maximum of their own.
 */
export const MAX_GRANT_MS = 7 * 86_400_000;
/** A request without endsAt lasts this long (emergency: `emergencyMinutes`, 60 by default). */
const DEFAULT_GRANT_MS = 3_600_000;

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

function toGrant(r: AccessRequestRow): PolicyGrant {
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
}

/** One (device, credential) pair a user's groups cover, with its state per purpose right now. */
export interface ReachableTarget {
  device: { id: number; hostname: string; address: string; status: string };
  credential: { id: number; username: string; domain: string; kind: string; secretKind: string; status: string };
  protocols: ('ssh' | 'rdp')[];
  states: Partial<Record<Purpose, TargetState>>;
}

function targetState(d: Decision): TargetState {
  if (d.outcome === 'allowed') return { state: d.reasonRequired ? 'reason-required' : 'allowed', rule: d.rule };
  if (d.outcome === 'approval-required') return { state: 'needs-approval', rule: d.rule };
  return { state: d.rule.startsWith('outside-time-window') ? 'outside-window' : 'unavailable', rule: d.rule };
}

export interface ProtectedItemAccess extends ProtectedItemView {
  /** What the decision says for this user now: allowed, approval-required or denied (e.g. outside the window). */
  access: Decision['outcome'];
}

function ids(v: unknown, field: string): number[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > MAX_MEMBERS || !v.every((x) => Number.isInteger(x) && (x as number) > 0)) throw new InputError(`${field} must be a list of ids`, { field });
  return [...new Set(v as number[])];
}

function flag(v: unknown, field: string, def: boolean): boolean {
  if (v === undefined) return def;
  if (typeof v !== 'boolean') throw new InputError(`${field} must be true or false`, { field });
  return v;
}

export function validateGroup(input: unknown): AccessGroupInput {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InputError('group must be an object');
  const i = input as Record<string, unknown>;
  const allowed = ['name', 'enabled', 'sessionAllowed', 'passwordViewAllowed', 'reasonRequired', 'approvalRequired', 'approvalsNeeded', 'timeWindows', 'userIds', 'approverIds', 'deviceIds', 'credentialIds'];
  for (const k of Object.keys(i)) if (!allowed.includes(k)) throw new InputError(`unknown field ${k}`, { field: k });
  const approvalsNeeded = i.approvalsNeeded ?? 1;
  if (!Number.isInteger(approvalsNeeded) || (approvalsNeeded as number) < 1 || (approvalsNeeded as number) > 10) throw new InputError('approvalsNeeded must be 1 to 10', { field: 'approvalsNeeded' });
  const g: AccessGroupInput = {
    name: requireText(i.name, 'name', { min: 1, max: 128 }),
    enabled: flag(i.enabled, 'enabled', true),
    sessionAllowed: flag(i.sessionAllowed, 'sessionAllowed', true),
    passwordViewAllowed: flag(i.passwordViewAllowed, 'passwordViewAllowed', false),
    reasonRequired: flag(i.reasonRequired, 'reasonRequired', false),
    approvalRequired: flag(i.approvalRequired, 'approvalRequired', false),
    approvalsNeeded: approvalsNeeded as number,
    timeWindows: validateTimeWindows(i.timeWindows ?? []),
    userIds: ids(i.userIds, 'userIds'),
    approverIds: ids(i.approverIds, 'approverIds'),
    deviceIds: ids(i.deviceIds, 'deviceIds'),
    credentialIds: ids(i.credentialIds, 'credentialIds'),
  };
  if (g.approvalRequired && g.approverIds.length < g.approvalsNeeded) throw new InputError('a group that requires approval needs at least approvalsNeeded approvers', { field: 'approverIds' });
  return g;
}

/** A group row's options, as the views and the decision read them. */
function groupOptions(g: AccessGroupRow) {
  return {
    id: g.id,
    name: g.name,
    enabled: g.enabled,
    sessionAllowed: g.session_allowed,
    passwordViewAllowed: g.password_view_allowed,
    reasonRequired: g.reason_required,
    approvalRequired: g.approval_required,
    approvalsNeeded: g.approvals_needed,
    timeWindows: JSON.parse(g.time_windows) as TimeWindow[],
  };
}

function requestView(r: AccessRequestRow, approvals: number): AccessRequestView {
  return {
    id: r.id,
    userId: r.user_id,
    deviceId: r.device_id,
    credentialId: r.credential_id,
    purpose: r.purpose,
    reason: r.reason,
    startsAt: new Date(r.starts_at).toISOString(),
    endsAt: new Date(r.ends_at).toISOString(),
    status: r.status,
    emergency: r.emergency,
    approvals,
    approvalsNeeded: r.approvals_needed,
  };
}

function grantApproved(r: Pick<AccessRequestRow, 'id' | 'user_id' | 'device_id' | 'credential_id' | 'purpose' | 'starts_at' | 'ends_at'>, emergency: boolean): ChangeTopics['grant.approved'] {
  return { requestId: r.id, userId: r.user_id, deviceId: r.device_id, credentialId: r.credential_id, purpose: r.purpose, startsAt: Number(r.starts_at), endsAt: Number(r.ends_at), emergency };
}

export class PolicyService {
  constructor(
    private readonly deps: {
      store: Store;
      audit: AuditTrail;
      inventory: InventoryService;
      timeZone: () => Promise<string>;
      clock?: () => number;
      /** How long emergency (break-glass) access lasts. */
      emergencyMinutes?: number;
    },
  ) {}

  private now(): number {
    return (this.deps.clock ?? Date.now)();
  }

  private audited<T, K extends AuditEventType>(
    event: { type: K; actor: Actor; subject: string; outcome?: 'success' | 'info' } & AuditDetailMember<K>,
    fn: (repos: Repositories) => Promise<T>,
  ): Promise<T> {
    // The detail was checked against K's catalogue entry at the call; a generic K cannot be narrowed here.
    const detail = (event as { detail?: AuditDetail<K> }).detail as ActorEventDetail<K>;
    return this.deps.audit.withChange(actorEvent(event.type, event.actor, event.subject, detail, event.outcome), fn);
  }

  // ---- groups

  private async groupView(g: AccessGroupRow): Promise<AccessGroupView> {
    const p = this.deps.store.repos.accessGroups;
    return {
      ...groupOptions(g),
      userIds: await p.members('access_group_users', g.id),
      approverIds: await p.members('access_group_approvers', g.id),
      deviceIds: await p.members('access_group_devices', g.id),
      credentialIds: await p.members('access_group_credentials', g.id),
    };
  }

  async groups(): Promise<AccessGroupView[]> {
    return Promise.all((await this.deps.store.repos.accessGroups.groups()).map((g) => this.groupView(g)));
  }

  async group(id: number): Promise<AccessGroupView> {
    const g = await this.deps.store.repos.accessGroups.group(id);
    if (!g) throw new NotFoundError('access group');
    return this.groupView(g);
  }

  private async writeGroup(repos: Repositories, id: number | undefined, g: AccessGroupInput): Promise<number> {
    const now = this.now();
    const fields = {
      name: g.name,
      enabled: g.enabled,
      session_allowed: g.sessionAllowed,
      password_view_allowed: g.passwordViewAllowed,
      reason_required: g.reasonRequired,
      approval_required: g.approvalRequired,
      approvals_needed: g.approvalsNeeded,
      time_windows: JSON.stringify(g.timeWindows),
      updated_at: now,
    };
    let groupId = id;
    try {
      if (groupId === undefined) groupId = await repos.accessGroups.insertGroup({ ...fields, created_at: now });
      else await repos.accessGroups.updateGroup(groupId, fields);
      await repos.accessGroups.replaceMembers('access_group_users', groupId, g.userIds);
      await repos.accessGroups.replaceMembers('access_group_approvers', groupId, g.approverIds);
      await repos.accessGroups.replaceMembers('access_group_devices', groupId, g.deviceIds);
      await repos.accessGroups.replaceMembers('access_group_credentials', groupId, g.credentialIds);
    } catch (e) {
      if (isUniqueViolation(e, { table: 'access_groups', column: 'name' })) throw new WardenError('CONFLICT', `an access group named ${g.name} exists`);
      if (isStoreConstraint(e, 'foreign-key')) throw new InputError('a member id does not exist (user, device or credential)');
      throw e;
    }
    return groupId;
  }

  async saveGroup(actor: Actor, input: unknown, id?: number): Promise<AccessGroupView> {
    if (id !== undefined) await this.group(id);
    const g = validateGroup(input);
    const groupId = await this.audited({ type: id === undefined ? 'access_group.create' : 'access_group.update', actor, subject: g.name, detail: { users: g.userIds.length, devices: g.deviceIds.length, credentials: g.credentialIds.length } }, (repos) =>
      this.writeGroup(repos, id, g),
    );
    return this.group(groupId);
  }

  // ---- the decision

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
    const groups: PolicyGroup[] = rows.map((g) => ({
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
      const groups: PolicyGroup[] = (covering.get(r.credential_id) ?? []).flatMap((id) => {
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

  // ---- requests and approvals

  /**
   * Ask for access that a group of the user's holds but requires approval for. With `emergency` (break-glass)
   * the approval is skipped — nothing else: the decision must be "approval-required" through one of the
   * user's own groups at the requested time, the grant is bound to that group (so its membership and time
   * windows keep applying at every use), and it lasts exactly the requested period, at most MAX_GRANT_MS.
   */
  async requestAccess(actor: Actor & { userId: number }, input: unknown): Promise<AccessRequestView> {
    if (typeof input !== 'object' || input === null) throw new InputError('request must be an object');
    const i = input as Record<string, unknown>;
    for (const k of Object.keys(i)) if (!['deviceId', 'credentialId', 'purpose', 'reason', 'startsAt', 'endsAt', 'emergency'].includes(k)) throw new InputError(`unknown field ${k}`, { field: k });
    if (!Number.isInteger(i.deviceId) || !Number.isInteger(i.credentialId)) throw new InputError('deviceId and credentialId are required');
    const purpose = i.purpose ?? 'session';
    if (purpose !== 'session' && purpose !== 'password-view') throw new InputError('purpose must be session or password-view', { field: 'purpose' });
    const reason = requireText(i.reason, 'reason', { min: 3, max: 1024 });
    const emergency = flag(i.emergency, 'emergency', false);
    const now = this.now();
    const startsAt = i.startsAt === undefined ? now : Date.parse(String(i.startsAt));
    const endsAt = i.endsAt === undefined ? startsAt + (emergency ? (this.deps.emergencyMinutes ?? 60) * 60_000 : DEFAULT_GRANT_MS) : Date.parse(String(i.endsAt));
    if (Number.isNaN(startsAt) || Number.isNaN(endsAt) || endsAt <= startsAt || endsAt - startsAt > MAX_GRANT_MS || endsAt <= now) {
      throw new InputError('the wanted window must be a future period of at most 7 days (startsAt, endsAt: ISO 8601)');
    }
    const deviceId = i.deviceId as number;
    const credentialId = i.credentialId as number;
    const timeZone = await this.deps.timeZone();
    const at = Math.max(now, startsAt);
    let refusal: { rule: string } | undefined;
    try {
      // The decision is read in the transaction that writes the request: nothing changes in between.
      const id = await this.deps.store.transaction(async (repos) => {
        const device = await repos.devices.device(deviceId);
        const decisionPurpose: Purpose = purpose === 'password-view' ? 'password-view' : this.sessionProtocol(device ?? { connectivity: '' });
        const { decision: d, covered } = await this.evaluate(repos, timeZone, actor.userId, deviceId, credentialId, decisionPurpose, at);
        if (d.outcome !== 'approval-required') {
          refusal = { rule: d.rule };
          if (d.outcome === 'allowed') throw new WardenError('CONFLICT', 'access is already allowed: no request needed');
          throw new WardenError('CONFLICT', covered ? `access is denied (${d.rule}): a request cannot change that` : 'access is denied: a request cannot change that');
        }
        const row = { user_id: actor.userId, device_id: deviceId, credential_id: credentialId, purpose, group_id: d.groupId, reason, starts_at: startsAt, ends_at: endsAt, created_at: now } as const;
        if (emergency) {
          const group = await repos.accessGroups.group(d.groupId);
          const id = await repos.accessRequests.insertRequest({ ...row, approvals_needed: 0, status: 'approved', emergency: true, decided_at: now });
          await repos.changes.announce('grant.approved', `request:${id}`, grantApproved({ ...row, id }, true));
          // Break-glass: no approval, but the loudest audit event there is, naming the group it went through.
          await this.deps.audit.record(
            actorEvent('access.emergency', actor, `device:${deviceId}`, { requestId: id, credentialId, purpose, reason, groupId: d.groupId, group: group?.name ?? null, startsAt, endsAt }, 'info'),
            repos,
          );
          return id;
        }
        const id = await repos.accessRequests.insertRequest({ ...row, approvals_needed: d.approvalsNeeded, status: 'pending', emergency: false, decided_at: null });
        await this.deps.audit.record(actorEvent('access.request', actor, `device:${deviceId}`, { requestId: id, credentialId, purpose, groupId: d.groupId, reason }, 'info'), repos);
        return id;
      });
      return this.request(id);
    } catch (e) {
      if (emergency && refusal) {
        // A refused break-glass attempt is itself worth an auditor's attention; the precise rule stays here.
        await this.deps.audit.record({ type: 'access.emergency', outcome: 'failure', actor: actor.username, actorIp: actor.ip, subject: `device:${deviceId}`, code: 'AUTH_FORBIDDEN', detail: { credentialId, purpose, reason, rule: refusal.rule } });
      }
      throw e;
    }
  }

  private sessionProtocol(device: { connectivity: string }): Purpose {
    return /\bRDP:/i.test(device.connectivity) && !/\bSSH:/i.test(device.connectivity) ? 'rdp' : 'ssh';
  }

  async request(id: number): Promise<AccessRequestView> {
    const r = await this.deps.store.repos.accessRequests.request(id);
    if (!r) throw new NotFoundError('access request');
    const approvals = (await this.deps.store.repos.accessRequests.decisions(id)).filter((x) => x.decision === 'approve').length;
    return requestView(r, approvals);
  }

  async myRequests(userId: number): Promise<AccessRequestView[]> {
    const rows = await this.deps.store.repos.accessRequests.requestsOf(userId);
    return Promise.all(rows.map((r) => this.request(r.id)));
  }

  /** The approver's in-app inbox: pending requests they may decide. */
  async toDecide(approverId: number): Promise<AccessRequestView[]> {
    const rows = await this.deps.store.repos.accessRequests.pendingFor(approverId);
    return Promise.all(rows.map((r) => this.request(r.id)));
  }

  async decideRequest(actor: Actor & { userId: number }, id: number, decision: 'approve' | 'deny', comment = ''): Promise<AccessRequestView> {
    const r = await this.deps.store.repos.accessRequests.request(id);
    if (!r) throw new NotFoundError('access request');
    if (r.status !== 'pending') throw new WardenError('CONFLICT', `the request is ${r.status}`);
    if (r.user_id === actor.userId) throw new WardenError('AUTH_FORBIDDEN', 'nobody approves their own request');
    if (r.group_id === null || !(await this.deps.store.repos.accessGroups.isApprover(r.group_id, actor.userId))) throw new WardenError('AUTH_FORBIDDEN', 'not an approver of this request');
    const note = comment === '' ? '' : requireText(comment, 'comment', { max: 1024 });
    const now = this.now();
    await this.audited({ type: decision === 'approve' ? 'access.approve' : 'access.deny', actor, subject: `request:${id}`, detail: { comment: note } }, async (repos) => {
      // Read again in the transaction: a parallel decision may have settled it (and announced its grant).
      const current = await repos.accessRequests.request(id);
      if (current?.status !== 'pending') throw new WardenError('CONFLICT', `the request is ${current?.status ?? 'gone'}`);
      try {
        await repos.accessRequests.insertDecision({ request_id: id, approver_id: actor.userId, decision, comment: note, decided_at: now });
      } catch {
        throw new WardenError('CONFLICT', 'you already decided this request');
      }
      if (decision === 'deny') {
        await repos.accessRequests.updateRequest(id, { status: 'denied', decided_at: now });
        return 'denied';
      }
      const approvals = (await repos.accessRequests.decisions(id)).filter((x) => x.decision === 'approve').length;
      if (approvals >= r.approvals_needed) {
        await repos.accessRequests.updateRequest(id, { status: 'approved', decided_at: now });
        await repos.changes.announce('grant.approved', `request:${id}`, grantApproved(r, false));
        return 'approved';
      }
      return 'pending';
    });
    return this.request(id);
  }

  /**
   * Announce every approved grant that ended since the last call (a periodic job, run by one process): each
   * gets its `grant.expired` change and its audit event in one transaction with the watermark, so a grant is
   * announced once, whichever process runs the job and however often it restarts.
   */
  async announceExpiredGrants(now = this.now()): Promise<number> {
    return this.deps.store.transaction(async (repos) => {
      const since = Number((await repos.meta.get(GRANT_EXPIRY_WATERMARK)) ?? now);
      if (now <= since) return 0;
      const ended = await repos.accessRequests.grantsEndedBetween(since, now);
      for (const r of ended) {
        const subject = `request:${r.id}`;
        await repos.changes.announce('grant.expired', subject, { requestId: r.id, userId: r.user_id, deviceId: r.device_id, credentialId: r.credential_id });
        await this.deps.audit.record({ type: 'access.grant_expired', outcome: 'info', actor: 'system', subject, detail: { userId: r.user_id, deviceId: r.device_id, credentialId: r.credential_id, endsAt: r.ends_at } }, repos);
      }
      await repos.meta.set(GRANT_EXPIRY_WATERMARK, String(now));
      return ended.length;
    });
  }

  // ---- password view

  /**
   * Show a credential's secret to a user the policy allows, with a reason when the group requires one.
   * For a split credential each user sees one half, and no user both halves.
   */
  async viewPassword(actor: Actor & { userId: number }, credentialId: number, reason: string | undefined): Promise<{ secret: string; part: 'whole' | 'first-half' | 'second-half' }> {
    const row = await this.deps.store.repos.credentials.credential(credentialId);
    const { decision: d, covered } = row
      ? await this.evaluate(this.deps.store.repos, await this.deps.timeZone(), actor.userId, row.device_id, credentialId, 'password-view', this.now())
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
    const secret = await this.deps.inventory.secretOf(credentialId);
    let part: 'whole' | 'first-half' | 'second-half' = 'whole';
    let shown = secret;
    if (credential.splitView) {
      const half = await this.splitHalfFor(credentialId, actor.userId);
      const cut = Math.ceil([...secret].length / 2);
      const chars = [...secret];
      shown = half === 1 ? chars.slice(0, cut).join('') : chars.slice(cut).join('');
      part = half === 1 ? 'first-half' : 'second-half';
    }
    await this.deps.audit.record({ type: 'vault.password_view', outcome: 'success', actor: actor.username, actorIp: actor.ip, subject: `credential:${credentialId}`, detail: { reason: why, part, rule: d.rule, emergency: d.emergency } });
    return { secret: shown, part };
  }

  // ---- protected information

  /** The decision for one protected item, read through `repos`. */
  private async evaluateItem(repos: Repositories, timeZone: string, userId: number, item: ProtectedItemView, at: number): Promise<Evaluation> {
    const user = await repos.users.byId(userId);
    if (!user) return { decision: { outcome: 'denied', rule: 'no-such-user' }, covered: false };
    const device = item.deviceId === null ? null : ((await repos.devices.device(item.deviceId)) ?? null);
    const rows = await repos.accessGroups.groupsOfUser(userId, item.deviceId);
    const groups: PolicyGroup[] = rows.map((g) => ({
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

  /**
   * The protected items a user may know of: those their groups own (through the owning group or device),
   * each with what the decision says now. Credential managers see every item's description, never its content.
   */
  async listProtected(userId: number): Promise<ProtectedItemAccess[]> {
    const user = await this.deps.store.repos.users.byId(userId);
    if (!user) return [];
    const manager = can(user.profile, 'credentials.manage');
    const timeZone = await this.deps.timeZone();
    const at = this.now();
    const out: ProtectedItemAccess[] = [];
    for (const item of await this.deps.inventory.protectedItems()) {
      const { decision, covered } = await this.evaluateItem(this.deps.store.repos, timeZone, userId, item, at);
      if (covered || manager) out.push({ ...item, access: decision.outcome });
    }
    return out;
  }

  /**
   * Open a protected item for a user the policy allows, as a password view is allowed: the owning device's or
   * group's access groups, their windows and approvals. A reason is always required; every opening and every
   * refusal is audited.
   */
  async openProtected(actor: Actor & { userId: number }, id: number, reason: string): Promise<{ name: string; filename: string; mediaType: string; content: Buffer }> {
    const why = requireText(reason, 'reason', { min: 3, max: 1024 });
    let item: ProtectedItemView | undefined;
    try {
      item = await this.deps.inventory.protectedItem(id);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
    const { decision: d, covered } = item
      ? await this.evaluateItem(this.deps.store.repos, await this.deps.timeZone(), actor.userId, item, this.now())
      : { decision: { outcome: 'denied', rule: 'no-such-item' } as Decision, covered: false };
    if (!item || d.outcome !== 'allowed') {
      await this.deps.audit.record({ type: 'vault.protected_view', outcome: 'failure', actor: actor.username, actorIp: actor.ip, subject: `protected:${id}`, code: 'AUTH_FORBIDDEN', detail: { id, rule: d.rule, reason: why } });
      if (!covered) throw new WardenError('AUTH_FORBIDDEN', 'not allowed');
      throw new WardenError('AUTH_FORBIDDEN', d.outcome === 'approval-required' ? 'approval is required first' : `not allowed (${d.rule})`, { details: { rule: d.rule, outcome: d.outcome } });
    }
    const content = await this.deps.inventory.protectedContent(id);
    await this.deps.audit.record({ type: 'vault.protected_view', outcome: 'success', actor: actor.username, actorIp: actor.ip, subject: item.name.slice(0, 128), detail: { id, reason: why, rule: d.rule, emergency: d.emergency } });
    return { name: item.name, filename: item.filename, mediaType: item.mediaType, content };
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
