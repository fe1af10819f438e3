// The one access decision every protocol asks: may this user reach this device with this credential, by
// this protocol (or view its password), at this moment? Allowed now, allowed after approval, or denied —
// with the rule that decided. A pure function over a snapshot, so it is table-tested and fast.
import { can } from './profiles.js';
import { withinWindows, type TimeWindow } from './time-windows.js';

export type Purpose = 'ssh' | 'rdp' | 'password-view';

/** What an access group allows, and when: the options an administrator sets. */
export interface GroupOptions {
  name: string;
  enabled: boolean;
  sessionAllowed: boolean;
  passwordViewAllowed: boolean;
  reasonRequired: boolean;
  approvalRequired: boolean;
  approvalsNeeded: number;
  timeWindows: TimeWindow[];
}

/** A group as the decision sees it: its options and the members that matter to this decision. */
export interface AccessGroupRule extends GroupOptions {
  id: number;
  /** Whether the time windows are open at the decision's `at`, when a caller deciding many targets at one
   *  moment has worked it out once per group; absent, the decision works it out. */
  windowOpen?: boolean;
  userIds: ReadonlySet<number>;
  deviceIds: ReadonlySet<number>;
  credentialIds: ReadonlySet<number>;
}

/**
 * An approved request (or break-glass). It only ever stands in for the approval of the group it was asked
 * through: `groupId` null (a grant from before that rule) stands for nothing.
 */
export interface AccessGrant {
  requestId: number;
  userId: number;
  deviceId: number;
  credentialId: number;
  purpose: 'session' | 'password-view';
  groupId: number | null;
  startsAt: number;
  endsAt: number;
  emergency: boolean;
}

/** A protected file, token or certificate: it belongs to a device or to an access group (null, null: from before owners). */
export interface ProtectedItemTarget {
  id: number;
  deviceId: number | null;
  groupId: number | null;
}

export interface ProtectedItemDecisionInput {
  user: { id: number; profile: string; status: string };
  item: ProtectedItemTarget;
  /** The owning device, when the item belongs to one (null if it is missing). */
  device: { id: number; status: string } | null;
  at: number;
  timeZone: string;
  /** The user's groups; `deviceIds` holds the owning device for groups that hold it. */
  groups: readonly AccessGroupRule[];
  grants: readonly AccessGrant[];
}

export interface DecisionInput {
  user: { id: number; profile: string; status: string };
  device: { id: number; status: string; connectivity: string };
  credential: { id: number; deviceId: number; status: string };
  purpose: Purpose;
  at: number;
  timeZone: string;
  groups: readonly AccessGroupRule[];
  grants: readonly AccessGrant[];
}

export type Decision =
  | {
      outcome: 'allowed';
      rule: string;
      groupId: number | null;
      grantId: number | null;
      reasonRequired: boolean;
      emergency: boolean;
      /** Every group that admits on its own right now (groupId is the first): their command rules all apply. */
      groupIds?: number[];
    }
  | { outcome: 'approval-required'; rule: string; groupId: number; approvalsNeeded: number; reasonRequired: boolean }
  | { outcome: 'denied'; rule: string };

/** Ports a device offers per protocol, from its connectivity field ("SSH:22,RDP:3389"). */
export function parseConnectivity(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of text.split(',')) {
    const m = /^\s*([A-Za-z][A-Za-z0-9-]*)\s*:\s*(\d{1,5})\s*$/.exec(part);
    if (m && Number(m[2]) > 0 && Number(m[2]) < 65536) out.set(m[1]!.toUpperCase(), Number(m[2]));
  }
  return out;
}

export function decide(input: DecisionInput): Decision {
  const { user, device, credential, purpose, at } = input;
  if (user.status !== 'active') return { outcome: 'denied', rule: 'user-disabled' };
  const session = purpose !== 'password-view';
  if (!can(user.profile, session ? 'sessions.use' : 'passwords.view')) return { outcome: 'denied', rule: session ? 'profile-no-sessions' : 'profile-no-password-view' };
  if (device.status !== 'active') return { outcome: 'denied', rule: 'device-disabled' };
  if (credential.deviceId !== device.id) return { outcome: 'denied', rule: 'credential-not-on-device' };
  if (credential.status !== 'active') return { outcome: 'denied', rule: 'credential-disabled' };
  if (session && !parseConnectivity(device.connectivity).has(purpose.toUpperCase())) return { outcome: 'denied', rule: `device-offers-no-${purpose}` };

  const grantPurpose = session ? 'session' : 'password-view';
  const grants = input.grants.filter(
    (g) => g.userId === user.id && g.deviceId === device.id && g.credentialId === credential.id && g.purpose === grantPurpose && at >= g.startsAt && at < g.endsAt,
  );
  const matching = input.groups.filter((g) => g.enabled && g.userIds.has(user.id) && g.deviceIds.has(device.id) && g.credentialIds.has(credential.id));
  return throughGroups(matching, session, at, input.timeZone, grants);
}

