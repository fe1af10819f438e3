// orbit shell, the deployer's console: it runs orbit commands and nothing else. Lines are split into words
// without a shell (pipes, `$( )`, `>` and `!` are characters), on a real pseudo-terminal with history;
// with --login it first checks the console account's password in the root's /etc/shadow.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { initializedHome, tempDir, type InitializedHome } from '../helpers/fixtures.js';
import { Terminal, ENTER, UP, CTRL_C } from '../helpers/orbit-terminal.js';
import { runOrbit } from '../helpers/orbit.js';
import { splitArgv, ArgvSyntaxError } from '../../cli/orbit/console/argv.js';
import { interpretLine } from '../../cli/orbit/console/shell.js';
import { setConsolePassword } from '../../cli/orbit/console/account.js';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';

const COMMANDS = ['user', 'audit', 'status'];

describe('the console line splitter', () => {
  test('blanks separate words; quotes group; a backslash escapes', () => {
    assert.deepEqual(splitArgv('  user   add  bob '), ['user', 'add', 'bob']);
    assert.deepEqual(splitArgv(`user add --full-name 'Ada Lovelace' --email "a@b.localhost"`), ['user', 'add', '--full-name', 'Ada Lovelace', '--email', 'a@b.localhost']);
    assert.deepEqual(splitArgv(`say "a \\"quoted\\" word" it\\'s ''`), ['say', 'a "quoted" word', "it's", '']);
    assert.deepEqual(splitArgv(`'single \\n stays' "double \\n stays"`), ['single \\n stays', 'double \\n stays']);
  });

  test('shell syntax is no syntax: pipes, separators, substitutions and redirections stay inside words', () => {
    assert.deepEqual(splitArgv('user list | sh'), ['user', 'list', '|', 'sh']);
    assert.deepEqual(splitArgv('status;reboot && rm -rf / > /tmp/x $(id) `id` ~ *'), ['status;reboot', '&&', 'rm', '-rf', '/', '>', '/tmp/x', '$(id)', '`id`', '~', '*']);
    assert.deepEqual(splitArgv('!bash'), ['!bash']);
  });

  test('an unterminated quote or a trailing backslash is an error, not a continuation', () => {
    assert.throws(() => splitArgv(`user add 'bob`), ArgvSyntaxError);
    assert.throws(() => splitArgv('user add "bob'), /unterminated double quote/);
    assert.throws(() => splitArgv('user add \\'), /backslash at the end/);
  });

  test('only orbit commands run: a history expansion or another program is refused with the reason', () => {
    assert.deepEqual(interpretLine('user list', COMMANDS), { run: ['user', 'list'] });
    assert.deepEqual(interpretLine('user list | sh', COMMANDS), { run: ['user', 'list', '|', 'sh'] });
    assert.deepEqual(interpretLine('orbit status', COMMANDS), { run: ['status'] });
    assert.deepEqual(interpretLine('help user', COMMANDS), { run: ['user', '--help'] });
    assert.deepEqual(interpretLine('help', COMMANDS), { help: true });
    assert.deepEqual(interpretLine('   ', COMMANDS), { nothing: true });
    for (const line of ['exit', 'quit', 'logout']) assert.deepEqual(interpretLine(line, COMMANDS), { exit: true });
    assert.match((interpretLine('!bash', COMMANDS) as { message: string }).message, /no system shell/);
    assert.match((interpretLine('!!', COMMANDS) as { message: string }).message, /no system shell/);
    assert.match((interpretLine('bash -i', COMMANDS) as { message: string }).message, /"bash" is not an orbit command/);
    assert.match((interpretLine('$(id)', COMMANDS) as { message: string }).message, /"\$\(id\)" is not an orbit command/);
    assert.match((interpretLine('|sh', COMMANDS) as { message: string }).message, /"\|sh" is not an orbit command/);
    assert.match((interpretLine('orbit bash', COMMANDS) as { message: string }).message, /"bash" is not an orbit command/);
    assert.match((interpretLine(`user 'list`, COMMANDS) as { message: string }).message, /cannot read that line: unterminated single quote/);
  });
});

