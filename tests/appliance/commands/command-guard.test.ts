// The CommandGuard between a user and a real bash with readline in a pty: a blocked line never runs (its
// file stays), an allowed one does, however the blocked line was produced (typed whole, edited, recalled
// from history, completed with Tab, pasted).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CommandGuard, type CommandRule, type CommandRuleMode, type GuardedCommand } from '../../../appliance/commands/index.js';
import { PtyBash } from '../../helpers/pty-bash.js';

const UP = '\x1b[A';

class Session {
  readonly commands: GuardedCommand[] = [];
  readonly blocked: string[] = [];
  shown = '';
  readonly guard: CommandGuard;
  constructor(
    readonly bash: PtyBash,
    rules: CommandRule[],
    mode: CommandRuleMode = 'rules',
  ) {
    this.guard = new CommandGuard({
      rules,
      mode,
      onCommand: (c) => this.commands.push(c),
      onRelease: (r) => {
        this.bash.write(r.toTarget);
        this.shown += r.toClient.toString();
        if (r.blocked) this.blocked.push(r.blocked.command);
      },
    });
    bash.onOutput((b) => this.guard.fromTarget(b));
  }
  /** The user types `chunk` (one write, as a terminal sends a key or a paste). */
  async type(chunk: string, settleMs = 80): Promise<void> {
    const r = this.guard.fromClient(Buffer.from(chunk, 'latin1'));
    if (r.forward.length > 0) this.bash.write(r.forward);
    this.shown += r.toClient.toString();
    if (r.blocked) this.blocked.push(r.blocked.command);
    await this.bash.settle(settleMs);
  }
  async keys(...chunks: string[]): Promise<void> {
    for (const c of chunks) await this.type(c);
  }
  /** With echo off an Enter is held until the wait for an echo runs out (at least 100 ms): wait longer. */
  async blindKeys(...chunks: string[]): Promise<void> {
    for (const c of chunks) await this.type(c, c.includes('\r') ? 400 : 80);
  }
  /** Run `act` and check it blocked exactly one line, this one. */
  async expectBlocked(line: string, act: () => Promise<void>): Promise<void> {
    const n = this.blocked.length;
    await act();
    assert.deepEqual(this.blocked.slice(n), [line]);
  }
}

async function session(rules: CommandRule[], mode: CommandRuleMode = 'rules'): Promise<{ s: Session; victim: string; file: string }> {
  const bash = new PtyBash();
  await bash.waitFor(/W\$ /);
  await bash.settle();
  const victim = path.join(bash.dir, 'x');
  mkdirSync(victim);
  const file = path.join(victim, 'precious');
  writeFileSync(file, 'keep me\n');
  return { s: new Session(bash, rules, mode), victim, file };
}

