// Exit statuses of interactive commands end to end: the terminal proxy as a process, a real sshd target whose
// account runs real bash with the one-line shell-integration snippet in its ~/.bashrc (the README's), and
// OpenSSH's `ssh -tt` as the client. The statuses bash reports are stored with the commands and found by
// orbit's search; a bash without the snippet leaves them unknown, except `exit N` that ends the shell with N.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, chownSync } from 'node:fs';
import path from 'node:path';
import type { Appliance } from '../../appliance/index.js';
import type { InitializedHome } from '../helpers/fixtures.js';
import { proxyLab, type ProxyLab } from '../helpers/proxy-lab.js';
import { runClient, type ClientRun, type RunningProxy } from '../helpers/terminal-proxy.js';
import { runOrbit } from '../helpers/orbit.js';

const admin = { username: 'admin', ip: '127.0.0.1', profile: 'administrator' };
/** This file's own account: other proxy test files set their accounts' passwords and shells. */
const TARGET_USER = 'wexit';
/** The snippet the README gives administrators, as it would be added to ~/.bashrc. */
const SNIPPET = `PROMPT_COMMAND='printf "\\033]133;D;%s\\007\\033]133;A\\007" "$?"'`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('terminal proxy: exit statuses of interactive commands', { timeout: 180_000 }, () => {
  let lab: ProxyLab;
  let home: InitializedHome;
  let proxy: RunningProxy;
  let a: Appliance;
  let alicePw = '';

  before(async () => {
    lab = await proxyLab({
      targetUser: TARGET_USER,
      targetPassword: `Exit-${randomBytes(8).toString('hex')}-Q7`,
      users: { alice: {} },
      hosts: ['db01'],
      groups: [{ name: 'ops', users: ['alice'], hosts: ['db01'], commandRules: [{ pattern: '^rm\\s+-[a-z]*r[a-z]*f', action: 'block' }, { pattern: '^sh -c', action: 'alert' }] }],
    });
    ({ home, proxy, a } = lab);
    alicePw = lab.users.alice!.password;
    execFileSync('usermod', ['-s', '/bin/bash', TARGET_USER]);
    const targetHome = execFileSync('getent', ['passwd', TARGET_USER], { encoding: 'utf8' }).split(':')[5]!;
    const uid = Number(execFileSync('id', ['-u', TARGET_USER], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', TARGET_USER], { encoding: 'utf8' }));
    // Debian's own ~/.bashrc (its ~/.profile reads it for a login shell), with the snippet appended.
    const bashrc = path.join(targetHome, '.bashrc');
    writeFileSync(bashrc, `${readFileSync('/etc/skel/.bashrc', 'utf8')}\n${SNIPPET}\n`);
    writeFileSync(path.join(targetHome, '.profile'), readFileSync('/etc/skel/.profile', 'utf8'));
    for (const f of [bashrc, path.join(targetHome, '.profile')]) chownSync(f, uid, gid);
  });

  after(() => lab?.stop());

  /** `ssh -tt` through the proxy: `steps` are [what to wait for in the output, what to type]. */
  async function shell(steps: [RegExp, string][], command: string[] = []): Promise<ClientRun & { done: number }> {
    let done = 0;
    let mark = 0;
    const r = await runClient('ssh', ['-p', String(proxy.port), '-l', `alice:${TARGET_USER}@db01`, '-tt', '127.0.0.1', ...command], alicePw, {
      timeoutMs: 30_000,
      onOutput: (all, write, end) => {
        while (done < steps.length && steps[done]![0].test(all.slice(mark))) {
          mark = all.length;
          write(steps[done]![1]);
          done++;
          if (done === steps.length) end();
        }
      },
    });
    return { ...r, done };
  }

  /** The newest session's commands once its activity is stored (the recording closes after it). */
  async function storedCommands(): Promise<{ sessionId: string; commands: [string, number | null][] }> {
    const [ev] = await a.store.repos.auditEvents.query({ type: 'session.start', limit: 1 });
    const sessionId = JSON.parse(ev!.detail).session as string;
    for (let i = 0; i < 100; i++) {
      const r = await a.recordings.bySession(admin, sessionId);
      if (r && r.status !== 'recording') break;
      await sleep(100);
    }
    const rows = await a.store.repos.sessionCommands.commandsOf(sessionId);
    return { sessionId, commands: rows.map((c) => [c.command, c.exitStatus]) };
  }

  test('with the snippet: true, false and (exit 7) are stored with 0, 1 and 7, a blocked line with none; orbit shows them', async () => {
    const prompt = /\$ $/;
    const r = await shell([
      [prompt, 'true\r'],
      [prompt, 'false\r'],
      [prompt, '(exit 7)\r'],
      [prompt, 'rm -rf /nonexistent-exit-test\r'],
      // readline redraws the prompt after the Ctrl-C that cancelled the line, ending with an erase (ESC [ K).
      [/command blocked[\s\S]*\$ (\x1b\[K)?$/, 'echo exit-status-marker\r'],
      [/exit-status-marker\r\n[\s\S]*\$ (\x1b\[K)?$/, 'exit\r'],
    ]);
    const seen = r.stdout.toString('latin1');
    assert.equal(r.done, 6, seen);
    assert.equal(r.code, 0, 'bash exits with the last status: echo\'s 0');
    assert.match(seen, /\x1b\]133;D;1\x07/, 'the marks pass through to the client unchanged');
    const { sessionId, commands } = await storedCommands();
    assert.deepEqual(commands, [
      ['true', 0],
      ['false', 1],
      ['(exit 7)', 7],
      ['rm -rf /nonexistent-exit-test', null],
      ['echo exit-status-marker', 0],
      ['exit', null],
    ]);
    const found = await runOrbit(home.home, ['session', 'search', '(exit 7)', '--json']);
    assert.equal(found.code, 0, found.stderr);
    assert.deepEqual(
      JSON.parse(found.stdout).results.map((h: { sessionId: string; command: string; exitStatus: number | null }) => [h.sessionId, h.command, h.exitStatus]),
      [[sessionId, '(exit 7)', 7]],
    );
    const table = await runOrbit(home.home, ['session', 'search', 'false', '--user', 'alice']);
    assert.match(table.stdout, /ACTION\s+EXIT\s+MATCH/);
    assert.match(table.stdout, /allow\s+1\s+false/);
  });

  test('without the snippet: the statuses stay unknown, except `exit 3` that ends the shell with 3', async () => {
    const prompt = /\$ $/;
    const r = await shell(
      [
        [prompt, 'true\r'],
        [prompt, 'false\r'],
        [prompt, '(exit 7)\r'],
        [prompt, 'exit 3\r'],
      ],
      ["exec bash --norc --noprofile -i"],
    );
    const seen = r.stdout.toString('latin1');
    assert.equal(r.done, 4, seen);
    assert.equal(r.code, 3);
    assert.doesNotMatch(seen, /\x1b\]133;/);
    const { commands } = await storedCommands();
    assert.deepEqual(commands, [
      ['true', null],
      ['false', null],
      ['(exit 7)', null],
      ['exit 3', 3],
      ['exec bash --norc --noprofile -i', 3],
    ]);
  });

  test('exec commands always get theirs: allowed, alerted (stored when judged, its status added at the end) and blocked', async () => {
    for (const [command, code, action] of [
      ['exit 5', 5, 'allow'],
      ['sh -c "exit 4"', 4, 'alert'],
      ['rm -rf /nonexistent-exit-test', 126, 'block'],
    ] as const) {
      const r = await runClient('ssh', ['-p', String(proxy.port), '-l', `alice:${TARGET_USER}@db01`, '127.0.0.1', command], alicePw);
      assert.equal(r.code, code, r.stderr);
      const { sessionId } = await storedCommands();
      const rows = await a.store.repos.sessionCommands.commandsOf(sessionId);
      assert.deepEqual(rows.map((c) => [c.command, c.action, c.exitStatus]), [[command, action, code]]);
    }
  });
});
