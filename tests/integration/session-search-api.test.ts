// Command rules and session search over the web daemon's API and orbit: an administrator sets a group's
// rules; an auditor finds who ran a command, where and when, with the second of the recording.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import type { InitializedHome } from '../helpers/fixtures.js';
import { ApiClient, type RunningDaemon, daemonWithAdmin, signInAccounts } from '../helpers/web-daemon.js';
import { runOrbit } from '../helpers/orbit.js';

describe('command rules and session search: API and orbit', () => {
  let home: InitializedHome;
  let d: RunningDaemon;
  let admin: ApiClient;
  const clients: Record<string, ApiClient> = {};
  const ids: Record<string, number> = {};
  let sessionId = '';

  before(async () => {
    ({ home, d, admin } = await daemonWithAdmin());
    await signInAccounts(admin, d, [['ops', 'privileged-access-user'], ['audit', 'auditor']] as const, clients, ids);
    ids.device = (await admin.call('POST', '/api/v1/devices', { hostname: 'db01', address: '127.0.3.10', connectivity: 'SSH:22' })).json.device.id;
    ids.cred = (await admin.call('POST', '/api/v1/credentials', { deviceId: ids.device, username: 'root', secret: 'T0p-Secret-Root-123' })).json.credential.id;
    ids.group = (await admin.call('POST', '/api/v1/access-groups', { name: 'dba', userIds: [ids.ops], deviceIds: [ids.device], credentialIds: [ids.cred] })).json.group.id;
  });
  after(async () => {
    await d?.stop();
    home?.cleanup();
  });

  test('an administrator sets and reads a group\'s command rules; a bad pattern is a 400 that says why; others are refused', async () => {
    const path = `/api/v1/access-groups/${ids.group}/command-rules`;
    const bad = await admin.call('PUT', path, { mode: 'rules', rules: [{ pattern: '[unclosed', action: 'block' }] });
    assert.equal(bad.status, 400, bad.body);
    assert.match(bad.body, /rule 1: not a valid regular expression/);
    const put = await admin.call('PUT', path, { mode: 'rules', rules: [{ pattern: '^rm\\s+-rf', action: 'block' }, { pattern: '^sudo', action: 'alert' }] });
    assert.equal(put.status, 200, put.body);
    assert.equal(put.json.commandRules.rules.length, 2);
    const got = await admin.call('GET', path);
    assert.deepEqual(got.json.commandRules, { groupId: ids.group, mode: 'rules', rules: [{ pattern: '^rm\\s+-rf', action: 'block' }, { pattern: '^sudo', action: 'alert' }] });
    assert.equal((await clients.ops!.call('PUT', path, { mode: 'rules', rules: [] })).status, 403);
    assert.equal((await clients.audit!.call('GET', path)).status, 403);
    assert.equal((await admin.call('PUT', '/api/v1/access-groups/99999/command-rules', { mode: 'rules', rules: [] })).status, 404);
    const events = await clients.audit!.call('GET', '/api/v1/audit?type=access_group.command_rules');
    assert.equal(events.json.events.length, 1, 'the refused saves changed nothing and wrote nothing');
  });

  test('a session the proxy records is found by an auditor through the API, at its second in the recording', async () => {
    // The proxy's side, in this process: admit, then record a blocked command and some output.
    const a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
    try {
      const r = await a.sessions.open({ userId: ids.ops!, deviceId: ids.device!, credentialId: ids.cred!, protocol: 'ssh', source: '127.0.0.9' });
      assert.ok(r.admitted);
      sessionId = r.session.id;
      const verdict = r.session.judgeExec('rm -rf /var/lib/mysql');
      assert.equal(verdict.action, 'block');
      const started = Date.now();
      await a.sessions.recordActivity(sessionId, {
        commands: [
          { at: started + 42_000, command: 'rm -rf /var/lib/mysql', action: verdict.action, rule: verdict.rule, exec: true },
          { at: started + 44_000, command: 'mysqladmin status', action: 'allow', rule: null, exitStatus: 1 },
        ],
        output: [{ at: started + 43_000, text: 'ERROR 2002: Can\'t connect to local MySQL server' }],
      });
      await r.session.close({ reason: 'test' });
    } finally {
      await a.close();
    }
    const found = await clients.audit!.call('GET', '/api/v1/sessions?command=' + encodeURIComponent('rm -rf'));
    assert.equal(found.status, 200, found.body);
    assert.equal(found.json.results.length, 1);
    const hit = found.json.results[0];
    assert.equal(hit.sessionId, sessionId);
    assert.equal(hit.user, 'ops');
    assert.equal(hit.device, 'db01');
    assert.equal(hit.command, 'rm -rf /var/lib/mysql');
    assert.equal(hit.action, 'block');
    assert.equal(hit.exitStatus, null, 'none was stored');
    const withStatus = await clients.audit!.call('GET', '/api/v1/sessions?command=mysqladmin');
    assert.deepEqual(withStatus.json.results.map((h: { command: string; exitStatus: number | null }) => [h.command, h.exitStatus]), [['mysqladmin status', 1]]);
    assert.equal(hit.recordingId, null, 'this session was not recorded');
    assert.ok(hit.offsetSeconds >= 41 && hit.offsetSeconds <= 43, String(hit.offsetSeconds));
    const text = await clients.audit!.call('GET', '/api/v1/sessions?text=MySQL%20server&user=ops&device=db01&since=1d');
    assert.equal(text.json.results.length, 1, text.body);
    assert.equal((await clients.audit!.call('GET', '/api/v1/sessions?command=rm&user=nobody')).json.results.length, 0);
    assert.equal((await clients.ops!.call('GET', '/api/v1/sessions?command=rm')).status, 403, 'a privileged-access user searches nobody\'s sessions');
    assert.equal((await clients.audit!.call('GET', '/api/v1/sessions?command=rm&limit=0')).status, 400);
    assert.equal((await clients.audit!.call('GET', '/api/v1/sessions?command=rm&since=someday')).status, 400);
    assert.equal((await clients.audit!.call('GET', '/api/v1/sessions?color=red')).status, 400);
  });

  test('orbit session search answers the same, as a table or JSON; bad input is a usage error', async () => {
    const json = await runOrbit(home.home, ['session', 'search', 'rm -rf', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const results = JSON.parse(json.stdout).results;
    assert.deepEqual(results.map((r: { sessionId: string; user: string }) => [r.sessionId, r.user]), [[sessionId, 'ops']]);
    const table = await runOrbit(home.home, ['session', 'search', 'rm -rf', '--user', 'ops', '--device', 'db01', '--since', '7d']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^TIME\s+USER\s+DEVICE\s+SESSION\s+RECORDING\s+AT\s+ACTION\s+EXIT\s+MATCH/);
    assert.match(table.stdout, new RegExp(`ops\\s+db01\\s+${sessionId}\\s+-\\s+\\d+s\\s+block\\s+-\\s+rm -rf /var/lib/mysql`), 'no exit status stored: -');
    const text = await runOrbit(home.home, ['session', 'search', '--text', 'MySQL']);
    assert.match(text.stdout, /Can't connect to local MySQL server/);
    const none = await runOrbit(home.home, ['session', 'search', 'no-such-command-anywhere']);
    assert.equal(none.code, 0);
    assert.match(none.stdout, /no matching sessions/);
    assert.equal((await runOrbit(home.home, ['session', 'search', 'rm', '--since', 'someday'])).code, 2);
    assert.equal((await runOrbit(home.home, ['session', 'search'])).code, 2, 'nothing to search for');
    const help = await runOrbit(home.home, ['session', 'search', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--text <text>/);
  });
});