describe('CommandGuard with a block rule on rm -rf, against a real bash', () => {
  const rules: CommandRule[] = [
    { pattern: '^rm\\s+-(rf|fr)\\b', action: 'block' },
    { pattern: '^echo alert', action: 'alert' },
  ];
  let s: Session;
  let victim: string;
  let file: string;
  before(async () => ({ s, victim, file } = await session(rules)));
  after(async () => {
    s.guard.close();
    await s.bash.close();
  });

  test('a typed rm -rf is cancelled on the target: the file stays, the user is told, the command is reported', async () => {
    await s.keys(`rm -rf ${victim}`, '\r');
    assert.ok(existsSync(file));
    assert.match(s.shown, /command blocked by rule 1/);
    assert.deepEqual(s.blocked, [`rm -rf ${victim}`]);
    const last = s.commands.at(-1)!;
    assert.equal(last.action, 'block');
    assert.equal(last.command, `rm -rf ${victim}`);
    assert.equal(last.rule?.position, 0);
    assert.ok(Math.abs(last.at - Date.now()) < 5000);
    assert.ok(!s.bash.history().some((l) => l.includes('rm -rf')), 'bash never ran it');
  });

  test('an allowed ls runs', async () => {
    await s.keys('ls x', '\r');
    assert.ok(s.bash.history().includes('ls x'));
    assert.match(s.bash.printed, /precious/);
    assert.equal(s.commands.at(-1)!.action, 'allow');
  });

  test('echo safe; rm -rf and its variants are caught', async () => {
    for (const line of [`echo safe; rm -rf ${victim}`, `true && rm  -fr ${victim}`, `echo $(rm -rf ${victim})`, `ls | rm -rf ${victim}`]) {
      await s.expectBlocked(line, () => s.keys(line, '\r'));
      assert.ok(existsSync(file), line);
    }
  });

  test('a blocked line typed with backspaces and Ctrl-W edits is judged as the shell shows it', async () => {
    await s.expectBlocked(`rm -rf ${victim}`, () => s.keys('rm -r', 'x', '\x7f', 'f nothing', '\x17', victim, '\r'));
    assert.ok(existsSync(file));
  });

  test('a blocked line recalled from history (Up) is caught from the echo', async () => {
    // history -s puts the line in history without running it (the line itself is allowed: it is not rm).
    await s.keys(`history -s 'rm -rf ${victim}'`, '\r');
    await s.expectBlocked(`rm -rf ${victim}`, () => s.keys(UP, '\r'));
    assert.ok(existsSync(file));
    // Recalled and edited: the keys alone (Up, Ctrl-A, Delete) spell nothing like it.
    await s.keys(`history -s 'rm -rf ${victim}/../x'`, '\r');
    await s.expectBlocked(`rm -rf ${victim}`, () => s.keys(UP, '\x05', '\x7f'.repeat(5), '\r'));
    assert.ok(existsSync(file));
  });

  test('a blocked line finished by tab completion is caught', async () => {
    await s.expectBlocked('rm -rf precious', () => s.keys('cd x', '\r', 'rm -rf ', 'prec', '\t', '\r'));
    assert.ok(existsSync(file));
    await s.keys('cd ..', '\r');
  });

  test('a line sent with its Enter in one write (no time for the echo) is still judged on the echo', async () => {
    await s.expectBlocked(`rm -rf ${victim}`, () => s.type(`rm -rf ${victim}\r`, 200));
    assert.ok(existsSync(file));
  });

  test('a pasted block of lines runs up to the blocked one, and nothing after it', async () => {
    const before = s.bash.history().length;
    await s.expectBlocked(`rm -rf ${victim}`, () => s.type(`echo first\nrm -rf ${victim}\ntouch ${victim}/after\n`, 400));
    assert.ok(existsSync(file));
    assert.ok(!existsSync(path.join(victim, 'after')));
    assert.deepEqual(s.bash.history().slice(before), ['echo first']);
  });

  test('a bracketed paste holding rm -rf on its second line is blocked at the Enter', async () => {
    await s.expectBlocked(`echo one\nrm -rf ${victim}`, () => s.keys(`\x1b[200~echo one\nrm -rf ${victim}\x1b[201~`, '\r'));
    assert.ok(existsSync(file));
  });

  test('an alert rule lets the command run and reports it as an alert', async () => {
    await s.keys('echo alert me', '\r');
    assert.match(s.bash.printed, /\ralert me\r\n/);
    assert.equal(s.commands.at(-1)!.action, 'alert');
    assert.equal(s.commands.at(-1)!.rule?.position, 1);
  });

  test('echo turned off (stty -echo) is no way around the rules: the keys are judged, an unreadable line is refused', async () => {
    await s.blindKeys('stty -echo', '\r');
    await s.expectBlocked(`rm -rf ${victim}`, () => s.blindKeys(`rm -rf ${victim}`, '\r'));
    assert.ok(existsSync(file));
    await s.blindKeys(`history -s 'rm -rf ${victim}'`, '\r');
    await s.expectBlocked('[line not echoed: cannot be read]', () => s.blindKeys(UP, '\r'));
    assert.ok(existsSync(file));
    assert.match(s.shown, /with echo off the line cannot be checked/);
    const reported = s.commands.length;
    await s.blindKeys('stty echo', '\r');
    assert.equal(s.commands.length, reported, 'an allowed line typed without echo is not reported (it may be a secret)');
    await s.blindKeys('echo echo-is-back', '\r');
    assert.equal(s.commands.at(-1)!.command, 'echo echo-is-back');
  });

  test('a secret typed at a password prompt (echo off) is never reported as text', async () => {
    const n = s.commands.length;
    const b = s.blocked.length;
    await s.blindKeys("read -s -p 'Password: ' pw", '\r');
    await s.blindKeys('Sw0rdfish-secret', '\r');
    assert.equal(s.blocked.length, b, 'an ordinary password passes');
    assert.deepEqual(s.commands.slice(n).map((c) => c.command), ["read -s -p 'Password: ' pw"], 'the password is not a command');
    await s.blindKeys('echo "len=${#pw}"', '\r');
    assert.match(s.bash.printed, /len=16/);
  });

  test('a password that a rule blocks is cancelled and reported without its text', async () => {
    const b = s.blocked.length;
    await s.blindKeys("read -s -p 'Password: ' pw2", '\r');
    await s.blindKeys('rm -rf /etc', '\r');
    assert.deepEqual(s.blocked.slice(b), ['[line typed at a password prompt]']);
    assert.ok(s.commands.every((c) => !c.command.includes('rm -rf /etc')), JSON.stringify(s.commands));
  });

  test('a password echoed by a slow stty -echo is still not kept as a command', async () => {
    const n = s.commands.length;
    // The prompt is printed before echo goes off, and the user types at once: the target echoes the secret.
    await s.keys("printf 'Password: '; read pw3", '\r');
    await s.keys('Echoed-Secret-42', '\r');
    assert.deepEqual(s.commands.slice(n).map((c) => c.command), ["printf 'Password: '; read pw3"]);
  });

  test('after all that the session works: the next command runs', async () => {
    await s.keys('echo still-alive', '\r');
    assert.equal(s.bash.history().at(-1), 'echo still-alive');
  });
});

