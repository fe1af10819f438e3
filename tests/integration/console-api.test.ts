// The API the web console's pages stand on, through the real web daemon over HTTPS with real data: the
// dashboard (each section only for the profiles that may read what it summarizes), and the server-side paged,
// filtered lists (devices, credentials, access requests) with their totals.
// This test process also plays the terminal proxy: it holds a live session and reports a blocked command, as
// the terminal-proxy daemon would, through the same services.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import type { ProxySession } from '../../appliance/sessions/index.js';
import { initializedHome, strongPassword, type InitializedHome } from '../helpers/fixtures.js';
import { ApiClient, startWebDaemon, type RunningDaemon } from '../helpers/web-daemon.js';
import { createCa, der, issueLeaf } from '../helpers/pki.js';

const DAY = 86_400_000;

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('console API: the dashboard', () => {
  let home: InitializedHome;
  let d: RunningDaemon;
  let proxy: Appliance;
  let admin: ApiClient;
  let banner: net.Server;
  let session: ProxySession | undefined;
  const clients: Record<string, ApiClient> = {};
  const ids: Record<string, number> = {};

  before(async () => {
    home = await initializedHome();
    d = await startWebDaemon(home);
    admin = new ApiClient(d);
    await admin.loginAndChange('admin', home.oneTimePassword, strongPassword());
    for (const [name, profile] of [
      ['ops', 'privileged-access-user'],
      ['approver', 'privileged-access-user'],
      ['audit', 'auditor'],
      ['config', 'configurator'],
      ['holder', 'privileged-access-user'],
    ]) {
      const r = await admin.call('POST', '/api/v1/users', { username: name, fullName: name, email: `${name}@example.test`, profile });
      assert.equal(r.status, 201, r.body);
      ids[name] = r.json.user.id;
      clients[name] = new ApiClient(d);
      await clients[name]!.loginAndChange(name, r.json.oneTimePassword, strongPassword());
    }
    // A target that answers like an SSH server (its check passes) and one whose port is closed (it fails).
    banner = net.createServer((s) => s.end('SSH-2.0-OpenSSH_9.2 test\r\n'));
    await new Promise<void>((resolve) => banner.listen(0, '127.0.0.1', resolve));
    const up = (banner.address() as net.AddressInfo).port;
    ids.db01 = (await admin.call('POST', '/api/v1/devices', { hostname: 'db01', address: '127.0.0.1', connectivity: `SSH:${up}` })).json.device.id;
    ids.db02 = (await admin.call('POST', '/api/v1/devices', { hostname: 'db02', address: '127.0.0.1', connectivity: `SSH:${await closedPort()}` })).json.device.id;
    ids.cred = (await admin.call('POST', '/api/v1/credentials', { deviceId: ids.db01, username: 'root', secret: 'T0p-Secret-Root-123' })).json.credential.id;
    const g = await admin.call('POST', '/api/v1/access-groups', {
      name: 'dba',
      userIds: [ids.ops],
      deviceIds: [ids.db01],
      credentialIds: [ids.cred],
      approvalRequired: true,
      approverIds: [ids.approver],
    });
    assert.equal(g.status, 201, g.body);
    proxy = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }), { feedPollMs: 100, sessionLiveness: { progressMs: 100 } });
  });
  after(async () => {
    await session?.close({ reason: 'test over' });
    await proxy?.close();
    await d?.stop();
    await new Promise<void>((resolve) => (banner ? banner.close(() => resolve()) : resolve()));
    home?.cleanup();
  });

  async function dashboard(who: ApiClient) {
    const r = await who.call('GET', '/api/v1/dashboard');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers['cache-control'], 'no-store');
    return r.json.dashboard;
  }

  test('without a session the dashboard is refused', async () => {
    assert.equal((await new ApiClient(d).call('GET', '/api/v1/dashboard')).status, 401);
  });

  test('on a quiet appliance every section an administrator may read is there, and says nothing is wrong', async () => {
    const v = await dashboard(admin);
    assert.deepEqual(Object.keys(v).sort(), ['approvals', 'blockedCommands', 'expiring', 'failedLogins', 'generatedAt', 'liveSessions', 'unreachableDevices']);
    assert.deepEqual(v.approvals, { pending: 0 });
    assert.deepEqual(v.liveSessions, { total: 0, sessions: [] });
    assert.equal(v.blockedCommands.total, 0);
    assert.deepEqual(v.unreachableDevices, { total: 0, devices: [] });
    assert.equal(v.expiring.authorities.total + v.expiring.certificates.total, 0);
  });

  test('approvals waiting for me: counted for the approver, not for the requester, gone once decided', async () => {
    const req = await clients.ops!.call('POST', '/api/v1/access-requests', { deviceId: ids.db01, credentialId: ids.cred, reason: 'nightly maintenance' });
    assert.equal(req.status, 201, req.body);
    ids.request = req.json.request.id;
    assert.deepEqual((await dashboard(clients.approver!)).approvals, { pending: 1 });
    assert.deepEqual((await dashboard(clients.ops!)).approvals, { pending: 0 }, 'nobody approves their own request');
    assert.deepEqual((await dashboard(admin)).approvals, { pending: 0 }, 'an administrator who is not an approver of the group has nothing waiting');
    const ok = await clients.approver!.call('POST', `/api/v1/access-requests/${ids.request}/approve`, { comment: 'go' });
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual((await dashboard(clients.approver!)).approvals, { pending: 0 });
  });

  test('a live session and a blocked command in it are on the dashboard of those who watch sessions', async () => {
    const r = await proxy.sessions.open({ userId: ids.ops!, deviceId: ids.db01!, credentialId: ids.cred!, protocol: 'ssh', source: '127.0.0.9' });
    assert.ok(r.admitted, JSON.stringify(r));
    session = r.session;
    await proxy.sessions.recordActivity(session.id, {
      commands: [
        { at: Date.now(), command: 'rm -rf /', action: 'block', rule: { position: 1, pattern: 'rm -rf *' } },
        { at: Date.now(), command: 'uptime', action: 'allow', rule: null },
      ],
    });
    for (const who of [admin, clients.audit!]) {
      const v = await dashboard(who);
      assert.equal(v.liveSessions.total, 1);
      assert.deepEqual(v.liveSessions.sessions.map((s: { id: string; user: string; device: string }) => [s.id, s.user, s.device]), [[session.id, 'ops', 'db01']]);
      assert.equal(v.blockedCommands.total, 1);
    }
    const c = await dashboard(clients.config!);
    assert.equal(c.liveSessions.total, 1, 'a configurator (access.manage) may end sessions, so sees them');
    assert.equal(c.blockedCommands, undefined, 'but does not read the audit trail');
  });

  test('failed logins of the last 24 hours are counted from the audit trail', async () => {
    const before = (await dashboard(clients.audit!)).failedLogins;
    for (const password of ['wrong-1', 'wrong-2']) assert.equal((await new ApiClient(d).login('holder', password)).status, 401);
    assert.equal((await new ApiClient(d).login('nobody-at-all', 'wrong-3')).status, 401);
    const after = (await dashboard(clients.audit!)).failedLogins;
    assert.equal(after.total - before.total, 3);
    assert.equal(after.byType['auth.login'] - before.byType['auth.login'], 3);
    assert.ok(Date.parse(after.since) <= Date.now() - 24 * 3_600_000 + 60_000 && Date.parse(after.since) >= Date.now() - 24 * 3_600_000 - 60_000);
  });

  test('devices whose last connectivity test failed: only those, with the failing ports', async () => {
    for (const id of [ids.db01, ids.db02]) assert.equal((await admin.call('POST', `/api/v1/devices/${id}/connectivity/check`, {})).status, 200);
    const v = (await dashboard(clients.audit!)).unreachableDevices;
    assert.equal(v.total, 1);
    assert.deepEqual(v.devices.map((x: { hostname: string; failingPorts: number }) => [x.hostname, x.failingPorts]), [['db02', 1]]);
    // A disabled device is not tested any more: its old failure is not news.
    assert.equal((await admin.call('POST', `/api/v1/devices/${ids.db02}/disable`, {})).status, 200);
    assert.deepEqual((await dashboard(clients.audit!)).unreachableDevices, { total: 0, devices: [] });
    assert.equal((await admin.call('POST', `/api/v1/devices/${ids.db02}/enable`, {})).status, 200);
  });

  test('trusted CAs and bound certificates ending within 30 days, soonest first; later ones and inactive CAs are not listed', async () => {
    const support = { username: 'support', ip: null };
    const soon = await createCa('Soon Root', { notAfter: new Date(Date.now() + 10 * DAY) });
    const later = await createCa('Later Root', { notAfter: new Date(Date.now() + 400 * DAY) });
    const gone = await createCa('Inactive Root', { notAfter: new Date(Date.now() + 5 * DAY) });
    await proxy.trust.install(soon.pem, support);
    await proxy.trust.install(later.pem, support);
    const [inactive] = await proxy.trust.install(gone.pem, support);
    await proxy.trust.setActive(inactive!.id, false, support);
    // Bound the way a certificate login binds: the first verified use.
    for (const [user, days] of [['audit', 5], ['holder', 60]] as const) {
      const leaf = await issueLeaf(later, { commonName: user, email: `${user}@example.test`, notAfter: new Date(Date.now() + days * DAY) });
      const row = (await proxy.store.repos.users.byUsername(user))!;
      await proxy.certificates.verify(row, { leaf: der(leaf), chain: [] }, '127.0.0.1');
    }
    const v = (await dashboard(clients.audit!)).expiring;
    assert.deepEqual(v.authorities.items.map((a: { subject: string }) => a.subject), ['CN=Soon Root, O=Warden Test']);
    assert.equal(v.authorities.total, 1);
    assert.deepEqual(v.certificates.items.map((c: { username: string }) => c.username), ['audit']);
    assert.equal(v.certificates.total, 1);
    assert.ok(Date.parse(v.certificates.items[0].notAfter) < Date.parse(v.until));
  });

  test('each profile gets exactly the sections its permissions allow', async () => {
    const keys = async (who: ApiClient) => Object.keys(await dashboard(who)).sort();
    assert.deepEqual(await keys(clients.ops!), ['approvals', 'generatedAt']);
    assert.deepEqual(await keys(clients.audit!), ['approvals', 'blockedCommands', 'expiring', 'failedLogins', 'generatedAt', 'liveSessions', 'unreachableDevices']);
    assert.deepEqual(await keys(clients.config!), ['approvals', 'generatedAt', 'liveSessions', 'unreachableDevices']);
    // And the lists a section summarizes refuse the same people.
    assert.equal((await clients.ops!.call('GET', '/api/v1/sessions/live')).status, 403);
    assert.equal((await clients.ops!.call('GET', '/api/v1/devices')).status, 403);
    assert.equal((await clients.config!.call('GET', '/api/v1/audit')).status, 403);
  });
});
