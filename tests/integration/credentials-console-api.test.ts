// What the console's Credentials page asks of the API: the protected files list pages on the server
// (`?q=&limit=&offset=` → `{ files, total }`, still answering `items` for callers from before it paged) and
// shows each user only what their groups own; the credentials list tells whoever may view passwords where they
// stand with each credential of the page (allowed with a reason, approval needed, already requested,
// unavailable), and tells nothing of it to a profile that may not view passwords; "my devices" pages.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { InitializedHome } from '../helpers/fixtures.js';
import { daemonWithAdmin, signInAccounts, type ApiClient, type RunningDaemon } from '../helpers/web-daemon.js';

describe('credentials page API: protected files paging, password-view states in the credentials list', () => {
  let home: InitializedHome;
  let d: RunningDaemon;
  let admin: ApiClient;
  const clients: Record<string, ApiClient> = {};
  const ids: Record<string, number> = {};

  const upload = (name: string, owner: Record<string, number>) =>
    admin.call('POST', '/api/v1/protected', { name, kind: 'file', filename: `${name.replace(/ /g, '-')}.txt`, mediaType: 'text/plain', contentBase64: Buffer.from(`content of ${name}`).toString('base64'), ...owner });

  before(async () => {
    ({ home, d, admin } = await daemonWithAdmin());
    ids.admin = (await admin.call('GET', '/api/v1/me')).json.user.id;
    await signInAccounts(admin, d, [['viewer', 'password-viewer'], ['lead', 'administrator'], ['config', 'configurator'], ['runner', 'privileged-access-user']], clients, ids);
    for (const [name, address] of [['db01', '127.0.3.1'], ['db02', '127.0.3.2'], ['web01', '127.0.3.3']] as const) {
      const r = await admin.call('POST', '/api/v1/devices', { hostname: name, address, connectivity: 'SSH:22' });
      assert.equal(r.status, 201, r.body);
      ids[name] = r.json.device.id;
    }
    for (const [key, device] of [['direct', 'db01'], ['approval', 'db02'], ['none', 'web01']] as const) {
      const r = await admin.call('POST', '/api/v1/credentials', { deviceId: ids[device], username: `u-${key}`, secret: `S3cret-${key}` });
      assert.equal(r.status, 201, r.body);
      ids[key] = r.json.credential.id;
    }
    const groups = [
      { name: 'db01-readers', sessionAllowed: false, passwordViewAllowed: true, reasonRequired: true, userIds: [ids.admin, ids.viewer], deviceIds: [ids.db01], credentialIds: [ids.direct] },
      { name: 'db02-approval', sessionAllowed: false, passwordViewAllowed: true, approvalRequired: true, approverIds: [ids.lead], userIds: [ids.admin], deviceIds: [ids.db02], credentialIds: [ids.approval] },
    ];
    for (const g of groups) {
      const r = await admin.call('POST', '/api/v1/access-groups', g);
      assert.equal(r.status, 201, r.body);
      ids[g.name] = r.json.group.id;
    }
    for (const [name, owner] of [
      ['db01 runbook', { deviceId: ids.db01! }],
      ['db01 recovery codes', { deviceId: ids.db01! }],
      ['group notes', { accessGroupId: ids['db01-readers']! }],
      ['web01 keys', { deviceId: ids.web01! }],
      ['db02 runbook', { deviceId: ids.db02! }],
    ] as const) {
      const r = await upload(name, owner);
      assert.equal(r.status, 201, r.body);
      ids[name] = r.json.id;
    }
  });
  after(async () => {
    await d?.stop();
    home?.cleanup();
  });

  test('a credential manager pages through every protected file by name, filtered by text on the server', async () => {
    const first = await admin.call('GET', '/api/v1/protected?limit=2');
    assert.equal(first.status, 200, first.body);
    assert.equal(first.json.total, 5);
    assert.deepEqual(first.json.files.map((f: { name: string }) => f.name), ['db01 recovery codes', 'db01 runbook']);
    assert.deepEqual(first.json.items, first.json.files, 'the old name of the list answers the same page');
    const next = await admin.call('GET', '/api/v1/protected?limit=2&offset=2');
    assert.deepEqual(next.json.files.map((f: { name: string }) => f.name), ['db02 runbook', 'group notes']);
    const found = await admin.call('GET', `/api/v1/protected?q=${encodeURIComponent('RUNBOOK')}`);
    assert.deepEqual([found.json.total, found.json.files.map((f: { name: string }) => f.name)], [2, ['db01 runbook', 'db02 runbook']]);
    assert.deepEqual(next.json.files.map((f: { ownerName: string }) => f.ownerName), ['db02', 'db01-readers'], 'each names its owner');
    const byFile = await admin.call('GET', '/api/v1/protected?q=keys.txt');
    assert.deepEqual(byFile.json.files.map((f: { name: string }) => f.name), ['web01 keys']);
    // Wildcards are plain characters.
    assert.equal((await admin.call('GET', '/api/v1/protected?q=%25')).json.total, 0);
    // Each with what the decision says for the caller: the admin is in db01-readers (direct), db02-approval (approval), not web01.
    const access = Object.fromEntries((await admin.call('GET', '/api/v1/protected?limit=500')).json.files.map((f: { name: string; access: string }) => [f.name, f.access]));
    assert.deepEqual(access, { 'db01 recovery codes': 'allowed', 'db01 runbook': 'allowed', 'db02 runbook': 'approval-required', 'group notes': 'allowed', 'web01 keys': 'denied' });
  });

  test('anyone else pages through only what their groups own, and the total counts only that', async () => {
    const all = await clients.viewer!.call('GET', '/api/v1/protected');
    assert.equal(all.status, 200, all.body);
    assert.deepEqual([all.json.total, all.json.files.map((f: { name: string }) => f.name)], [3, ['db01 recovery codes', 'db01 runbook', 'group notes']]);
    assert.deepEqual(all.json.items, all.json.files);
    const page = await clients.viewer!.call('GET', '/api/v1/protected?limit=1&offset=2&q=o');
    assert.deepEqual([page.json.total, page.json.files.map((f: { name: string }) => f.name)], [3, ['group notes']]);
    assert.equal((await clients.viewer!.call('GET', '/api/v1/protected?q=web01')).json.total, 0, 'what exists elsewhere is not counted');
  });

  test('the paging is checked at the edge: at most 500, no unknown parameters; a profile without passwords.view is refused', async () => {
    assert.equal((await admin.call('GET', '/api/v1/protected?limit=501')).status, 400);
    assert.equal((await admin.call('GET', '/api/v1/protected?limit=0')).status, 400);
    assert.equal((await admin.call('GET', '/api/v1/protected?owner=1')).status, 400);
    assert.equal((await clients.runner!.call('GET', '/api/v1/protected')).status, 403);
    assert.equal((await clients.config!.call('GET', '/api/v1/protected')).status, 403);
  });

  test('the credentials list says where the caller stands with viewing each password, and a pending request shows', async () => {
    const states = async () =>
      Object.fromEntries((await admin.call('GET', '/api/v1/credentials?q=u-')).json.credentials.map((c: { username: string; passwordView: unknown }) => [c.username, c.passwordView]));
    assert.deepEqual(await states(), {
      'u-direct': { state: 'reason-required' },
      'u-approval': { state: 'needs-approval', approvalsNeeded: 1 },
      'u-none': { state: 'unavailable' },
    });
    const asked = await admin.call('POST', '/api/v1/access-requests', { deviceId: ids.db02, credentialId: ids.approval, purpose: 'password-view', reason: 'quarterly check' });
    assert.equal(asked.status, 201, asked.body);
    assert.deepEqual((await states())['u-approval'], { state: 'requested', approvalsNeeded: 1, requestId: asked.json.request.id });
    assert.equal((await clients.lead!.call('POST', `/api/v1/access-requests/${asked.json.request.id}/approve`, { comment: 'ok' })).status, 200);
    assert.deepEqual((await states())['u-approval'], { state: 'allowed' }, 'the approved grant admits without a reason');
    // Disabling the credential makes it unavailable.
    assert.equal((await admin.call('POST', `/api/v1/credentials/${ids.direct}/disable`)).status, 200);
    assert.deepEqual((await states())['u-direct'], { state: 'unavailable' });
    assert.equal((await admin.call('POST', `/api/v1/credentials/${ids.direct}/enable`)).status, 200);
  });

  test('"my devices" (what a password viewer without devices.read lists) pages by ?limit=&offset= given as query strings', async () => {
    const first = await admin.call('GET', '/api/v1/my/devices?limit=1');
    assert.equal(first.status, 200, first.body);
    assert.deepEqual([first.json.offset, first.json.more, first.json.devices.map((x: { hostname: string }) => x.hostname)], [0, true, ['db01']]);
    const second = await admin.call('GET', '/api/v1/my/devices?limit=1&offset=1&q=db');
    assert.deepEqual([second.json.offset, second.json.more, second.json.devices.map((x: { hostname: string }) => x.hostname)], [1, false, ['db02']]);
    assert.equal(second.json.devices[0].credentials[0].states['password-view'].state, 'allowed');
    for (const bad of ['limit=0', 'limit=x', 'offset=-1', 'limit=100001']) assert.equal((await admin.call('GET', `/api/v1/my/devices?${bad}`)).status, 400, bad);
  });

  test('a profile that may read devices but not view passwords reads no password-view state', async () => {
    const r = await clients.config!.call('GET', '/api/v1/credentials');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.total, 3);
    for (const c of r.json.credentials) {
      assert.equal('passwordView' in c, false);
      assert.equal(typeof c.hostname, 'string');
      assert.equal(c.deviceStatus, 'active');
    }
    assert.equal((await clients.viewer!.call('GET', '/api/v1/credentials')).status, 403);
  });
});
