// The access-group page's API: a group's settings without its members (with the appliance's time zone), its
// settings changed without touching the members (PATCH), one page of members of a kind with a filter, one
// member added or removed at a time (audited, idempotent, the approval rule holding), and the permission.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { InitializedHome } from '../helpers/fixtures.js';
import { ApiClient, type RunningDaemon, daemonWithAdmin, signInAccounts } from '../helpers/web-daemon.js';

describe('access groups: the group page API', () => {
  let home: InitializedHome;
  let d: RunningDaemon;
  let admin: ApiClient;
  const clients: Record<string, ApiClient> = {};
  const ids: Record<string, number> = {};

  before(async () => {
    ({ home, d, admin } = await daemonWithAdmin());
    await signInAccounts(admin, d, [['ana', 'privileged-access-user'], ['bruno', 'privileged-access-user'], ['chefe', 'administrator'], ['audit', 'auditor']] as const, clients, ids);
    for (const [name, address] of [['web01', '127.0.3.1'], ['web02', '127.0.3.2'], ['db01', '127.0.3.3']] as const) {
      const r = await admin.call('POST', '/api/v1/devices', { hostname: name, address, connectivity: 'SSH:22' });
      assert.equal(r.status, 201, r.body);
      ids[name] = r.json.device.id;
    }
    const c = await admin.call('POST', '/api/v1/credentials', { deviceId: ids.web01, username: 'root', secret: 'S3cret-Root-Pass', kind: 'local-privileged' });
    assert.equal(c.status, 201, c.body);
    ids.cred = c.json.credential.id;
    const g = await admin.call('POST', '/api/v1/access-groups', { name: 'web-ops', deviceIds: [ids.web01, ids.web02] });
    assert.equal(g.status, 201, g.body);
    ids.group = g.json.group.id;
  });
  after(async () => {
    await d?.stop();
    home?.cleanup();
  });

  async function audit(type: string) {
    const r = await admin.call('GET', `/api/v1/audit?type=${type}&limit=50`);
    assert.equal(r.status, 200, r.body);
    return r.json.events as { type: string; detail: Record<string, unknown>; actor: string }[];
  }

  test('members change one at a time, audited; a second add or remove changes nothing', async () => {
    const base = `/api/v1/access-groups/${ids.group}/members`;
    let r = await admin.call('PUT', `${base}/users/${ids.ana}`);
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.json, { changed: true });
    assert.deepEqual((await admin.call('PUT', `${base}/users/${ids.ana}`)).json, { changed: false });
    assert.equal((await admin.call('PUT', `${base}/users/${ids.bruno}`)).status, 200);
    assert.equal((await admin.call('PUT', `${base}/credentials/${ids.cred}`)).status, 200);
    assert.equal((await admin.call('PUT', `${base}/approvers/${ids.chefe}`)).status, 200);

    r = await admin.call('GET', `${base}/users`);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.total, 2);
    assert.deepEqual(r.json.members, [
      { id: ids.ana, name: 'ana', detail: 'ana' },
      { id: ids.bruno, name: 'bruno', detail: 'bruno' },
    ]);
    r = await admin.call('GET', `${base}/devices?q=WEB0&limit=1&offset=1`);
    assert.deepEqual([r.json.total, r.json.members], [2, [{ id: ids.web02, name: 'web02', detail: '127.0.3.2' }]]);
    r = await admin.call('GET', `${base}/credentials`);
    assert.deepEqual(r.json.members, [{ id: ids.cred, name: 'root', detail: 'web01' }]);

    // The whole group reads the same members (the one source of truth).
    const whole = (await admin.call('GET', `/api/v1/access-groups/${ids.group}`)).json.group;
    assert.deepEqual([...whole.userIds].sort(), [ids.ana, ids.bruno].sort());
    assert.deepEqual(whole.credentialIds, [ids.cred]);

    r = await admin.call('DELETE', `${base}/users/${ids.bruno}`);
    assert.deepEqual([r.status, r.json], [200, { changed: true }]);
    assert.deepEqual((await admin.call('DELETE', `${base}/users/${ids.bruno}`)).json, { changed: false });
    assert.equal((await admin.call('GET', `${base}/users`)).json.total, 1);

    const added = await audit('access_group.member_add');
    assert.equal(added.length, 5, 'the repeated add is audited too (it was asked), as no change');
    assert.equal(added.filter((e) => e.detail.changed === false).length, 1);
    assert.deepEqual(added.find((e) => e.detail.kind === 'credentials')?.detail, { groupId: ids.group, kind: 'credentials', memberId: ids.cred, changed: true });
    const removed = await audit('access_group.member_remove');
    assert.ok(removed.some((e) => e.detail.memberId === ids.bruno && e.detail.kind === 'users'));
  });

  test('unknown members, kinds and groups are refused', async () => {
    assert.equal((await admin.call('PUT', `/api/v1/access-groups/${ids.group}/members/users/99999`)).status, 404);
    assert.equal((await admin.call('PUT', `/api/v1/access-groups/${ids.group}/members/devices/99999`)).status, 404);
    assert.equal((await admin.call('PUT', `/api/v1/access-groups/${ids.group}/members/owners/${ids.ana}`)).status, 400);
    assert.equal((await admin.call('GET', `/api/v1/access-groups/99999/members/users`)).status, 404);
    assert.equal((await admin.call('PUT', `/api/v1/access-groups/99999/members/users/${ids.ana}`)).status, 404);
    assert.equal((await admin.call('GET', `/api/v1/access-groups/${ids.group}/members/users?limit=501`)).status, 400);
  });

  test('summary: settings and counts without the members, and the time zone windows are read in', async () => {
    const r = await admin.call('GET', `/api/v1/access-groups/${ids.group}/summary`);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.group.name, 'web-ops');
    assert.deepEqual(r.json.group.counts, { users: 1, approvers: 1, devices: 2, credentials: 1 });
    assert.equal('userIds' in r.json.group, false);
    assert.equal(typeof r.json.timeZone, 'string');
    assert.ok(r.json.timeZone.length > 0);
  });

  test('PATCH changes settings and time windows, leaves the members, and keeps the approval rule', async () => {
    const url = `/api/v1/access-groups/${ids.group}`;
    const windows = [{ days: [1, 2, 3, 4, 5], start: '08:00', end: '18:00' }];
    let r = await admin.call('PATCH', url, { timeWindows: windows, reasonRequired: true });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.json.group.timeWindows, windows);
    assert.equal(r.json.group.reasonRequired, true);
    assert.deepEqual(r.json.group.counts, { users: 1, approvers: 1, devices: 2, credentials: 1 }, 'members untouched');
    const whole = (await admin.call('GET', url)).json.group;
    assert.deepEqual([whole.name, whole.timeWindows, whole.deviceIds.length], ['web-ops', windows, 2]);

    // Two approvals with one approver: refused, and nothing changed.
    r = await admin.call('PATCH', url, { approvalRequired: true, approvalsNeeded: 2 });
    assert.equal(r.status, 400, r.body);
    assert.equal((await admin.call('GET', url)).json.group.approvalRequired, false);
    r = await admin.call('PATCH', url, { approvalRequired: true });
    assert.equal(r.status, 200, r.body);
    // The group's last approver cannot be removed while the group requires approval.
    r = await admin.call('DELETE', `${url}/members/approvers/${ids.chefe}`);
    assert.equal(r.status, 400, r.body);
    assert.equal((await admin.call('GET', `${url}/summary`)).json.group.counts.approvers, 1);

    assert.equal((await admin.call('PATCH', url, { userIds: [] })).status, 400, 'members are not PATCHed');
    assert.equal((await admin.call('PATCH', url, { timeWindows: [{ days: [9], start: '08:00', end: '18:00' }] })).status, 400);
    assert.equal((await admin.call('PATCH', url, { name: '' })).status, 400);
    const other = await admin.call('POST', '/api/v1/access-groups', { name: 'db-ops' });
    assert.equal((await admin.call('PATCH', `/api/v1/access-groups/${other.json.group.id}`, { name: 'web-ops' })).status, 409);
    assert.equal((await admin.call('PATCH', '/api/v1/access-groups/99999', { reasonRequired: true })).status, 404);
    assert.ok((await audit('access_group.update')).length >= 2);
  });

  test('a profile without access.manage is refused every one of them', async () => {
    const c = clients.audit!;
    const g = ids.group;
    assert.equal((await c.call('GET', `/api/v1/access-groups/${g}/summary`)).status, 403);
    assert.equal((await c.call('GET', `/api/v1/access-groups/${g}/members/users`)).status, 403);
    assert.equal((await c.call('PUT', `/api/v1/access-groups/${g}/members/users/${ids.bruno}`)).status, 403);
    assert.equal((await c.call('DELETE', `/api/v1/access-groups/${g}/members/users/${ids.ana}`)).status, 403);
    assert.equal((await c.call('PATCH', `/api/v1/access-groups/${g}`, { reasonRequired: false })).status, 403);
    assert.equal((await admin.call('GET', `/api/v1/access-groups/${g}/members/users`)).json.total, 1);
  });
});
