// The access decision, table-tested: profiles, device and credential state, protocols offered, groups,
// time windows (across midnight, across the week boundary, across DST), approvals, grant expiry, emergency.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { decide, decideProtectedItem, parseConnectivity, type DecisionInput, type AccessGroupRule, type AccessGrant, type ProtectedItemDecisionInput } from '../../../appliance/access/decision.js';
import { validateTimeWindows, withinWindows, wallClock } from '../../../appliance/access/time-windows.js';
import { InputError } from '../../../appliance/errors/index.js';

const TZ = 'Europe/Berlin';
// Wednesday 2026-11-18 10:00 in Berlin (UTC+1).
const WED_10 = Date.UTC(2026, 10, 18, 9, 0);
const HOUR = 3_600_000;

function group(over: Partial<AccessGroupRule> = {}): AccessGroupRule {
  return {
    id: 1,
    name: 'db-admins',
    enabled: true,
    sessionAllowed: true,
    passwordViewAllowed: false,
    reasonRequired: false,
    approvalRequired: false,
    approvalsNeeded: 1,
    timeWindows: [],
    userIds: new Set([7]),
    deviceIds: new Set([3]),
    credentialIds: new Set([30]),
    ...over,
  };
}

function input(over: Partial<DecisionInput> = {}): DecisionInput {
  return {
    user: { id: 7, profile: 'privileged-access-user', status: 'active' },
    device: { id: 3, status: 'active', connectivity: 'SSH:22,RDP:3389' },
    credential: { id: 30, deviceId: 3, status: 'active' },
    purpose: 'ssh',
    at: WED_10,
    timeZone: TZ,
    groups: [group()],
    grants: [],
    ...over,
  };
}

function grant(over: Partial<AccessGrant> = {}): AccessGrant {
  return { requestId: 99, userId: 7, deviceId: 3, credentialId: 30, purpose: 'session', groupId: 1, startsAt: WED_10 - HOUR, endsAt: WED_10 + HOUR, emergency: false, ...over };
}

