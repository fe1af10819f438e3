// The attacks of the access-policy security review (issue 7), through the web daemon's API: break-glass
// beyond one's groups, windows and grant length; protected files outside the policy; media types that
// break downloads; "my" views that reveal what exists.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import SQLite from 'better-sqlite3';
import { loadConfig } from '../../appliance/config/index.js';
import { initializedHome, strongPassword, type InitializedHome } from '../helpers/fixtures.js';
import { ApiClient, startWebDaemon, type RunningDaemon } from '../helpers/web-daemon.js';

const DAY = 86_400_000;

describe('access API: the security review attacks (issue 7)', () => {
  let home: InitializedHome;
  let d: RunningDaemon;
  let admin: ApiClient;
  let sqlitePath: string;
  const clients: Record<string, ApiClient> = {};
  const ids: Record<string, number> = {};

  /** A weekly slot that is surely not now (the appliance runs on UTC here). */
  function notNowWindow() {
    const day = (new Date().getUTCDay() + 3) % 7;
    return [{ days: [day], start: '00:00', end: '00:01' }];
  }

  before(async () => {
    home = await initializedHome();
    sqlitePath = loadConfig({ WARDEN_HOME: home.home }).store.sqlitePath;
    d = await startWebDaemon(home);
    admin = new ApiClient(d);
    await admin.loginAndChange('admin', home.oneTimePassword, strongPassword());
    assert.equal((await admin.call('PUT', '/api/v1/settings', { timeZone: 'UTC' })).status, 200);
    for (const [name, profile] of [['viewer', 'password-viewer'], ['nightly', 'password-viewer'], ['ops', 'privileged-access-and-view-user'], ['lead', 'administrator']]) {
      const r = await admin.call('POST', '/api/v1/users', { username: name, fullName: name, email: `${name}@example.test`, profile });
      ids[name] = r.json.user.id;
      clients[name] = new ApiClient(d);
      await clients[name]!.loginAndChange(name, r.json.oneTimePassword, strongPassword());
    }
    for (const [name, address] of [['vault01', '127.0.2.21'], ['vault02', '127.0.2.22'], ['files01', '127.0.2.23']]) {
      const r = await admin.call('POST', '/api/v1/devices', { hostname: name, address, connectivity: 'SSH:22' });
      assert.equal(r.status, 201, r.body);
      ids[name] = r.json.device.id;
    }
    for (const [key, device, username] of [['c1', 'vault01', 'root'], ['c1b', 'vault01', 'backup'], ['c2', 'vault02', 'root']] as const) {
      const r = await admin.call('POST', '/api/v1/credentials', { deviceId: ids[device], username, secret: `S3cret-${key}-value` });
      assert.equal(r.status, 201, r.body);
      ids[key] = r.json.credential.id;
    }
    const groups = [
      // viewer may see c1 after approval (any time).
      { name: 'vault-approval', sessionAllowed: false, passwordViewAllowed: true, approvalRequired: true, approverIds: [ids.lead], userIds: [ids.viewer], deviceIds: [ids.vault01], credentialIds: [ids.c1] },
      // nightly may see c2 after approval, but only in a slot that is not now.
      { name: 'night-shift', sessionAllowed: false, passwordViewAllowed: true, approvalRequired: true, approverIds: [ids.lead], userIds: [ids.nightly], deviceIds: [ids.vault02], credentialIds: [ids.c2], timeWindows: notNowWindow() },
      // Neither viewer nor nightly is in this one.
      { name: 'secret-team', passwordViewAllowed: true, userIds: [ids.ops], deviceIds: [ids.vault02], credentialIds: [ids.c2] },
      // viewer reads the files of files01 directly, with a reason.
      { name: 'file-readers', sessionAllowed: false, passwordViewAllowed: true, reasonRequired: true, userIds: [ids.viewer], deviceIds: [ids.files01], credentialIds: [] },
    ];
    for (const g of groups) {
      const r = await admin.call('POST', '/api/v1/access-groups', g);
      assert.equal(r.status, 201, r.body);
      ids[g.name] = r.json.group.id;
    }
  });
  after(async () => {
    await d?.stop();
    home?.cleanup();
  });

  describe('finding 1: break-glass stays inside the user’s own groups', () => {
    test('a password viewer in no group for the credential gets no emergency grant and no password', async () => {
      const r = await clients.viewer!.call('POST', '/api/v1/access-requests', { deviceId: ids.vault02, credentialId: ids.c2, purpose: 'password-view', reason: 'production is down', emergency: true });
      assert.notEqual(r.status, 201, r.body);
      assert.equal(r.body.includes('secret-team'), false, 'no name of a group the user is not in');
      const view = await clients.viewer!.call('POST', `/api/v1/credentials/${ids.c2}/view`, { reason: 'production is down' });
      assert.equal(view.status, 403, view.body);
      assert.equal(view.body.includes('S3cret'), false);
    });

    test('outside the group’s time window there is no emergency grant', async () => {
      const r = await clients.nightly!.call('POST', '/api/v1/access-requests', { deviceId: ids.vault02, credentialId: ids.c2, purpose: 'password-view', reason: 'production is down', emergency: true });
      assert.notEqual(r.status, 201, r.body);
      assert.equal((await clients.nightly!.call('POST', `/api/v1/credentials/${ids.c2}/view`, { reason: 'production is down' })).status, 403);
    });

    test('a start date 6 days ahead neither starts the grant now nor makes it longer than 7 days', async () => {
      const startsAt = Date.now() + 6 * DAY;
      const r = await clients.viewer!.call('POST', '/api/v1/access-requests', {
        deviceId: ids.vault01,
        credentialId: ids.c1,
        purpose: 'password-view',
        reason: 'planned break-glass',
        emergency: true,
        startsAt: new Date(startsAt).toISOString(),
        endsAt: new Date(startsAt + 7 * DAY).toISOString(),
      });
      if (r.status === 201) {
        const grant = r.json.request;
        assert.ok(Date.parse(grant.startsAt) >= startsAt - 1000, `the grant starts when asked, not now: ${grant.startsAt}`);
        assert.ok(Date.parse(grant.endsAt) - Date.parse(grant.startsAt) <= 7 * DAY, 'at most 7 days');
      }
      const view = await clients.viewer!.call('POST', `/api/v1/credentials/${ids.c1}/view`, { reason: 'planned break-glass' });
      assert.equal(view.status, 403, view.body);
    });

    test('within the own group and window: emergency skips only the approval, and the audit names the group', async () => {
      const r = await clients.viewer!.call('POST', '/api/v1/access-requests', { deviceId: ids.vault01, credentialId: ids.c1, purpose: 'password-view', reason: 'production is down', emergency: true });
      assert.equal(r.status, 201, r.body);
      assert.ok(Date.parse(r.json.request.endsAt) - Date.parse(r.json.request.startsAt) <= 7 * DAY);
      const view = await clients.viewer!.call('POST', `/api/v1/credentials/${ids.c1}/view`, { reason: 'production is down' });
      assert.equal(view.status, 200, view.body);
      const events = await admin.call('GET', '/api/v1/audit?type=access.emergency&limit=5');
      assert.equal(events.status, 200, events.body);
      const raw = events.json.events[0].detail;
      const detail = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Record<string, unknown>;
      assert.equal(detail.groupId, ids['vault-approval']);
      assert.equal(detail.group, 'vault-approval');
      assert.equal(events.json.events[0].eventCode, 'W3003');
      assert.equal(events.json.events[0].severity, 'high', 'break-glass is high by its type');
      // The same grant does not reach the other credential of the device.
      assert.equal((await clients.viewer!.call('POST', `/api/v1/credentials/${ids.c1b}/view`, { reason: 'production is down' })).status, 403);
    });
  });

  describe('finding 10: users see only what their groups cover', () => {
    test('my devices lists only the credentials the user’s groups cover', async () => {
      const r = await clients.viewer!.call('GET', '/api/v1/my/devices');
      assert.equal(r.status, 200, r.body);
      const devices = r.json.devices as { hostname: string; credentials: { id: number }[] }[];
      assert.deepEqual(devices.map((x) => x.hostname), ['vault01']);
      assert.deepEqual(devices[0]!.credentials.map((c) => c.id), [ids.c1]);
    });

    test('my decision answers the same plain "denied" for an uncovered pair and for ids that do not exist', async () => {
      const uncovered = await clients.viewer!.call('GET', `/api/v1/my/decision?device=${ids.vault02}&credential=${ids.c2}&purpose=password-view`);
      const missing = await clients.viewer!.call('GET', '/api/v1/my/decision?device=999991&credential=999992&purpose=password-view');
      const wrongPair = await clients.viewer!.call('GET', `/api/v1/my/decision?device=${ids.vault01}&credential=${ids.c2}&purpose=password-view`);
      for (const r of [uncovered, missing, wrongPair]) {
        assert.equal(r.status, 200, r.body);
        assert.deepEqual(r.json, { decision: { outcome: 'denied', rule: 'denied' } });
      }
      // What the user's groups do cover is still explained.
      const own = await clients.nightly!.call('GET', `/api/v1/my/decision?device=${ids.vault02}&credential=${ids.c2}&purpose=password-view`);
      assert.equal(own.json.decision.outcome, 'denied');
      assert.match(own.json.decision.rule, /outside-time-window \(night-shift\)/);
      assert.equal(own.body.includes('secret-team'), false);
    });

    test('an access request for something uncovered does not reveal whether it exists', async () => {
      const a = await clients.viewer!.call('POST', '/api/v1/access-requests', { deviceId: ids.vault02, credentialId: ids.c2, purpose: 'password-view', reason: 'just asking' });
      const b = await clients.viewer!.call('POST', '/api/v1/access-requests', { deviceId: 999991, credentialId: 999992, purpose: 'password-view', reason: 'just asking' });
      assert.equal(a.status, b.status);
      assert.deepEqual(a.json, b.json);
      const viewUncovered = await clients.viewer!.call('POST', `/api/v1/credentials/${ids.c2}/view`, { reason: 'just asking' });
      const viewMissing = await clients.viewer!.call('POST', '/api/v1/credentials/999992/view', { reason: 'just asking' });
      assert.equal(viewUncovered.status, 403);
      assert.deepEqual([viewMissing.status, viewMissing.json], [viewUncovered.status, viewUncovered.json]);
    });
  });

  describe('findings 5 and 6: protected files follow the access policy; media types are checked', () => {
    const upload = (over: Record<string, unknown>) =>
      admin.call('POST', '/api/v1/protected', { kind: 'file', filename: 'notes.txt', mediaType: 'text/plain; charset=utf-8', contentBase64: Buffer.from('protected notes').toString('base64'), ...over });

    test('a protected item needs an owner (a device or an access group) that exists', async () => {
      assert.equal((await upload({ name: 'no owner' })).status, 400);
      assert.equal((await upload({ name: 'two owners', deviceId: ids.files01, accessGroupId: ids['file-readers'] })).status, 400);
      assert.equal((await upload({ name: 'ghost owner', deviceId: 999991 })).status, 400);
    });

    test('list and download follow the groups: own device’s files yes, other group’s files no', async () => {
      const mine = await upload({ name: 'files01 runbook', deviceId: ids.files01 });
      assert.equal(mine.status, 201, mine.body);
      const theirs = await upload({ name: 'secret-team keys', accessGroupId: ids['secret-team'] });
      assert.equal(theirs.status, 201, theirs.body);
      const other = await upload({ name: 'vault02 file', deviceId: ids.vault02 });
      assert.equal(other.status, 201, other.body);

      const list = await clients.viewer!.call('GET', '/api/v1/protected');
      assert.equal(list.status, 200, list.body);
      assert.deepEqual(list.json.items.map((i: { name: string }) => i.name), ['files01 runbook']);
      const ok = await clients.viewer!.call('POST', `/api/v1/protected/${mine.json.id}/download`, { reason: 'runbook step 4' });
      assert.equal(ok.status, 200, ok.body);
      assert.equal(ok.body, 'protected notes');
      assert.equal(ok.headers['content-type'], 'text/plain; charset=utf-8');
      for (const id of [theirs.json.id, other.json.id]) {
        const r = await clients.viewer!.call('POST', `/api/v1/protected/${id}/download`, { reason: 'curious' });
        assert.equal(r.status, 403, r.body);
        assert.equal(r.body.includes('protected notes'), false);
      }
      // The member of the owning group reads it.
      assert.equal((await clients.ops!.call('POST', `/api/v1/protected/${theirs.json.id}/download`, { reason: 'key rotation' })).status, 200);
    });

    test('an approval group’s files need the approval, which break-glass or a grant through that group gives', async () => {
      const item = await upload({ name: 'vault01 recovery codes', deviceId: ids.vault01 });
      assert.equal(item.status, 201, item.body);
      // viewer holds an emergency grant through vault-approval (finding 1 test above).
      assert.equal((await clients.viewer!.call('POST', `/api/v1/protected/${item.json.id}/download`, { reason: 'production is down' })).status, 200);
      assert.equal((await clients.nightly!.call('POST', `/api/v1/protected/${item.json.id}/download`, { reason: 'production is down' })).status, 403);
    });

    test('an item left without an owner (before the migration) is for credential managers only', async () => {
      const item = await upload({ name: 'legacy bundle', deviceId: ids.files01 });
      assert.equal(item.status, 201, item.body);
      const db = new SQLite(sqlitePath);
      try {
        db.pragma('busy_timeout = 5000');
        db.prepare('UPDATE protected_items SET device_id = NULL, group_id = NULL WHERE id = ?').run(item.json.id);
      } finally {
        db.close();
      }
      assert.equal((await clients.viewer!.call('POST', `/api/v1/protected/${item.json.id}/download`, { reason: 'runbook' })).status, 403);
      assert.equal((await clients.viewer!.call('GET', '/api/v1/protected')).json.items.some((i: { name: string }) => i.name === 'legacy bundle'), false);
      assert.equal((await admin.call('POST', `/api/v1/protected/${item.json.id}/download`, { reason: 'migration review' })).status, 200);
      // Given an owner, it follows that owner's groups.
      assert.equal((await clients.viewer!.call('PUT', `/api/v1/protected/${item.json.id}/owner`, { deviceId: ids.files01 })).status, 403);
      assert.equal((await admin.call('PUT', `/api/v1/protected/${item.json.id}/owner`, { deviceId: ids.files01, accessGroupId: ids['file-readers'] })).status, 400);
      const owned = await admin.call('PUT', `/api/v1/protected/${item.json.id}/owner`, { deviceId: ids.files01 });
      assert.equal(owned.status, 200, owned.body);
      assert.equal(owned.json.item.deviceId, ids.files01);
      assert.equal((await clients.viewer!.call('POST', `/api/v1/protected/${item.json.id}/download`, { reason: 'runbook' })).status, 200);
    });

    test('a media type outside RFC 6838 is refused with 400; one already stored never breaks the download', async () => {
      for (const bad of ['text/plain\u2028', 'text', 'text/', '/plain', 'te xt/plain', 'text/plain; charset', 'text/plain\r\nx-evil: 1', 'tëxt/plain', `a/${'b'.repeat(130)}`]) {
        const r = await upload({ name: `bad ${JSON.stringify(bad)}`.slice(0, 200), deviceId: ids.files01, mediaType: bad });
        assert.equal(r.status, 400, `${JSON.stringify(bad)}: ${r.body}`);
        assert.match(r.json.message, /mediaType/);
      }
      const good = await upload({ name: 'good media type', deviceId: ids.files01, mediaType: 'Application/VND.Example+JSON' });
      assert.equal(good.status, 201, good.body);
      const db = new SQLite(sqlitePath);
      try {
        db.pragma('busy_timeout = 5000');
        db.prepare('UPDATE protected_items SET media_type = ? WHERE id = ?').run('text/plain\u2028', good.json.id);
      } finally {
        db.close();
      }
      const r = await clients.viewer!.call('POST', `/api/v1/protected/${good.json.id}/download`, { reason: 'runbook' });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.headers['content-type'], 'application/octet-stream');
    });
  });
});
