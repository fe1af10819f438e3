// Access requests with approvals, emergency (break-glass) access, and the grants they become. Approved and
// expired grants are announced on the store's change feed, so a proxy in any process can end the live
// sessions a grant no longer covers.
import type { Store, AccessRequestRow, AccessRequestListRow, ChangeTopics } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import { InputError, NotFoundError, WardenError } from '../errors/index.js';
import { requireText } from '../errors/index.js';
import type { Purpose } from './decision.js';
import type { AccessDecisions } from './access-decisions.js';
import { audited } from './audited.js';
import { flag } from './input.js';
import { actorEvent, type Actor } from './user-admin.js';

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

/**
 * The longest grant, approved or emergency: a request's period (startsAt to endsAt) may not exceed it, and
 * the grant stored is exactly that period. Groups set no maximum of their own.
 */
export const MAX_GRANT_MS = 7 * 86_400_000;
/** A request without endsAt lasts this long (emergency: `emergencyMinutes`, 60 by default). */
const DEFAULT_GRANT_MS = 3_600_000;

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

/** A request as the console's lists show it: with who asked, the device's and the credential's names. */
export interface AccessRequestListItem extends AccessRequestView {
  requester: string | null;
  hostname: string | null;
  credentialUsername: string | null;
  createdAt: string;
  decidedAt: string | null;
}

function listItem(r: AccessRequestListRow): AccessRequestListItem {
  return {
    ...requestView(r, r.approvals),
    requester: r.requester,
    hostname: r.hostname,
    credentialUsername: r.credential_username,
    createdAt: new Date(Number(r.created_at)).toISOString(),
    decidedAt: r.decided_at === null ? null : new Date(Number(r.decided_at)).toISOString(),
  };
}

function grantApproved(r: Pick<AccessRequestRow, 'id' | 'user_id' | 'device_id' | 'credential_id' | 'purpose' | 'starts_at' | 'ends_at'>, emergency: boolean): ChangeTopics['grant.approved'] {
  return { requestId: r.id, userId: r.user_id, deviceId: r.device_id, credentialId: r.credential_id, purpose: r.purpose, startsAt: Number(r.starts_at), endsAt: Number(r.ends_at), emergency };
}

export class AccessRequestService {
  constructor(
    private readonly deps: {
      store: Store;
      audit: AuditTrail;
      decisions: AccessDecisions;
      clock?: () => number;
      /** How long emergency (break-glass) access lasts. */
      emergencyMinutes?: number;
    },
  ) {}

  private now(): number {
    return (this.deps.clock ?? Date.now)();
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
    const timeZone = await this.deps.decisions.timeZone();
    const at = Math.max(now, startsAt);
    let refusal: { rule: string } | undefined;
    try {
      // The decision is read in the transaction that writes the request: nothing changes in between.
      const id = await this.deps.store.transaction(async (repos) => {
        const device = await repos.devices.device(deviceId);
        const decisionPurpose: Purpose = purpose === 'password-view' ? 'password-view' : this.sessionProtocol(device ?? { connectivity: '' });
        const { decision: d, covered } = await this.deps.decisions.decideIn(repos, timeZone, actor.userId, deviceId, credentialId, decisionPurpose, at);
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

  /** One page of the user's own requests, newest first, optionally of one status, and how many there are. */
  async pageMyRequests(userId: number, page: { status?: AccessRequestRow['status']; limit: number; offset: number }): Promise<{ requests: AccessRequestListItem[]; total: number }> {
    const { rows, total } = await this.deps.store.repos.accessRequests.pageRequestsOf(userId, page);
    return { requests: rows.map(listItem), total };
  }

  /** One page of the approver's inbox (as toDecide), oldest first, and how many wait. */
  async pageToDecide(approverId: number, page: { limit: number; offset: number }): Promise<{ requests: AccessRequestListItem[]; total: number }> {
    const { rows, total } = await this.deps.store.repos.accessRequests.pagePendingFor(approverId, page);
    return { requests: rows.map(listItem), total };
  }

  /** Whether the user approves for any enabled group: the console shows the approvals inbox only to them. */
  async isApprover(userId: number): Promise<boolean> {
    return this.deps.store.repos.accessGroups.approvesAnyGroup(userId);
  }

  /** The approver's in-app inbox: pending requests they may still decide (not those they decided already). */
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
    await audited(this.deps.audit, { type: decision === 'approve' ? 'access.approve' : 'access.deny', actor, subject: `request:${id}`, detail: { comment: note } }, async (repos) => {
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
}
