// Command rules: validation at save time, the judgement of a line, exec commands, merging several groups.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CommandGuard,
  commandParts,
  judge,
  judgeExec,
  mostRestrictive,
  validateRules,
  MAX_PATTERN_LENGTH,
  type CommandRule,
  type GuardRelease,
  type GuardedCommand,
} from '../../../appliance/commands/index.js';
import { WardenError } from '../../../appliance/errors/index.js';

function refused(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof WardenError && e.code === 'INPUT_INVALID' && message.test(e.message));
}

test('rules are validated when saved, with an error that says which rule and why', () => {
  refused(() => validateRules([{ pattern: 'ok', action: 'allow' }, { pattern: '(unclosed', action: 'block' }], 'rules'), /rule 2: not a valid regular expression/);
  refused(() => validateRules([{ pattern: 'x'.repeat(MAX_PATTERN_LENGTH + 1), action: 'block' }], 'rules'), /rule 1: the pattern is longer than 512/);
  refused(() => validateRules([{ pattern: '(a+)+$', action: 'block' }], 'rules'), /rule 1: a quantified group that itself repeats/);
  refused(() => validateRules([{ pattern: '(x\\w*)*y', action: 'block' }], 'rules'), /exponential/);
  refused(() => validateRules([{ pattern: 'rm', action: 'deny' }], 'rules'), /rule 1: the action must be allow, alert or block/);
  refused(() => validateRules([{ pattern: '  ', action: 'block' }], 'rules'), /the pattern is empty/);
  refused(() => validateRules([], 'whitelist'), /mode/);
  refused(() => validateRules('rm', 'rules'), /rules must be a list/);
  assert.deepEqual(validateRules([{ pattern: '^rm\\s+-rf', action: 'block', extra: 1 }], 'allow-list'), {
    mode: 'allow-list',
    rules: [{ pattern: '^rm\\s+-rf', action: 'block' }],
  });
});

test('the first matching rule decides; the whole line and each of its commands are judged, the most severe wins', () => {
  const rules: CommandRule[] = [
    { pattern: '^rm -rf /tmp/scratch$', action: 'allow' },
    { pattern: '^rm\\s+-[a-z]*r', action: 'block' },
    { pattern: '^sudo\\b', action: 'alert' },
  ];
  assert.equal(judge(rules, 'rules', 'ls -l').action, 'allow');
  assert.equal(judge(rules, 'rules', 'ls -l').rule, null);
  assert.equal(judge(rules, 'rules', 'rm -rf /tmp/scratch').action, 'allow');
  assert.equal(judge(rules, 'rules', 'rm -rf /').action, 'block');
  assert.equal(judge(rules, 'rules', 'rm -rf /').rule?.position, 1);
  for (const line of ['echo safe; rm -rf /', 'true&&rm -r /', 'x || rm -rf /', 'echo `rm -rf /`', 'echo "$(rm -rf /)"', 'ls | rm -rf /', '( rm -rf / )', 'a &\nrm -rf /']) {
    assert.equal(judge(rules, 'rules', line).action, 'block', line);
  }
  assert.equal(judge(rules, 'rules', "echo 'rm -rf /'").action, 'allow', 'quoted text is an argument, not a command');
  assert.equal(judge(rules, 'rules', 'sudo ls').action, 'alert');
  assert.equal(judge(rules, 'rules', 'sudo ls; rm -rf /').action, 'block');
  assert.equal(judge(rules, 'rules', '   ').action, 'allow');
});

test('allow-list mode: every command of the line needs an allow (or alert) rule; the rest is blocked', () => {
  const rules: CommandRule[] = [
    { pattern: '^ls( .*)?$', action: 'allow' },
    { pattern: '^cat /var/log/', action: 'alert' },
    { pattern: '^ls .*secret', action: 'block' },
  ];
  assert.equal(judge(rules, 'allow-list', 'ls -l').action, 'allow');
  assert.equal(judge(rules, 'allow-list', 'ls; rm -rf /').action, 'block', 'the `.*` of an allow rule does not cover a second command');
  assert.equal(judge(rules, 'allow-list', 'ls; rm -rf /').part, 'rm -rf /');
  assert.equal(judge(rules, 'allow-list', 'ls; rm -rf /').rule, null);
  assert.equal(judge(rules, 'allow-list', 'cat /var/log/syslog').action, 'alert');
  assert.equal(judge(rules, 'allow-list', 'ls | cat /var/log/x').action, 'alert');
  assert.equal(judge(rules, 'allow-list', 'whoami').action, 'block');
  assert.equal(judge(rules, 'allow-list', 'ls ' + 'a'.repeat(5000)).action, 'block', 'a line past the matching bound is not proven harmless');
});

test('exec commands are judged whole, like a line', () => {
  const rules: CommandRule[] = [{ pattern: '^rm\\b', action: 'block' }];
  assert.equal(judgeExec(rules, 'rules', 'uptime').action, 'allow');
  assert.equal(judgeExec(rules, 'rules', 'uptime; rm -f /etc/passwd').action, 'block');
  assert.equal(judgeExec(rules, 'allow-list', 'uptime').action, 'block');
});

test('splitting a line into commands respects quotes and escapes', () => {
  assert.deepEqual(commandParts(`echo "a;b" 'c|d' e\\;f; ls`), [`echo "a;b" 'c|d' e\\;f`, 'ls']);
  assert.deepEqual(commandParts('a && b || c | d & e'), ['a', 'b', 'c', 'd', 'e']);
  assert.deepEqual(commandParts('echo "x $(id) y"'), ['echo "x', 'id', 'y"']);
});

