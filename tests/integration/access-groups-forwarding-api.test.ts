// An access group's forwarding flags over the web daemon's API (real HTTPS) — allowPortForwarding and
// allowAgentForwarding, each: off unless set, carried by POST/GET/PUT /api/v1/access-groups, audited with the
// group's change, and what an admitted session carries — allowed only when every group that admits the session
// allows it. The two flags are independent. This test process plays the proxy.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import type { InitializedHome } from '../helpers/fixtures.js';
import { ApiClient, type RunningDaemon, daemonWithAdmin } from '../helpers/web-daemon.js';

const FLAGS = [
  { field: 'allowPortForwarding', carried: 'portForwarding', address: '127.0.3.10' },
  { field: 'allowAgentForwarding', carried: 'agentForwarding', address: '127.0.3.11' },
] as const;

for (const { field, carried, address } of FLAGS) {
  describe(`access groups: ${field} over the API and in admitted sessions`, () => {
    let home: InitializedHome;
    let d: RunningDaemon;
    let proxy: Appliance;
    let admin: ApiClient;
    const ids: Record<string, number> = {};

    before(async () => {
      ({ home, d, admin } = await daemonWithAdmin());
      ids.ops = (await admin.call('POST', '/api/v1/users', { username: 'ops', fullName: 'ops', email: 'ops@example.test', profile: 'privileged-access-user' })).json.user.id;
      ids.device = (await admin.call('POST', '/api/v1/devices', { hostname: 'db01', address, connectivity: 'SSH:22' })).json.device.id;
      ids.cred = (await admin.call('POST', '/api/v1/credentials', { deviceId: ids.device, username: 'root', secret: 'T0p-Secret-Root-123' })).json.credential.id;
      proxy = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
    });
    after(async () => {
      await proxy?.close();
      await d?.stop();
      home?.cleanup();
    });

    const members = () => ({ userIds: [ids.ops], deviceIds: [ids.device], credentialIds: [ids.cred] });

    async function admitted(): Promise<boolean> {
      const r = await proxy.sessions.open({ userId: ids.ops!, deviceId: ids.device!, credentialId: ids.cred!, protocol: 'ssh', source: '127.0.0.9' });
      assert.ok(r.admitted, JSON.stringify(r));
      const allowed = r.session[carried];
      await r.session.close({ reason: 'test' });
      return allowed;
    }

    test('off by default; PUT turns it on, GET shows it, the change is audited; the session carries it', async () => {
      const created = await admin.call('POST', '/api/v1/access-groups', { name: 'dba', ...members() });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      assert.equal(created.json.group[field], false);
      ids.dba = created.json.group.id;
      assert.equal(await admitted(), false);

      const put = await admin.call('PUT', `/api/v1/access-groups/${ids.dba}`, { name: 'dba', [field]: true, ...members() });
      assert.equal(put.status, 200, JSON.stringify(put.json));
      assert.equal(put.json.group[field], true);
      assert.equal((await admin.call('GET', `/api/v1/access-groups/${ids.dba}`)).json.group[field], true);
      const [ev] = await proxy.store.repos.auditEvents.query({ type: 'access_group.update', limit: 1 });
      assert.equal(JSON.parse(ev!.detail)[field], true);
      assert.equal(ev!.actor, 'admin');
      assert.equal(await admitted(), true);
    });

    if (field === 'allowAgentForwarding') {
      test('created with it on; independent of allowPortForwarding, both in the audited change', async () => {
        const created = await admin.call('POST', '/api/v1/access-groups', { name: 'agents-only', allowAgentForwarding: true, ...members() });
        assert.equal(created.status, 201, JSON.stringify(created.json));
        assert.equal(created.json.group.allowAgentForwarding, true);
        assert.equal(created.json.group.allowPortForwarding, false);
        const [ev] = await proxy.store.repos.auditEvents.query({ type: 'access_group.create', limit: 1 });
        assert.equal(ev!.subject, 'agents-only');
        assert.equal(JSON.parse(ev!.detail).allowAgentForwarding, true);
        assert.equal(JSON.parse(ev!.detail).allowPortForwarding, false);
        const r = await proxy.sessions.open({ userId: ids.ops!, deviceId: ids.device!, credentialId: ids.cred!, protocol: 'ssh', source: '127.0.0.9' });
        assert.ok(r.admitted);
        assert.equal(r.session.portForwarding, false);
        await r.session.close({ reason: 'test' });
        const list = (await admin.call('GET', '/api/v1/access-groups')).json.groups as { name: string; allowAgentForwarding: boolean }[];
        assert.equal(list.find((g) => g.name === 'agents-only')?.allowAgentForwarding, true);
        // Out of the way of the next test, which counts the groups admitting the session.
        await admin.call('PUT', `/api/v1/access-groups/${created.json.group.id}`, { name: 'agents-only', allowAgentForwarding: true, userIds: [], deviceIds: [], credentialIds: [] });
      });
    }

    test('a second group admitting the same session without it withholds it (the stricter combination)', async () => {
      const other = await admin.call('POST', '/api/v1/access-groups', { name: 'readers', ...members() });
      assert.equal(other.status, 201);
      assert.equal(await admitted(), false);
      await admin.call('PUT', `/api/v1/access-groups/${other.json.group.id}`, { name: 'readers', [field]: true, ...members() });
      assert.equal(await admitted(), true);
    });

    test('a value that is not a boolean is refused', async () => {
      const r = await admin.call('PUT', `/api/v1/access-groups/${ids.dba}`, { name: 'dba', [field]: 'yes', ...members() });
      assert.equal(r.status, 400);
      assert.equal((await admin.call('GET', `/api/v1/access-groups/${ids.dba}`)).json.group[field], true);
    });
  });
}