describe('access decision', () => {
  const table: [string, Partial<DecisionInput>, string, RegExp][] = [
    ['a member of a plain group', {}, 'allowed', /^group db-admins$/],
    ['a disabled user', { user: { id: 7, profile: 'privileged-access-user', status: 'disabled' } }, 'denied', /user-disabled/],
    ['an auditor (no sessions.use)', { user: { id: 7, profile: 'auditor', status: 'active' } }, 'denied', /profile-no-sessions/],
    ['a password viewer asking for a session', { user: { id: 7, profile: 'password-viewer', status: 'active' } }, 'denied', /profile-no-sessions/],
    ['a disabled device', { device: { id: 3, status: 'disabled', connectivity: 'SSH:22' } }, 'denied', /device-disabled/],
    ['a credential of another device', { credential: { id: 30, deviceId: 4, status: 'active' } }, 'denied', /credential-not-on-device/],
    ['a disabled credential', { credential: { id: 30, deviceId: 3, status: 'disabled' } }, 'denied', /credential-disabled/],
    ['RDP to a device that offers only SSH', { purpose: 'rdp', device: { id: 3, status: 'active', connectivity: 'SSH:22' } }, 'denied', /device-offers-no-rdp/],
    ['a user in no group', { groups: [group({ userIds: new Set([8]) })] }, 'denied', /no-access-group/],
    ['a group without that credential', { groups: [group({ credentialIds: new Set([31]) })] }, 'denied', /no-access-group/],
    ['a disabled group', { groups: [group({ enabled: false })] }, 'denied', /no-access-group/],
    ['a group that allows password view only', { groups: [group({ sessionAllowed: false, passwordViewAllowed: true })] }, 'denied', /groups-allow-no-session/],
    [
      'password view where the group allows it',
      { purpose: 'password-view', user: { id: 7, profile: 'password-viewer', status: 'active' }, groups: [group({ passwordViewAllowed: true })] },
      'allowed',
      /group/,
    ],
    ['password view where it does not', { purpose: 'password-view', user: { id: 7, profile: 'password-viewer', status: 'active' } }, 'denied', /no-password-view/],
    ['a group that requires approval', { groups: [group({ approvalRequired: true, approvalsNeeded: 2 })] }, 'approval-required', /requires approval/],
    ['approval with an approved grant now', { groups: [group({ approvalRequired: true })], grants: [grant()] }, 'allowed', /approved request #99/],
    ['approval with a grant that expired', { groups: [group({ approvalRequired: true })], grants: [grant({ endsAt: WED_10 })] }, 'approval-required', /requires approval/],
    ['approval with a grant not yet begun', { groups: [group({ approvalRequired: true })], grants: [grant({ startsAt: WED_10 + 1 })] }, 'approval-required', /requires approval/],
    ['approval with a grant for another credential', { groups: [group({ approvalRequired: true })], grants: [grant({ credentialId: 31 })] }, 'approval-required', /requires approval/],
    ['approval with a grant for password view only', { groups: [group({ approvalRequired: true })], grants: [grant({ purpose: 'password-view' })] }, 'approval-required', /requires approval/],
    ['approval with a grant through another group', { groups: [group({ approvalRequired: true })], grants: [grant({ groupId: 2 })] }, 'approval-required', /requires approval/],
    ['approval with a grant bound to no group (from before grants had one)', { groups: [group({ approvalRequired: true })], grants: [grant({ groupId: null })] }, 'approval-required', /requires approval/],
    // Break-glass skips the approval of the user's own group, nothing more (security review, issue 7).
    ['emergency access through the own approval group', { groups: [group({ approvalRequired: true })], grants: [grant({ emergency: true })] }, 'allowed', /^emergency-access #99 \(group db-admins\)$/],
    ['emergency access without any group', { groups: [], grants: [grant({ emergency: true })] }, 'denied', /no-access-group/],
    ['emergency access once the user left the group', { groups: [group({ approvalRequired: true, userIds: new Set([8]) })], grants: [grant({ emergency: true })] }, 'denied', /no-access-group/],
    [
      'emergency access outside the group’s window',
      { groups: [group({ approvalRequired: true, timeWindows: [{ days: [1, 2, 3, 4, 5], start: '11:00', end: '12:00' }] })], grants: [grant({ emergency: true })] },
      'denied',
      /outside-time-window/,
    ],
    ['emergency access before the grant begins', { groups: [group({ approvalRequired: true })], grants: [grant({ emergency: true, startsAt: WED_10 + HOUR, endsAt: WED_10 + 2 * HOUR })] }, 'approval-required', /requires approval/],
    ['an approval group and a direct group: direct wins', { groups: [group({ approvalRequired: true }), group({ id: 2, name: 'oncall' })] }, 'allowed', /group oncall/],
    ['outside every time window', { groups: [group({ timeWindows: [{ days: [1, 2, 3, 4, 5], start: '11:00', end: '12:00' }] })] }, 'denied', /outside-time-window/],
    ['inside a working-hours window', { groups: [group({ timeWindows: [{ days: [1, 2, 3, 4, 5], start: '08:00', end: '18:00' }] })] }, 'allowed', /group/],
  ];
  for (const [what, over, outcome, rule] of table) {
    test(`${what} → ${outcome}`, () => {
      const d = decide(input(over));
      assert.equal(d.outcome, outcome, JSON.stringify(d));
      assert.match(d.rule, rule);
    });
  }

  test('reasonRequired and approvalsNeeded travel with the decision', () => {
    const d = decide(input({ groups: [group({ approvalRequired: true, approvalsNeeded: 2, reasonRequired: true })] }));
    assert.deepEqual(d, { outcome: 'approval-required', rule: 'group db-admins requires approval', groupId: 1, approvalsNeeded: 2, reasonRequired: true });
  });
});

describe('protected item decision: the password-view rules through the owning device or group', () => {
  const viewer = { id: 7, profile: 'password-viewer', status: 'active' };
  const viewGroup = (over: Partial<AccessGroupRule> = {}) => group({ sessionAllowed: false, passwordViewAllowed: true, credentialIds: new Set(), ...over });
  function item(over: Partial<ProtectedItemDecisionInput> = {}): ProtectedItemDecisionInput {
    return { user: viewer, item: { id: 5, deviceId: 3, groupId: null }, device: { id: 3, status: 'active' }, at: WED_10, timeZone: TZ, groups: [viewGroup()], grants: [], ...over };
  }
  const pvGrant = (over: Partial<AccessGrant> = {}) => grant({ purpose: 'password-view', ...over });
  const table: [string, Partial<ProtectedItemDecisionInput>, string, RegExp][] = [
    ['a group holding the owning device', {}, 'allowed', /^group db-admins$/],
    ['a profile without passwords.view', { user: { id: 7, profile: 'privileged-access-user', status: 'active' } }, 'denied', /profile-no-password-view/],
    ['a disabled user', { user: { ...viewer, status: 'disabled' } }, 'denied', /user-disabled/],
    ['no group holding the owning device', { groups: [viewGroup({ deviceIds: new Set([4]) })] }, 'denied', /no-access-group/],
    ['a group that allows sessions only', { groups: [viewGroup({ passwordViewAllowed: false, sessionAllowed: true })] }, 'denied', /no-password-view/],
    ['outside the group’s window', { groups: [viewGroup({ timeWindows: [{ days: [1], start: '11:00', end: '12:00' }] })] }, 'denied', /outside-time-window/],
    ['an approval group without a grant', { groups: [viewGroup({ approvalRequired: true })] }, 'approval-required', /requires approval/],
    ['an approval group with a password-view grant on the device through it', { groups: [viewGroup({ approvalRequired: true })], grants: [pvGrant()] }, 'allowed', /approved request #99/],
    ['an approval group with a session grant only', { groups: [viewGroup({ approvalRequired: true })], grants: [grant()] }, 'approval-required', /requires approval/],
    ['an approval group with a grant on another device', { groups: [viewGroup({ approvalRequired: true })], grants: [pvGrant({ deviceId: 4 })] }, 'approval-required', /requires approval/],
    ['a disabled owning device', { device: { id: 3, status: 'disabled' } }, 'denied', /device-disabled/],
    ['an item of the user’s group', { item: { id: 5, deviceId: null, groupId: 1 }, device: null }, 'allowed', /group db-admins/],
    ['an item of another group', { item: { id: 5, deviceId: null, groupId: 2 }, device: null }, 'denied', /no-access-group/],
    ['an item of an approval group, with a grant through it', { item: { id: 5, deviceId: null, groupId: 1 }, device: null, groups: [viewGroup({ approvalRequired: true })], grants: [pvGrant({ deviceId: 8 })] }, 'allowed', /approved request/],
    ['an item without owner, for a password viewer', { item: { id: 5, deviceId: null, groupId: null }, device: null }, 'denied', /item-without-owner/],
    ['an item without owner, for an administrator', { user: { id: 7, profile: 'administrator', status: 'active' }, item: { id: 5, deviceId: null, groupId: null }, device: null }, 'allowed', /credentials.manage/],
  ];
  for (const [what, over, outcome, rule] of table) {
    test(`${what} → ${outcome}`, () => {
      const d = decideProtectedItem(item(over));
      assert.equal(d.outcome, outcome, JSON.stringify(d));
      assert.match(d.rule, rule);
    });
  }
});

describe('time windows', () => {
  const night = [{ days: [5], start: '22:00', end: '06:00' }]; // Friday night into Saturday
  const weekend = [{ days: [6], start: '23:00', end: '01:00' }]; // Saturday into Sunday
  const cases: [string, typeof night, number, string, boolean][] = [
    // Berlin is UTC+1 in November.
    ['Friday 23:30 is inside a Friday 22:00–06:00 slot', night, Date.UTC(2026, 10, 20, 22, 30), TZ, true],
    ['Saturday 05:59 is still inside it (after midnight)', night, Date.UTC(2026, 10, 21, 4, 59), TZ, true],
    ['Saturday 06:00 is outside it', night, Date.UTC(2026, 10, 21, 5, 0), TZ, false],
    ['Saturday 23:00 is outside it (slots start on Fridays only)', night, Date.UTC(2026, 10, 21, 22, 0), TZ, false],
    ['Thursday 23:30 is outside it', night, Date.UTC(2026, 10, 19, 22, 30), TZ, false],
    ['Sunday 00:30 is inside a Saturday 23:00–01:00 slot (week boundary)', weekend, Date.UTC(2026, 10, 21, 23, 30), TZ, true],
    ['Sunday 01:00 is outside it', weekend, Date.UTC(2026, 10, 22, 0, 0), TZ, false],
    ['the same instant is another weekday in Tokyo', weekend, Date.UTC(2026, 10, 21, 23, 30), 'Asia/Tokyo', false],
  ];
  for (const [what, windows, at, tz, expected] of cases) {
    test(what, () => assert.equal(withinWindows(windows, at, tz), expected));
  }

  test('08:00–18:00 follows the wall clock across the DST change', () => {
    const office = [{ days: [1, 2, 3, 4, 5], start: '08:00', end: '18:00' }];
    // Friday 27 March 2026, UTC+1: 07:30Z is 08:30 local. Monday 30 March, UTC+2: 06:30Z is 08:30 local.
    assert.equal(withinWindows(office, Date.UTC(2026, 2, 27, 7, 30), TZ), true);
    assert.equal(withinWindows(office, Date.UTC(2026, 2, 30, 6, 30), TZ), true);
    assert.equal(withinWindows(office, Date.UTC(2026, 2, 27, 6, 30), TZ), false, '07:30 local before the change');
    assert.equal(withinWindows(office, Date.UTC(2026, 2, 30, 5, 30), TZ), false, '07:30 local after the change');
    assert.deepEqual(wallClock(Date.UTC(2026, 2, 29, 1, 30), TZ), { weekday: 0, minute: 3 * 60 + 30 }, '02:00 local does not exist that night');
  });

  test('no windows means any time', () => assert.equal(withinWindows([], WED_10, TZ), true));

  for (const bad of [[{ days: [7], start: '08:00', end: '09:00' }], [{ days: [], start: '08:00', end: '09:00' }], [{ days: [1], start: '8:00', end: '09:00' }], [{ days: [1], start: '08:00', end: '24:00' }], [{ days: [1], start: '08:00', end: '09:00', extra: 1 }], 'always']) {
    test(`invalid windows ${JSON.stringify(bad)} are refused`, () => assert.throws(() => validateTimeWindows(bad), InputError));
  }
});

describe('connectivity field', () => {
  test('parses protocol:port pairs and ignores junk', () => {
    assert.deepEqual([...parseConnectivity('SSH:22, rdp:3389,telnet:0,HTTP:99999,bad,:1')], [['SSH', 22], ['RDP', 3389]]);
  });
});