test('matching a long hostile line stays fast: the input is bounded', () => {
  // Quadratic on unbounded input (each start position scans the blanks); bounded, it stays cheap.
  const rules: CommandRule[] = [{ pattern: '\\s+x$', action: 'block' }];
  const started = process.hrtime.bigint();
  judge(rules, 'rules', ' '.repeat(1_000_000) + 'y');
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.ok(ms < 2000, `took ${ms} ms`);
});

test('several admitting groups merge to the most restrictive: allow-list wins, any block beats any allow', () => {
  const a = { mode: 'rules' as const, rules: [{ pattern: '^rm -rf /tmp/ok', action: 'allow' as const }] };
  const b = { mode: 'rules' as const, rules: [{ pattern: '^rm -rf', action: 'block' as const }] };
  const merged = mostRestrictive([a, b]);
  assert.equal(merged.mode, 'rules');
  assert.equal(judge(merged.rules, merged.mode, 'rm -rf /tmp/ok').action, 'block');
  const c = { mode: 'allow-list' as const, rules: [{ pattern: '^ls$', action: 'allow' as const }] };
  const m2 = mostRestrictive([b, c]);
  assert.equal(m2.mode, 'allow-list');
  assert.equal(judge(m2.rules, m2.mode, 'ls').action, 'allow');
  assert.equal(judge(m2.rules, m2.mode, 'whoami').action, 'block');
  assert.deepEqual(mostRestrictive([a]), a, 'one group keeps its own order (its exceptions before its blocks)');
  assert.deepEqual(mostRestrictive([]), { mode: 'rules', rules: [] });
});

/** `hunter2` typed at a password prompt that echoes nothing, then Enter, under a guard with `rules`: what it released and reported. */
async function typeAtPasswordPrompt(rules: CommandRule[]): Promise<{ released: GuardRelease[]; commands: GuardedCommand[] }> {
  const released: GuardRelease[] = [];
  const commands: GuardedCommand[] = [];
  const guard = new CommandGuard({ rules, mode: 'rules', maxHoldMs: 150, onRelease: (r) => released.push(r), onCommand: (c) => commands.push(c) });
  guard.fromTarget(Buffer.from('Password: '));
  const r = guard.fromClient(Buffer.from('hunter2'));
  assert.equal(r.forward.toString(), 'hunter2');
  await new Promise((res) => setTimeout(res, 30));
  const enter = guard.fromClient(Buffer.from('\r'));
  assert.equal(enter.forward.length, 0, 'held: no echo came after the keys');
  await new Promise((res) => setTimeout(res, 400));
  guard.close();
  return { released, commands };
}

test('an Enter whose echo never comes (echo off, as at a password prompt) is released after the hold, the typed text never reported', async () => {
  const { released, commands } = await typeAtPasswordPrompt([{ pattern: 'rm -rf', action: 'block' }]);
  assert.deepEqual(released.map((x) => x.toTarget.toString()), ['\r']);
  assert.deepEqual(commands, [], 'an empty echo line is no command, and the typed secret is not one either');
});

test('at a password prompt the typed line is still judged (a shell prompt can look like one), but a line a rule stops is reported without its text', async () => {
  const { released, commands } = await typeAtPasswordPrompt([{ pattern: 'hunter2', action: 'block' }]);
  assert.deepEqual(released.map((x) => x.toTarget.toString()), ['\x03'], 'cancelled: a rule matches what was typed');
  assert.deepEqual(commands.map((c) => [c.command, c.action]), [['[line typed at a password prompt]', 'block']], 'reported, but never as the typed text');
});

test('output text for the index: escape sequences gone (even cut between chunks), lines kept, C1 controls dropped', async () => {
  const { TerminalText } = await import('../../../appliance/commands/index.js');
  const t = new TerminalText();
  t.write(Buffer.from('\x1b[01;34mdir\x1b[0m  file\r\n\x1b]0;title\x07ok\x1b['));
  t.write(Buffer.from('Kdone\u009b31m\n'));
  const euro = Buffer.from('€');
  t.write(euro.subarray(0, 1));
  t.write(euro.subarray(1));
  assert.equal(t.take(), 'dir  file\nokdone31m\n€');
  assert.equal(t.length, 0);
});

test('random and hostile bytes in both directions: no exception, bounded state, the guard still answers', async () => {
  const { randomBytes } = await import('node:crypto');
  const { TerminalScreen } = await import('../../../appliance/commands/index.js');
  const released: GuardRelease[] = [];
  const guard = new CommandGuard({ rules: [{ pattern: 'rm', action: 'block' }], mode: 'rules', maxHoldMs: 50, onRelease: (r) => released.push(r) });
  for (let i = 0; i < 2000; i++) {
    const b = randomBytes(1 + (i % 700));
    if (i % 2 === 0) guard.fromTarget(b);
    else guard.fromClient(b);
  }
  // Output that walks the cursor far down and back, writing on every row.
  const screen = new TerminalScreen(80, 24);
  for (let i = 0; i < 5000; i++) screen.write(`\x1b[${i % 9000}Bx\x1b[${(i * 7) % 9000}Ay\x1b[999@\x1b[99999P`);
  assert.ok(screen.heldRows <= 201, `${screen.heldRows} rows held`);
  guard.close();
});
