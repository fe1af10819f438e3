// The API the web console's pages stand on, through the real web daemon over HTTPS with real data: the
// dashboard (each section only for the profiles that may read what it summarizes), and the server-side paged,
// filtered lists (devices, credentials, access requests) with their totals.
// This test process also plays the terminal proxy: it holds a live session and reports a blocked command, as
// the terminal-proxy daemon would, through the same services.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import type { ProxySession } from '../../appliance/sessions/index.js';
import { strongPassword, type InitializedHome } from '../helpers/fixtures.js';
import { ApiClient, type RunningDaemon, daemonWithAdmin, signInAccounts } from '../helpers/web-daemon.js';
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
    ({ home, d, admin } = await daemonWithAdmin());
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

  test('the live list pages too: newest first, with how many are open', async () => {
    const r = await proxy.sessions.open({ userId: ids.ops!, deviceId: ids.db01!, credentialId: ids.cred!, protocol: 'ssh', source: '127.0.0.10' });
    assert.ok(r.admitted, JSON.stringify(r));
    try {
      const first = await clients.audit!.call('GET', '/api/v1/sessions/live?limit=1');
      assert.equal(first.status, 200, first.body);
      assert.deepEqual([first.json.total, first.json.sessions.map((s: { id: string }) => s.id)], [2, [r.session.id]]);
      const second = await clients.audit!.call('GET', '/api/v1/sessions/live?limit=1&offset=1');
      assert.deepEqual([second.json.total, second.json.sessions.map((s: { id: string }) => s.id)], [2, [session!.id]]);
      assert.equal((await clients.audit!.call('GET', '/api/v1/sessions/live')).json.sessions.length, 2);
      assert.equal((await dashboard(admin)).liveSessions.total, 2);
      for (const q of ['?limit=501', '?limit=0', '?offset=-1']) assert.equal((await clients.audit!.call('GET', `/api/v1/sessions/live${q}`)).status, 400, q);
    } finally {
      await r.session.close({ reason: 'test' });
    }
    assert.equal((await dashboard(admin)).liveSessions.total, 1);
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
    // The whole list behind the dashboard's count, and each device's state in the devices list.
    const unreachable = await clients.audit!.call('GET', '/api/v1/devices?unreachable=true');
    assert.equal(unreachable.status, 200, unreachable.body);
    assert.deepEqual([unreachable.json.total, unreachable.json.devices.map((x: { hostname: string; reachability: { state: string; failingPorts: number } }) => [x.hostname, x.reachability.state, x.reachability.failingPorts])], [v.total, [['db02', 'failing', 1]]]);
    const listed = await clients.audit!.call('GET', '/api/v1/devices');
    assert.deepEqual(listed.json.devices.map((x: { hostname: string; reachability: { state: string } }) => [x.hostname, x.reachability.state]), [['db01', 'ok'], ['db02', 'failing']]);
    assert.ok(Date.parse(listed.json.devices[0].reachability.checkedAt) > Date.now() - 60_000);
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

describe('console API: paged and filtered lists', () => {
  let home: InitializedHome;
  let d: RunningDaemon;
  let admin: ApiClient;
  const clients: Record<string, ApiClient> = {};
  const ids: Record<string, number> = {};
  const N = 10_000;
  const host = (i: number) => `srv${String(i).padStart(5, '0')}`;

  before(async () => {
    ({ home, d, admin } = await daemonWithAdmin());
    await signInAccounts(admin, d, [['ops', 'privileged-access-user'], ['lead', 'privileged-access-user'], ['audit', 'auditor']] as const, clients, ids);
    // Ten thousand devices through the real CSV import: every hundredth in Recife, odd ones Windows, one vendor
    // with an underscore (a LIKE wildcard, to be matched literally), the others Dell (which "e_l" would match).
    const rows = ['hostname,address,vendor,type,site,connectivity'];
    for (let i = 1; i <= N; i++) {
      rows.push([host(i), `127.1.${Math.floor(i / 250)}.${i % 250}`, i === 77 ? 'Acme_Labs' : 'Dell', i % 2 ? 'Windows' : 'Linux', i % 100 === 0 ? 'Recife' : 'Lisboa', 'SSH:22'].join(','));
    }
    const imported = await admin.call('POST', '/api/v1/devices/import', { csv: rows.join('\n') + '\n' });
    assert.equal(imported.status, 200, imported.body.slice(0, 500));
    assert.equal(imported.json.imported, N);
  });
  after(async () => {
    await d?.stop();
    home?.cleanup();
  });

  async function devices(query: string, who: ApiClient = clients.audit!) {
    const r = await who.call('GET', `/api/v1/devices${query}`);
    assert.equal(r.status, 200, r.body.slice(0, 500));
    return r.json as { devices: { id: number; hostname: string }[]; total: number; limit: number; offset: number };
  }

  test('devices page on the server: 50 by default in host name order, with the total; any page by offset', async (t) => {
    const first = await devices('');
    assert.equal(first.total, N);
    assert.equal(first.devices.length, 50);
    assert.deepEqual(first.devices.slice(0, 3).map((x) => x.hostname), [host(1), host(2), host(3)]);
    assert.deepEqual((first.devices[0] as unknown as { reachability: object }).reachability, { state: 'unchecked', failingPorts: 0, checkedAt: null });
    const started = performance.now();
    const last = await devices('?limit=500&offset=9900');
    t.diagnostic(`a page of 500 at offset 9900 of ${N} devices: ${(performance.now() - started).toFixed(1)} ms round trip`);
    assert.equal(last.total, N);
    assert.deepEqual([last.devices.length, last.devices[0]!.hostname, last.devices.at(-1)!.hostname], [100, host(9901), host(N)]);
    assert.equal((await devices(`?offset=${N}`)).devices.length, 0);
  });

  test('devices filter by text in host name, address, vendor, type or site, without case; wildcards are literal', async (t) => {
    const started = performance.now();
    const recife = await devices('?q=RECIFE&limit=10');
    t.diagnostic(`filtered page over ${N} devices: ${(performance.now() - started).toFixed(1)} ms round trip`);
    assert.equal(recife.total, N / 100);
    assert.deepEqual(recife.devices.slice(0, 2).map((x) => x.hostname), [host(100), host(200)]);
    assert.equal((await devices('?q=windows')).total, N / 2);
    assert.deepEqual((await devices('?q=srv0999')).devices.map((x) => x.hostname), Array.from({ length: 10 }, (_, i) => host(9990 + i)));
    assert.deepEqual((await devices('?q=127.1.39.249')).devices.map((x) => x.hostname), [host(9999)]);
    const literal = await devices('?q=e_l');
    assert.deepEqual([literal.total, literal.devices.map((x) => x.hostname)], [1, [host(77)]]);
    assert.equal((await devices('?q=%25')).total, 0, 'a % is a percent sign, not "anything"');
    assert.equal((await devices('?q=%20%20')).total, N, 'blank text filters nothing');
  });

  test('devices paging refuses what it does not serve, and the permission still holds', async () => {
    for (const q of ['?limit=501', '?limit=0', '?limit=abc', '?offset=-1', `?q=${'x'.repeat(254)}`, '?sort=hostname', '?unreachable=yes']) {
      assert.equal((await clients.audit!.call('GET', `/api/v1/devices${q}`)).status, 400, q);
    }
    assert.equal((await clients.ops!.call('GET', '/api/v1/devices')).status, 403);
  });

  test('credentials page with their host name and a total; by device they all come at once; text filter', async () => {
    for (const [i, user] of [[1, 'root'], [1, 'oracle'], [2, 'root'], [3, 'backup_svc'], [3, 'postgres']] as const) {
      const device = (await devices(`?q=${host(i)}`, admin)).devices[0]!.id;
      ids[`${host(i)}:${user}`] = device;
      const r = await admin.call('POST', '/api/v1/credentials', { deviceId: device, username: user, secret: `S3cret-${i}-${user}-value` });
      assert.equal(r.status, 201, r.body);
      ids[`cred:${host(i)}:${user}`] = r.json.credential.id;
    }
    for (let k = 0; k < 60; k++) {
      const r = await admin.call('POST', '/api/v1/credentials', { deviceId: ids[`${host(3)}:postgres`], username: `app${String(k).padStart(2, '0')}`, secret: `S3cret-app-${k}-value` });
      assert.equal(r.status, 201, r.body);
    }
    const all = await clients.audit!.call('GET', '/api/v1/credentials');
    assert.equal(all.status, 200, all.body);
    assert.equal(all.json.total, 65);
    assert.equal(all.json.credentials.length, 50);
    assert.deepEqual(all.json.credentials.slice(0, 3).map((c: { hostname: string; username: string }) => `${c.username}@${c.hostname}`), [`oracle@${host(1)}`, `root@${host(1)}`, `root@${host(2)}`]);
    assert.equal(all.body.includes('S3cret'), false, 'never a secret in a list');
    const device3 = await clients.audit!.call('GET', `/api/v1/credentials?device=${ids[`${host(3)}:postgres`]}`);
    assert.deepEqual([device3.json.total, device3.json.credentials.length], [62, 62]);
    const second = await clients.audit!.call('GET', `/api/v1/credentials?device=${ids[`${host(3)}:postgres`]}&limit=10&offset=60`);
    assert.deepEqual(second.json.credentials.map((c: { username: string }) => c.username), ['backup_svc', 'postgres']);
    const root = await clients.audit!.call('GET', '/api/v1/credentials?q=ROOT');
    assert.deepEqual([root.json.total, root.json.credentials.map((c: { hostname: string }) => c.hostname)], [2, [host(1), host(2)]]);
    const underscore = await clients.audit!.call('GET', '/api/v1/credentials?q=p_s');
    assert.deepEqual(underscore.json.credentials.map((c: { username: string }) => c.username), ['backup_svc'], '_ is literal: "p_s" is not "pos" (postgres)');
    assert.equal((await clients.audit!.call('GET', '/api/v1/credentials?q=o_t')).json.total, 0, '"o_t" is not "oot" (root)');
    assert.equal((await clients.audit!.call('GET', `/api/v1/credentials?q=${host(2)}`)).json.total, 1, 'matched by host name');
    assert.equal((await clients.audit!.call('GET', '/api/v1/credentials?limit=501')).status, 400);
  });

  test('access groups page by name with a text filter, each with its member counts (not the members)', async () => {
    for (const [name, devicesOf] of [['dba-east', [1, 2]], ['DBA-west', [3]], ['web', []]] as const) {
      const r = await admin.call('POST', '/api/v1/access-groups', { name, userIds: [ids.ops, ids.lead], deviceIds: devicesOf.map((i) => ids[`${host(i)}:root`] ?? ids[`${host(i)}:postgres`]) });
      assert.equal(r.status, 201, r.body);
    }
    const dba = await admin.call('GET', '/api/v1/access-groups?q=dba');
    assert.equal(dba.status, 200, dba.body);
    assert.equal(dba.json.total, 2);
    assert.deepEqual(
      dba.json.groups.map((g: { name: string; counts: object }) => [g.name, g.counts]),
      [['DBA-west', { users: 2, approvers: 0, devices: 1, credentials: 0 }], ['dba-east', { users: 2, approvers: 0, devices: 2, credentials: 0 }]],
    );
    assert.equal(dba.json.groups[0].userIds, undefined, 'who is in a group is on its own page');
    const page2 = await admin.call('GET', '/api/v1/access-groups?limit=1&offset=2');
    assert.deepEqual([page2.json.total, page2.json.groups.map((g: { name: string }) => g.name)], [3, ['web']]);
    assert.equal((await admin.call('GET', '/api/v1/access-groups?q=%25')).json.total, 0);
    assert.equal((await clients.audit!.call('GET', '/api/v1/access-groups')).status, 403);
    assert.equal((await admin.call('GET', '/api/v1/access-groups?limit=501')).status, 400);
  });

  test('the command rules tester gives the proxy\'s verdict, on the saved rules or on a draft, and saves nothing', async () => {
    const list = await admin.call('GET', '/api/v1/access-groups?q=web');
    const web = list.json.groups[0].id;
    const saved = await admin.call('PUT', `/api/v1/access-groups/${web}/command-rules`, { mode: 'rules', rules: [{ pattern: '^rm\\s+-rf', action: 'block' }, { pattern: '^sudo\\b', action: 'alert' }] });
    assert.equal(saved.status, 200, saved.body);
    const test = async (body: object) => {
      const r = await admin.call('POST', `/api/v1/access-groups/${web}/command-rules/test`, body);
      assert.equal(r.status, 200, r.body);
      return r.json as { verdict: { action: string; rule: { pattern: string } | null; part: string }; mode: string; rules: number };
    };
    const rm = await test({ command: 'rm -rf /' });
    assert.deepEqual([rm.verdict.action, rm.verdict.rule?.pattern, rm.mode, rm.rules], ['block', '^rm\\s+-rf', 'rules', 2]);
    assert.deepEqual([(await test({ command: 'echo safe; rm -rf /tmp/x' })).verdict.action, (await test({ command: 'echo safe; rm -rf /tmp/x' })).verdict.part], ['block', 'rm -rf /tmp/x']);
    assert.equal((await test({ command: 'sudo ls' })).verdict.action, 'alert');
    assert.deepEqual((await test({ command: 'ls -la' })).verdict, { action: 'allow', rule: null, part: 'ls -la' });
    // A draft, not saved: an allow-list of ls only.
    const draft = await test({ command: 'uptime', mode: 'allow-list', rules: [{ pattern: '^ls\\b', action: 'allow' }] });
    assert.deepEqual([draft.verdict.action, draft.mode, draft.rules], ['block', 'allow-list', 1]);
    assert.equal((await admin.call('GET', `/api/v1/access-groups/${web}/command-rules`)).json.commandRules.rules.length, 2, 'the test saved nothing');
    assert.equal((await admin.call('POST', `/api/v1/access-groups/${web}/command-rules/test`, { command: 'x', rules: [{ pattern: '(a+)+', action: 'block' }] })).status, 400);
    assert.equal((await admin.call('POST', `/api/v1/access-groups/${web}/command-rules/test`, { cmd: 'x' })).status, 400);
    assert.equal((await admin.call('POST', '/api/v1/access-groups/99999/command-rules/test', { command: 'x' })).status, 404);
    assert.equal((await clients.audit!.call('POST', `/api/v1/access-groups/${web}/command-rules/test`, { command: 'x' })).status, 403);
  });

  test('access requests: mine and the inbox page with a total and the names a person reads; decided ones leave my inbox', async () => {
    const targets = [[host(1), 'root'], [host(1), 'oracle'], [host(2), 'root'], [host(3), 'backup_svc']] as const;
    const g = await admin.call('POST', '/api/v1/access-groups', {
      name: 'paged',
      userIds: [ids.ops],
      deviceIds: [...new Set(targets.map(([h, u]) => ids[`${h}:${u}`]))],
      credentialIds: targets.map(([h, u]) => ids[`cred:${h}:${u}`]),
      approvalRequired: true,
      approvalsNeeded: 2,
      approverIds: [ids.lead, ids.audit],
    });
    assert.equal(g.status, 201, g.body);
    const filed: number[] = [];
    for (const [h, u] of targets) {
      const r = await clients.ops!.call('POST', '/api/v1/access-requests', { deviceId: ids[`${h}:${u}`], credentialId: ids[`cred:${h}:${u}`], reason: `patch ${u} on ${h}` });
      assert.equal(r.status, 201, r.body);
      filed.push(r.json.request.id);
    }
    const mine = await clients.ops!.call('GET', '/api/v1/access-requests?limit=3');
    assert.equal(mine.status, 200, mine.body);
    assert.equal(mine.json.total, 4);
    assert.deepEqual(mine.json.requests.map((r: { id: number }) => r.id), filed.slice(1).reverse(), 'newest first');
    const newest = mine.json.requests[0];
    assert.deepEqual([newest.requester, newest.hostname, newest.credentialUsername, newest.status, newest.approvals, newest.approvalsNeeded], ['ops', host(3), 'backup_svc', 'pending', 0, 2]);
    assert.deepEqual((await clients.ops!.call('GET', '/api/v1/access-requests?limit=3&offset=3')).json.requests.map((r: { id: number }) => r.id), [filed[0]]);

    const inbox = await clients.lead!.call('GET', '/api/v1/access-requests/inbox?limit=2');
    assert.equal(inbox.status, 200, inbox.body);
    assert.deepEqual([inbox.json.total, inbox.json.requests.map((r: { id: number }) => r.id)], [4, filed.slice(0, 2)], 'oldest first');
    assert.equal(inbox.json.requests[0].reason, `patch root on ${host(1)}`);

    assert.equal((await clients.lead!.call('POST', `/api/v1/access-requests/${filed[0]}/approve`, { comment: 'one of two' })).status, 200);
    assert.equal((await clients.audit!.call('POST', `/api/v1/access-requests/${filed[1]}/deny`, { comment: 'not now' })).status, 200);
    const leadInbox = await clients.lead!.call('GET', '/api/v1/access-requests/inbox');
    assert.deepEqual(leadInbox.json.requests.map((r: { id: number }) => r.id), [filed[2], filed[3]], 'what I decided, or what was settled, is no longer mine to decide');
    assert.equal(leadInbox.json.total, 2);
    const auditInbox = await clients.audit!.call('GET', '/api/v1/access-requests/inbox');
    assert.deepEqual(auditInbox.json.requests.map((r: { id: number; approvals: number }) => [r.id, r.approvals]), [[filed[0], 1], [filed[2], 0], [filed[3], 0]]);
    const dash = await clients.lead!.call('GET', '/api/v1/dashboard');
    assert.deepEqual(dash.json.dashboard.approvals, { pending: leadInbox.json.total }, 'the dashboard counts what the inbox lists');

    assert.deepEqual((await clients.ops!.call('GET', '/api/v1/access-requests?status=denied')).json.requests.map((r: { id: number }) => r.id), [filed[1]]);
    assert.equal((await clients.ops!.call('GET', '/api/v1/access-requests?status=pending')).json.total, 3);
    for (const q of ['?q=root', '?limit=501', '?status=open']) assert.equal((await clients.ops!.call('GET', `/api/v1/access-requests${q}`)).status, 400, q);
    assert.equal((await clients.lead!.call('GET', '/api/v1/access-requests/inbox?offset=x')).status, 400);
  });
});
