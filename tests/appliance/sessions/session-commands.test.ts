// Command rules on access groups, the rules a session gets at admission, recording its commands and output,
// and the search over them — on a real appliance (SoftHSM token, SQLite with FTS5).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Appliance } from '../../../appliance/index.js';
import { loadConfig } from '../../../appliance/config/index.js';
import { fts5Phrase } from '../../../appliance/store/index.js';
import type { ProxySession } from '../../../appliance/sessions/index.js';
import { initializedHome, ManualClock, strongPassword, type InitializedHome } from '../../helpers/fixtures.js';
import { PtyBash } from '../../helpers/pty-bash.js';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const admin = { username: 'admin', ip: '127.0.0.1' };

describe('session commands: rules, recording, search', () => {
  let home: InitializedHome;
  let a: Appliance;
  const clock = new ManualClock();
  const uid: Record<string, number> = {};
  const dev: Record<string, number> = {};
  const cred: Record<string, number> = {};
  const gid: Record<string, number> = {};

  before(async () => {
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }), { clock: clock.read });
    await a.settings.update({ timeZone: 'UTC' }, 'admin', null);
    for (const name of ['ana', 'bob']) {
      uid[name] = (await a.users.create(admin, { username: name, fullName: name, email: `${name}@example.test`, profile: 'privileged-access-user', password: strongPassword() })).user.id;
    }
    for (const [hostname, address] of [['db01', '127.0.0.21'], ['web01', '127.0.0.22']] as const) {
      dev[hostname] = (await a.devices.createDevice(admin, { hostname, address, connectivity: 'SSH:22' })).id;
      cred[hostname] = (await a.credentials.createCredential(admin, { deviceId: dev[hostname]!, username: 'root', secret: `S3cret-${hostname}-zzzzzzzzzz` })).id;
    }
    const group = async (name: string, users: string[], host: string) =>
      (gid[name] = (await a.accessGroups.saveGroup(admin, { name, userIds: users.map((u) => uid[u]), deviceIds: [dev[host]], credentialIds: [cred[host]] })).id);
    await group('dba', ['ana', 'bob'], 'db01');
    await group('dba-readonly', ['bob'], 'db01');
    await group('web', ['ana', 'bob'], 'web01');
  });
  after(async () => {
    await a?.close();
    home?.cleanup();
  });

  async function open(user: string, host: string): Promise<ProxySession> {
    const r = await a.sessions.open({ userId: uid[user]!, deviceId: dev[host]!, credentialId: cred[host]!, protocol: 'ssh', source: '127.0.0.77' });
    assert.ok(r.admitted);
    return r.session;
  }

  test('a group gets its command rules validated at save time, with a clear error, and audited', async () => {
    await assert.rejects(
      a.accessGroups.setCommandRules(admin, gid.dba!, { mode: 'rules', rules: [{ pattern: '^ls', action: 'allow' }, { pattern: 'rm (-rf', action: 'block' }] }),
      (e: Error & { code?: string }) => e.code === 'INPUT_INVALID' && /rule 2: not a valid regular expression/.test(e.message),
    );
    await assert.rejects(a.accessGroups.setCommandRules(admin, 999_999, { mode: 'rules', rules: [] }), (e: Error & { code?: string }) => e.code === 'NOT_FOUND');
    const saved = await a.accessGroups.setCommandRules(admin, gid.dba!, {
      mode: 'rules',
      rules: [
        { pattern: '^rm\\s+-[a-z]*r[a-z]*f', action: 'block' },
        { pattern: '^sudo\\b', action: 'alert' },
      ],
    });
    assert.equal(saved.rules.length, 2);
    assert.deepEqual(await a.accessGroups.commandRules(gid.dba!), saved);
    const [event] = await a.audit.events({ type: 'access_group.command_rules', limit: 1 });
    assert.equal(event?.severity, 'medium');
    assert.deepEqual(event?.detail && (event.detail as Record<string, unknown>).block, 1);
    // Saving again replaces (positions restart, nothing left over).
    await a.accessGroups.setCommandRules(admin, gid['dba-readonly']!, { mode: 'allow-list', rules: [{ pattern: '^(ls|cat|psql -c "select)\\b', action: 'allow' }] });
  });

  test('a session admitted by one group carries that group\'s rules', async () => {
    const s = await open('ana', 'db01');
    assert.equal(s.commandRules.mode, 'rules');
    assert.deepEqual(s.commandRules.groupIds, [gid.dba]);
    assert.equal(s.judgeExec('rm -rf /var/lib/mysql').action, 'block');
    assert.equal(s.judgeExec('uptime').action, 'allow');
    await s.close({ reason: 'test' });
  });

  test('a session two groups admit runs under the most restrictive merge of both, and says why', async () => {
    const s = await open('bob', 'db01');
    assert.deepEqual([...s.commandRules.groupIds].sort(), [gid.dba, gid['dba-readonly']].sort());
    assert.equal(s.commandRules.mode, 'allow-list');
    assert.match(s.commandRules.why, /most restrictive.*allow-list mode because one of them uses it/);
    assert.equal(s.judgeExec('ls /var').action, 'allow');
    assert.equal(s.judgeExec('uptime').action, 'block', 'not on the allow-list');
    assert.equal(s.judgeExec('ls; rm -rf /').action, 'block');
    await s.close({ reason: 'test' });
  });

  test('a session of a group without rules runs unguarded', async () => {
    const s = await open('ana', 'web01');
    assert.deepEqual(s.commandRules, { mode: 'rules', rules: [], groupIds: [], why: 'no command rules' });
    await s.close({ reason: 'test' });
  });

  describe('recorded commands and output, and the search', () => {
    let s1: ProxySession;
    let s2: ProxySession;
    let s3: ProxySession;
    const t0 = Date.UTC(2026, 10, 22, 9, 0, 0);

    before(async () => {
      clock.now = t0;
      s1 = await open('ana', 'db01');
      clock.now = t0 + 3_600_000;
      s2 = await open('bob', 'db01');
      s3 = await open('ana', 'web01');
      await a.sessions.recordActivity(s1.id, {
        commands: [
          { at: t0 + 5_000, command: 'ls -la /var/lib', action: 'allow', rule: null },
          { at: t0 + 65_500, command: 'rm -rf /var/lib/mysql', action: 'block', rule: { position: 0, pattern: '^rm' } },
          { at: t0 + 70_000, command: 'echo "quoted" * NEAR(a b)', action: 'allow', rule: null },
          { at: t0 + 71_000, command: 'sudo systemctl restart nginx', action: 'alert', rule: { position: 1, pattern: '^sudo' } },
        ],
        output: [{ at: t0 + 6_000, text: 'total 12\ndrwxr-xr-x 2 mysql mysql 4096 ibdata1\n' }],
      });
      await a.sessions.recordActivity(s2.id, {
        commands: [{ at: t0 + 3_600_000 + 2_000, command: 'RM -RF /tmp/cache', action: 'allow', rule: null }],
        output: [{ at: t0 + 3_600_000 + 2_500, text: 'Permission denied while removing segfault.log' }],
      });
      await a.sessions.recordActivity(s3.id, { commands: [{ at: t0 + 3_600_000 + 9_000, command: 'tail -f /var/log/nginx/error.log', action: 'allow', rule: null }] });
    });
    after(async () => {
      for (const s of [s1, s2, s3]) await s.close({ reason: 'test' });
    });

    test('a blocked command raises a high-severity event in the same transaction as its row; an alert a medium one', async () => {
      const [blocked] = await a.audit.events({ type: 'session.command_blocked', limit: 1 });
      assert.equal(blocked?.severity, 'high');
      assert.equal(blocked?.actor, 'ana');
      assert.deepEqual(blocked?.detail, { session: s1.id, command: 'rm -rf /var/lib/mysql', exec: false, rule: 0, pattern: '^rm' });
      const [alert] = await a.audit.events({ type: 'session.command_alert', limit: 1 });
      assert.equal(alert?.severity, 'medium');
      // A session that does not exist records nothing.
      await assert.rejects(a.sessions.recordActivity('00000000-0000-0000-0000-000000000000', { commands: [{ at: t0, command: 'x', action: 'allow', rule: null }] }), (e: Error & { code?: string }) => e.code === 'NOT_FOUND');
    });

    test('search by command finds who ran it, where, when, and the second of the recording, newest first, any case', async () => {
      const r = await a.sessions.search.find({ command: 'rm -rf' });
      assert.deepEqual(
        r.map((x) => [x.user, x.device, x.command, x.offsetSeconds, x.action]),
        [
          ['bob', 'db01', 'RM -RF /tmp/cache', 2, 'allow'],
          ['ana', 'db01', 'rm -rf /var/lib/mysql', 65, 'block'],
        ],
      );
      assert.equal(r[1]!.sessionId, s1.id);
      assert.equal(r[1]!.time, new Date(t0 + 65_500).toISOString());
    });

    test('filters: user, device (name or address), since (date or span)', async () => {
      assert.deepEqual((await a.sessions.search.find({ command: 'rm -rf', user: 'ana' })).map((x) => x.user), ['ana']);
      assert.deepEqual((await a.sessions.search.find({ command: 'log', device: 'web01' })).map((x) => x.command), ['tail -f /var/log/nginx/error.log']);
      assert.deepEqual((await a.sessions.search.find({ command: 'log', device: '127.0.0.22' })).map((x) => x.device), ['web01']);
      assert.deepEqual((await a.sessions.search.find({ command: 'rm -rf', since: new Date(t0 + 1_800_000).toISOString() })).map((x) => x.user), ['bob']);
      assert.deepEqual((await a.sessions.search.find({ command: 'rm -rf', since: '10m' })).map((x) => x.user), ['bob'], 'the clock is at t0+1h');
      assert.equal((await a.sessions.search.find({ user: 'ana' })).length, 5, 'filters alone list commands');
    });

    test('output text is searchable, alone or with a command', async () => {
      const r = await a.sessions.search.find({ text: 'ibdata1' });
      assert.equal(r.length, 1);
      assert.equal(r[0]!.sessionId, s1.id);
      assert.equal(r[0]!.offsetSeconds, 6);
      assert.match(r[0]!.text!, /ibdata1/);
      assert.deepEqual((await a.sessions.search.find({ command: 'rm', text: 'segfault' })).map((x) => x.command), ['RM -RF /tmp/cache']);
    });

    test('search text is literal: FTS5 syntax in it is text, never an operator', async () => {
      assert.equal(fts5Phrase('a"b'), '"a""b"');
      assert.deepEqual((await a.sessions.search.find({ command: '"quoted"' })).map((x) => x.command), ['echo "quoted" * NEAR(a b)']);
      assert.deepEqual((await a.sessions.search.find({ command: 'NEAR(a b)' })).map((x) => x.command), ['echo "quoted" * NEAR(a b)']);
      assert.deepEqual((await a.sessions.search.find({ command: '" * ' })).map((x) => x.command), ['echo "quoted" * NEAR(a b)']);
      assert.deepEqual(await a.sessions.search.find({ command: 'rm OR ls' }), [], 'OR is a word here, not a union');
      assert.deepEqual(await a.sessions.search.find({ command: 'mysq*' }), [], '* is no prefix operator');
      assert.deepEqual((await a.sessions.search.find({ command: '"' })).map((x) => x.command), ['echo "quoted" * NEAR(a b)'], 'a lone quote is a character (short: scanned)');
      assert.deepEqual((await a.sessions.search.find({ command: '*' })).map((x) => x.command), ['echo "quoted" * NEAR(a b)']);
      assert.deepEqual((await a.sessions.search.find({ command: 'rm', user: 'bob' })).map((x) => x.command), ['RM -RF /tmp/cache'], 'two characters: below the trigram index, still found');
    });

    test('a search pages by keyset, newest first, on both kinds of hits: every hit once, the last page says so', async () => {
      for (const input of [{ user: 'ana' }, { command: 'rm -rf' }, { text: 'i' }]) {
        const all = await a.sessions.search.find({ ...input, limit: 1000 });
        assert.ok(all.length >= 2, `${JSON.stringify(input)} has ${all.length} hits`);
        const seen: typeof all = [];
        let before: number | null | undefined;
        for (let pages = 0; before !== null; pages++) {
          assert.ok(pages <= all.length, 'the pages end');
          const page = await a.sessions.search.page({ ...input, limit: 1, ...(before ? { before: String(before) } : {}) });
          assert.equal(page.results.length, 1);
          seen.push(...page.results);
          before = page.nextBefore;
        }
        assert.deepEqual(seen, all, JSON.stringify(input));
      }
      const whole = await a.sessions.search.page({ user: 'ana', limit: 1000 });
      assert.equal(whole.nextBefore, null, 'one page holding everything has no next');
    });

    test('bad search input is refused with the field named', async () => {
      for (const [input, field] of [
        [{ command: 'x', limit: '0' }, 'limit'],
        [{ command: 'x', since: 'yesterday' }, 'since'],
        [{ command: 'a\u0000b' }, 'command'],
        [{ command: 'x'.repeat(257) }, 'command'],
        [{ command: 'x', before: '0' }, 'before'],
        [{ command: 'x', before: '1e3' }, 'before'],
      ] as const) {
        await assert.rejects(a.sessions.search.find(input), (e: Error & { code?: string; details?: Record<string, unknown> }) => e.code === 'INPUT_INVALID' && e.details?.field === field);
      }
      await assert.rejects(a.sessions.search.find({}), /at least one of/);
    });
  });

  test('the whole path without SSH: a session\'s guard in front of a real bash, its recorder, then the search finds what ran and what was blocked', async () => {
    clock.now = Date.now() - 120_000;
    const session = await open('ana', 'db01'); // dba: rm -rf blocked, sudo alerted
    // The recording began 90 s after the session: offsets count from the recording's start.
    clock.now = Date.now() - 30_000;
    const recording = await a.recordings.start(session, { cols: 80, rows: 24, term: 'xterm' });
    const errors: unknown[] = [];
    const recorder = a.sessions.activityRecorder(session.id, { flushMs: 50, clock: Date.now, onError: (e) => errors.push(e) });
    const bash = new PtyBash();
    try {
      await bash.waitFor(/W\$ /);
      const file = path.join(bash.dir, 'precious');
      writeFileSync(file, 'x');
      const guard = session.commandGuard({
        onCommand: (c) => void recorder.command({ at: c.at, command: c.command, action: c.action, rule: c.rule && { position: c.rule.position, pattern: c.rule.pattern } }),
        onRelease: (r) => bash.write(r.toTarget),
      });
      bash.onOutput((b) => {
        guard.fromTarget(b);
        recorder.outputBytes(b);
      });
      const type = async (chunk: string) => {
        const r = guard.fromClient(Buffer.from(chunk));
        if (r.forward.length > 0) bash.write(r.forward);
        await bash.settle(80);
      };
      for (const k of ['echo needle-$((6*7))', '\r', `rm -rf ${file}`, '\r', 'echo done', '\r']) await type(k);
      guard.close();
      await recorder.close();
      assert.ok(existsSync(file), 'the blocked rm never ran');
      const blocked = await a.sessions.search.find({ command: 'rm -rf', user: 'ana', since: '1m' });
      assert.deepEqual(blocked.map((h) => [h.sessionId, h.recordingId, h.command, h.action]), [[session.id, recording.id, `rm -rf ${file}`, 'block']]);
      assert.ok(blocked[0]!.offsetSeconds >= 30 && blocked[0]!.offsetSeconds < 90, `offset ${blocked[0]!.offsetSeconds} s`);
      const ran = await a.sessions.search.find({ command: 'needle', user: 'ana' });
      assert.deepEqual(ran.map((h) => h.command), ['echo needle-$((6*7))']);
      const printed = await a.sessions.search.find({ text: 'needle-42' });
      assert.deepEqual(printed.map((h) => h.sessionId), [session.id], 'the output text, without its escape sequences');
      const [event] = await a.audit.events({ type: 'session.command_blocked', limit: 1 });
      assert.equal((event?.detail as { session: string }).session, session.id);
    } finally {
      await bash.close();
      await recording.close();
      await session.close({ reason: 'test' });
      assert.deepEqual(errors, []);
    }
  });
});