/**
 * May this user open this protected item now? The same rules as a password view: the user's groups that
 * own the item (the group itself, or the groups holding the owning device) must allow password view, be in
 * a time window, and either need no approval or hold a grant through that group — a password-view grant on
 * the owning device, or (for a group's item) any password-view grant through the group. An item without an
 * owner (created before owners existed) is for credential managers only: nobody else is presumed entitled.
 */
export function decideProtectedItem(input: ProtectedItemDecisionInput): Decision {
  const { user, item, at } = input;
  if (user.status !== 'active') return { outcome: 'denied', rule: 'user-disabled' };
  if (!can(user.profile, 'passwords.view')) return { outcome: 'denied', rule: 'profile-no-password-view' };
  if (item.deviceId === null && item.groupId === null) {
    return can(user.profile, 'credentials.manage')
      ? { outcome: 'allowed', rule: 'item-without-owner: credentials.manage', groupId: null, grantId: null, reasonRequired: true, emergency: false }
      : { outcome: 'denied', rule: 'item-without-owner' };
  }
  let matching: AccessGroupRule[];
  let grants: AccessGrant[];
  const current = input.grants.filter((g) => g.userId === user.id && g.purpose === 'password-view' && at >= g.startsAt && at < g.endsAt);
  if (item.deviceId !== null) {
    const device = input.device;
    if (!device || device.id !== item.deviceId) return { outcome: 'denied', rule: 'no-access-group' };
    if (device.status !== 'active') return { outcome: 'denied', rule: 'device-disabled' };
    matching = input.groups.filter((g) => g.enabled && g.userIds.has(user.id) && g.deviceIds.has(device.id));
    grants = current.filter((g) => g.deviceId === device.id);
  } else {
    matching = input.groups.filter((g) => g.enabled && g.userIds.has(user.id) && g.id === item.groupId);
    grants = current;
  }
  return throughGroups(matching, false, at, input.timeZone, grants);
}

/**
 * The groups' part of every decision: `matching` are the enabled groups that hold the user and the target,
 * `grants` the user's grants for this target running at `at`. A grant counts only through the group it was
 * asked through, and only while that group still holds the user and the target and its window is open.
 */
function throughGroups(matching: readonly AccessGroupRule[], session: boolean, at: number, timeZone: string, grants: readonly AccessGrant[]): Decision {
  if (matching.length === 0) return { outcome: 'denied', rule: 'no-access-group' };
  const permitting = matching.filter((g) => (session ? g.sessionAllowed : g.passwordViewAllowed));
  if (permitting.length === 0) return { outcome: 'denied', rule: session ? 'groups-allow-no-session' : 'groups-allow-no-password-view' };
  const inTime = permitting.filter((g) => g.windowOpen ?? withinWindows(g.timeWindows, at, timeZone));
  if (inTime.length === 0) return { outcome: 'denied', rule: `outside-time-window (${permitting.map((g) => g.name).join(', ')})` };

  const direct = inTime.find((g) => !g.approvalRequired);
  if (direct) {
    const admitting = inTime.filter((g) => !g.approvalRequired).map((g) => g.id);
    return { outcome: 'allowed', rule: `group ${direct.name}`, groupId: direct.id, grantId: null, reasonRequired: direct.reasonRequired, emergency: false, groupIds: admitting };
  }
  for (const grant of grants) {
    const via = inTime.find((g) => g.id === grant.groupId);
    if (!via) continue;
    const rule = grant.emergency ? `emergency-access #${grant.requestId} (group ${via.name})` : `approved request #${grant.requestId} (group ${via.name})`;
    return { outcome: 'allowed', rule, groupId: via.id, grantId: grant.requestId, reasonRequired: false, emergency: grant.emergency, groupIds: [via.id] };
  }
  const approving = inTime[0]!;
  return { outcome: 'approval-required', rule: `group ${approving.name} requires approval`, groupId: approving.id, approvalsNeeded: approving.approvalsNeeded, reasonRequired: approving.reasonRequired };
}