describe('orbit shell on a terminal', () => {
  let appliance: InitializedHome;
  const tmp = tempDir('warden-shell-');
  before(async () => {
    appliance = await initializedHome({ adminUsername: 'chief' });
  });
  after(() => {
    appliance.cleanup();
    tmp.cleanup();
  });

  test('runs orbit commands with history; refuses !bash and shell syntax; Ctrl-C keeps it; exit leaves', async () => {
    const canary = path.join(tmp.dir, 'redirected');
    const t = new Terminal(['--home', appliance.home, '--config', appliance.configFile, 'shell']);
    const prompt = /orbit@[^>\n]*> /;
    await t.expect(/Warden console on .*Type help for the commands, exit to leave\./);
    await t.answer(prompt, 'user list' + ENTER);
    await t.expect(/USERNAME[\s\S]*chief[\s\S]*administrator/);
    await t.answer(prompt, '!bash' + ENTER);
    await t.expect(/there is no system shell on this console/);
    await t.answer(prompt, `echo $(id) > ${canary}` + ENTER);
    await t.expect(/"echo" is not an orbit command/);
    // The pipe and the redirection reach orbit as arguments, which it rejects: nothing else ran.
    await t.answer(prompt, `user list | sh > ${canary}` + ENTER);
    await t.expect(/too many arguments[\s\S]*\(exit 2\)/);
    // History: the arrow brings back the last command but one.
    await t.answer(prompt, 'help' + ENTER);
    await t.expect(/Commands \(type "help COMMAND"[\s\S]*\n {2}user +\S[\s\S]*\n {2}setup +first-boot setup[\s\S]*\n {2}help, exit +this list/);
    await t.answer(prompt, UP + UP + UP + ENTER);
    await t.expect(/"echo" is not an orbit command/);
    await t.answer(prompt, 'half a line' + CTRL_C);
    await t.answer(prompt, 'exit' + ENTER);
    assert.equal(await t.end(), 0, t.text);
    assert.equal(existsSync(canary), false);
    assert.doesNotMatch(t.text, /uid=\d+/);
  });

  test('a command that asks questions gets the terminal; Ctrl-C in it ends the command, not the console', async () => {
    const t = new Terminal(['--home', appliance.home, '--config', appliance.configFile, 'shell']);
    const prompt = /orbit@[^>\n]*> /;
    await t.answer(prompt, 'user add' + ENTER);
    await t.answer(/User name/, 'dmitri' + ENTER);
    await t.answer(/Full name/, 'Dmitri M' + ENTER);
    await t.answer(/Profile/, ENTER);
    await t.expect(/created dmitri/);
    await t.answer(prompt, 'user add' + ENTER);
    await t.answer(/User name/, CTRL_C);
    await t.expect(/cancelled[\s\S]*\(exit 1\)/);
    await t.answer(prompt, 'user list' + ENTER);
    await t.expect(/dmitri/);
    await t.answer(prompt, 'exit' + ENTER);
    assert.equal(await t.end(), 0, t.text);
  });

  test('without a terminal it reads commands from its input the same way', async () => {
    const r = await runOrbit(appliance.home, ['--config', appliance.configFile, 'shell'], { input: 'user list\n!sh\nstatus | cat\nexit\nuser list\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.match(/chief/g)?.length, 1, 'the line after exit is not run');
    assert.match(r.stdout, /there is no system shell/);
    assert.match(r.stderr, /too many arguments/);
  });
});

describe('orbit shell --login (the console login on tty1)', () => {
  const tmp = tempDir('warden-login-');
  const root = tmp.dir;
  const PASSWORD = 'console-pass-1234';
  before(async () => {
    mkdirSync(path.join(root, 'etc'), { recursive: true });
    writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\norbit:x:998:998:Warden deployer console:/:/usr/local/bin/orbit-shell\n');
    writeFileSync(path.join(root, 'etc/shadow'), 'root:*:20000:0:99999:7:::\norbit:!*:20000::::::\n', { mode: 0o640 });
    await setConsolePassword(root, PASSWORD);
  });
  after(() => tmp.cleanup());

  const login = (user: string, delay = '0') => new Terminal(['shell', '--login', '--root', root, '--fail-delay', delay, '--', user]);

  test('the right password of the account orbit opens the console', async () => {
    const t = login('orbit');
    await t.answer(/Password/, PASSWORD + ENTER);
    await t.answer(/orbit@[^>\n]*> /, 'exit' + ENTER);
    assert.equal(await t.end(), 0, t.text);
    assert.doesNotMatch(t.text, new RegExp(PASSWORD));
  });

  test('a wrong password: "Login incorrect" after the pause, exit 1, no console', async () => {
    const t = login('orbit', '400');
    await t.answer(/Password/, 'console-pass-1235' + ENTER);
    const asked = Date.now();
    await t.expect(/Login incorrect/);
    assert.ok(Date.now() - asked >= 400, 'the pause after a wrong password');
    assert.equal(await t.end(), 1, t.text);
    assert.doesNotMatch(t.text, /Warden console/);
  });

  test('any other account, even with the right password, is refused the same way', async () => {
    for (const user of ['root', 'Orbit']) {
      const t = login(user);
      await t.answer(/Password/, PASSWORD + ENTER);
      await t.expect(/Login incorrect/);
      assert.equal(await t.end(), 1, t.text);
    }
  });

  test('on an initialized appliance every console login, failed or not, is in the audit trail', async () => {
    const home = await initializedHome();
    try {
      const at = ['--home', home.home, '--config', home.configFile, 'shell', '--login', '--root', root, '--fail-delay', '0', '--'];
      const wrong = new Terminal([...at, 'orbit']);
      await wrong.answer(/Password/, 'not-the-password' + ENTER);
      await wrong.expect(/Login incorrect/);
      assert.equal(await wrong.end(), 1, wrong.text);
      const stranger = new Terminal([...at, 'hunter2-typed-as-a-name']);
      await stranger.answer(/Password/, PASSWORD + ENTER);
      assert.equal(await stranger.end(), 1, stranger.text);
      const right = new Terminal([...at, 'orbit']);
      await right.answer(/Password/, PASSWORD + ENTER);
      await right.answer(/orbit@[^>\n]*> /, 'exit' + ENTER);
      assert.equal(await right.end(), 0, right.text);
      const a = await Appliance.open(loadConfig({ ...process.env, WARDEN_HOME: home.home, WARDEN_CONFIG: home.configFile }));
      try {
        const events = (await a.audit.events({ type: 'console.login', limit: 10 })).sort((x, y) => x.seq - y.seq);
        assert.deepEqual(
          events.map((e) => [e.outcome, e.code, e.eventCode, e.subject, (e.detail as { name?: string }).name ?? null]),
          [
            ['failure', 'AUTH_BAD_PASSWORD', 'W2211', 'orbit', 'orbit'],
            ['failure', 'AUTH_UNKNOWN_USER', 'W2211', 'orbit', null],
            ['success', null, 'W2211', 'orbit', 'orbit'],
          ],
        );
        assert.match((events[0]!.detail as { terminal: string }).terminal, /^\/dev\/pts\/\d+$/);
        assert.doesNotMatch(JSON.stringify(events), /hunter2|not-the-password/);
      } finally {
        await a.close();
      }
    } finally {
      home.cleanup();
    }
  });

  test('a locked account (no password set yet) never logs in', async () => {
    const locked = tempDir('warden-login-locked-');
    try {
      mkdirSync(path.join(locked.dir, 'etc'));
      writeFileSync(path.join(locked.dir, 'etc/shadow'), 'orbit:!*:20000::::::\n');
      const t = new Terminal(['shell', '--login', '--root', locked.dir, '--fail-delay', '0', '--', 'orbit']);
      await t.answer(/Password/, ENTER);
      await t.expect(/Login incorrect/);
      assert.equal(await t.end(), 1, t.text);
    } finally {
      locked.cleanup();
    }
  });
});
