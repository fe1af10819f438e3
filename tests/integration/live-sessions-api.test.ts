// Live control over the web daemon's API (real HTTPS) and orbit: an auditor lists the sessions open now, with
// their bytes so far, and may not end one; an administrator ends one and the process holding it hears it.
// This test process plays the proxy: it holds the session, as the terminal-proxy daemon would.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import type { ProxySession } from '../../appliance/sessions/index.js';
import type { InitializedHome } from '../helpers/fixtures.js';
import { ApiClient, type RunningDaemon, daemonWithAdmin, signInAccounts } from '../helpers/web-daemon.js';
import { runOrbit } from '../helpers/orbit.js';

const UNKNOWN = '00000000-0000-4000-8000-000000000000';

describe('live sessions: API and orbit', () => {
  let home: InitializedHome;
  let d: RunningDaemon;
  let proxy: Appliance;
  let admin: ApiClient;
  const clients: Record<string, ApiClient> = {};
  const ids: Record<string, number> = {};

  before(async () => {
    ({ home, d, admin } = await daemonWithAdmin());
    await signInAccounts(admin, d, [['ops', 'privileged-access-user'], ['audit', 'auditor']] as const, clients, ids);
    ids.device = (await admin.call('POST', '/api/v1/devices', { hostname: 'db01', address: '127.0.3.10', connectivity: 'SSH:22' })).json.device.id;
    ids.cred = (await admin.call('POST', '/api/v1/credentials', { deviceId: ids.device, username: 'root', secret: 'T0p-Secret-Root-123' })).json.credential.id;
    await admin.call('POST', '/api/v1/access-groups', { name: 'dba', userIds: [ids.ops], deviceIds: [ids.device], credentialIds: [ids.cred] });
    proxy = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }), { feedPollMs: 100, sessionLiveness: { progressMs: 100 } });
  });
  after(async () => {
    await proxy?.close();
    await d?.stop();
    home?.cleanup();
  });

  async function admit(): Promise<ProxySession> {
    const r = await proxy.sessions.open({ userId: ids.ops!, deviceId: ids.device!, credentialId: ids.cred!, protocol: 'ssh', source: '127.0.0.9' });
    assert.ok(r.admitted, JSON.stringify(r));
    return r.session;
  }

  /** The reason the session's end callback was given, and how long after `since` it came (or a timeout). */
  function endHeard(s: ProxySession, ms = 2000): Promise<{ reason: string; at: number }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no end request heard within ${ms} ms`)), ms);
      s.onEndRequested((reason) => {
        clearTimeout(timer);
        resolve({ reason, at: Date.now() });
      });
    });
  }

  async function listed(client: ApiClient, want: (s: { id: string; bytesOut: number }) => boolean): Promise<Record<string, unknown>> {
    for (let i = 0; ; i++) {
      const r = await client.call('GET', '/api/v1/sessions/live');
      assert.equal(r.status, 200, r.body);
      const hit = r.json.sessions.find(want);
      if (hit) return hit;
      if (i > 50) assert.fail(`not listed: ${r.body}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  test('an auditor lists the live session with its bytes so far but cannot end it; others cannot list', async () => {
    const s = await admit();
    try {
      s.progress(2048, 409_600);
      const hit = await listed(clients.audit!, (v) => v.id === s.id && v.bytesOut === 409_600);
      assert.deepEqual(
        { user: hit.user, device: hit.device, credential: hit.credential, source: hit.source, protocol: hit.protocol, bytesIn: hit.bytesIn, recordingId: hit.recordingId, responsive: hit.responsive },
        { user: 'ops', device: 'db01', credential: 'root', source: '127.0.0.9', protocol: 'ssh', bytesIn: 2048, recordingId: null, responsive: true },
      );
      assert.match(String(hit.startedAt), /^\d{4}-\d\d-\d\dT/);
      const refused = await clients.audit!.call('POST', `/api/v1/sessions/${s.id}/end`, { reason: 'nosy' });
      assert.equal(refused.status, 403, refused.body);
      assert.equal((await clients.ops!.call('GET', '/api/v1/sessions/live')).status, 403);
      assert.equal((await clients.ops!.call('POST', `/api/v1/sessions/${s.id}/end`, {})).status, 403);
      assert.equal((await clients.audit!.call('GET', '/api/v1/sessions/live?limit=0')).status, 400);
      // The search beside it answers as before.
      const search = await clients.audit!.call('GET', '/api/v1/sessions?command=ls');
      assert.equal(search.status, 200, search.body);
      assert.deepEqual(search.json.results, []);
      assert.equal((await proxy.store.repos.proxySessions.byId(s.id))!.status, 'open', 'the refused end changed nothing');
    } finally {
      await s.close({ reason: 'test' });
    }
    assert.deepEqual((await admin.call('GET', '/api/v1/sessions/live')).json.sessions, []);
  });

  test('an administrator ends a session: 202, audited, and the holding process hears it within a second; unknown ids are 404', async () => {
    const s = await admit();
    const heard = endHeard(s);
    const asked = Date.now();
    const r = await admin.call('POST', `/api/v1/sessions/${s.id}/end`, { reason: 'policy violation' });
    assert.equal(r.status, 202, r.body);
    const { reason, at } = await heard;
    assert.equal(reason, 'policy violation');
    assert.ok(at - asked < 1000, `heard ${at - asked} ms after the request`);
    await s.close({ reason: 'ended-by-admin' });
    const events = await clients.audit!.call('GET', '/api/v1/audit?type=session.end_requested');
    assert.equal(events.json.events.length, 1, events.body);
    assert.equal(events.json.events[0].actor, 'admin');
    assert.equal((await admin.call('POST', `/api/v1/sessions/${s.id}/end`, {})).status, 404, 'ended already');
    assert.equal((await admin.call('POST', `/api/v1/sessions/${UNKNOWN}/end`, {})).status, 404);
    assert.equal((await admin.call('POST', `/api/v1/sessions/${UNKNOWN}/end`)).status, 404, 'no body at all: the default reason');
    assert.equal((await admin.call('POST', '/api/v1/sessions/not-a-session/end', {})).status, 400);
    assert.equal((await admin.call('POST', `/api/v1/sessions/${UNKNOWN}/end`, { reason: 'x\u001b[2J' })).status, 400);
  });

  test('orbit session list shows the live session as a table or JSON; kill ends it; exit codes 0, 1, 2', async () => {
    const empty = await runOrbit(home.home, ['session', 'list']);
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, /no live sessions/);
    assert.match((await runOrbit(home.home, ['status'])).stdout, /^sessions:\s+none live$/m);
    const s = await admit();
    s.progress(10, 3 * 1024 * 1024);
    await listed(admin, (v) => v.id === s.id && v.bytesOut === 3 * 1024 * 1024);
    const table = await runOrbit(home.home, ['session', 'list']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+USER\s+CREDENTIAL\s+PROTOCOL\s+SOURCE\s+STARTED\s+IN\/OUT\s+RECORDING\s+STATE/);
    assert.match(table.stdout, new RegExp(`${s.id}\\s+ops\\s+root@db01\\s+ssh\\s+127\\.0\\.0\\.9\\s+\\S+Z\\s+10 B / 3\\.0 MiB\\s+-\\s+live`));
    const status = await runOrbit(home.home, ['status']);
    assert.match(status.stdout, /^sessions:\s+1 live \(ssh 1\)$/m, status.stdout + status.stderr);
    assert.deepEqual(JSON.parse((await runOrbit(home.home, ['status', '--json'])).stdout).liveSessions, { ssh: 1 });
    const json = await runOrbit(home.home, ['session', 'list', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const sessions = JSON.parse(json.stdout).sessions;
    assert.deepEqual(sessions.map((v: { id: string; bytesOut: number }) => [v.id, v.bytesOut]), [[s.id, 3 * 1024 * 1024]]);

    assert.equal((await runOrbit(home.home, ['session', 'kill', 'nope'])).code, 2);
    const unknown = await runOrbit(home.home, ['session', 'kill', UNKNOWN]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no open session/);
    assert.equal((await runOrbit(home.home, ['session', 'list', '--limit', '0'])).code, 2);
    const help = await runOrbit(home.home, ['session', 'kill', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--reason <text>/);
    const listHelp = await runOrbit(home.home, ['session', 'list', '--help']);
    assert.equal(listHelp.code, 0);
    assert.match(listHelp.stdout, /--json/);

    const heard = endHeard(s, 30_000);
    const kill = await runOrbit(home.home, ['session', 'kill', s.id, '--reason', 'maintenance window over']);
    assert.equal(kill.code, 0, kill.stderr);
    assert.match(kill.stdout, /end of session .* requested/);
    assert.equal((await heard).reason, 'maintenance window over');
    await s.close({ reason: 'ended-by-admin' });
    const events = await proxy.store.repos.auditEvents.query({ type: 'session.end_requested', subject: `session:${s.id}`, limit: 5 });
    assert.equal(events.length, 1);
    assert.match(String(events[0]!.actor), /^orbit:/);
  });
});
