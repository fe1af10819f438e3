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
export interface PolicyGroup extends GroupOptions {
  id: number;
  userIds: ReadonlySet<number>;
  deviceIds: ReadonlySet<number>;
  credentialIds: ReadonlySet<number>;
}

export interface PolicyGrant {
  requestId: number;
  userId: number;
  deviceId: number;
  credentialId: number;
  purpose: 'session' | 'password-view';
  startsAt: number;
  endsAt: number;
  emergency: boolean;
}

export interface DecisionInput {
  user: { id: number; profile: string; status: string };
  device: { id: number; status: string; connectivity: string };
  credential: { id: number; deviceId: number; status: string };
  purpose: Purpose;
  at: number;
  timeZone: string;
  groups: readonly PolicyGroup[];
  grants: readonly PolicyGrant[];
}

export type Decision =
  | { outcome: 'allowed'; rule: string; groupId: number | null; grantId: number | null; reasonRequired: boolean; emergency: boolean }
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
  const grant = input.grants.find(
    (g) => g.userId === user.id && g.deviceId === device.id && g.credentialId === credential.id && g.purpose === grantPurpose && at >= g.startsAt && at < g.endsAt,
  );
  if (grant?.emergency) return { outcome: 'allowed', rule: `emergency-access #${grant.requestId}`, groupId: null, grantId: grant.requestId, reasonRequired: false, emergency: true };

  const matching = input.groups.filter((g) => g.enabled && g.userIds.has(user.id) && g.deviceIds.has(device.id) && g.credentialIds.has(credential.id));
  if (matching.length === 0) return { outcome: 'denied', rule: 'no-access-group' };
  const permitting = matching.filter((g) => (session ? g.sessionAllowed : g.passwordViewAllowed));
  if (permitting.length === 0) return { outcome: 'denied', rule: session ? 'groups-allow-no-session' : 'groups-allow-no-password-view' };
  const inTime = permitting.filter((g) => withinWindows(g.timeWindows, at, input.timeZone));
  if (inTime.length === 0) return { outcome: 'denied', rule: `outside-time-window (${permitting.map((g) => g.name).join(', ')})` };

  const direct = inTime.find((g) => !g.approvalRequired);
  if (direct) return { outcome: 'allowed', rule: `group ${direct.name}`, groupId: direct.id, grantId: null, reasonRequired: direct.reasonRequired, emergency: false };
  const approving = inTime[0]!;
  if (grant) return { outcome: 'allowed', rule: `approved request #${grant.requestId}`, groupId: approving.id, grantId: grant.requestId, reasonRequired: false, emergency: false };
  return { outcome: 'approval-required', rule: `group ${approving.name} requires approval`, groupId: approving.id, approvalsNeeded: approving.approvalsNeeded, reasonRequired: approving.reasonRequired };
}