test('a shell prompt made to look like a password prompt, with echo off, is no way around the rules', async () => {
  const { s, victim, file } = await session([{ pattern: '^rm\\s+-(rf|fr)\\b', action: 'block' }]);
  try {
    await s.keys("PS1='Password: '; stty -echo", '\r');
    await s.blindKeys(`rm -rf ${victim}`, '\r');
    assert.ok(existsSync(file), 'the blocked line never ran');
    assert.deepEqual(s.blocked, ['[line typed at a password prompt]']);
    // Echo back on at the look-alike prompt: judged on the screen, still blocked, still not kept as text.
    await s.blindKeys('stty echo', '\r');
    await s.keys(`rm -rf ${victim}`, '\r');
    assert.ok(existsSync(file), 'the blocked line never ran');
    assert.deepEqual(s.blocked, ['[line typed at a password prompt]', '[line typed at a password prompt]']);
    assert.ok(s.commands.every((c) => !c.command.includes('rm -rf')), JSON.stringify(s.commands));
  } finally {
    s.guard.close();
    await s.bash.close();
  }
});

test('allow-list mode: only what an allow rule matches runs, and every part of a list is judged', async () => {
  const { s, victim, file } = await session([{ pattern: '^(ls|echo)( |$)', action: 'allow' }], 'allow-list');
  try {
    await s.keys('ls', '\r');
    assert.equal(s.bash.history().at(-1), 'ls');
    await s.keys(`echo ok; touch ${victim}/new`, '\r');
    assert.ok(!existsSync(path.join(victim, 'new')));
    await s.keys(`touch ${victim}/new2`, '\r');
    assert.ok(!existsSync(path.join(victim, 'new2')));
    assert.match(s.shown, /the allow-list \(no rule allows it\)/);
    assert.ok(existsSync(file));
    assert.deepEqual(s.bash.history(), ['ls']);
  } finally {
    s.guard.close();
    await s.bash.close();
  }
});
