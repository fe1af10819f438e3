// The console units of the image: the first-boot wizard on tty1 and the orbit console login on every getty.
// `systemd-analyze verify --root` checks them in a tree laid out as on the image (the overlay, this
// machine's systemd units and agetty, an orbit executable), so the getty drop-ins are read with the unit
// they modify and every executable is looked up where the image has it. verify exits 0 on a mere warning:
// the check is "exit 0 and nothing printed", and it is shown to catch a mistake in a drop-in.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './helpers/fixtures.js';
import { Terminal, ENTER } from './helpers/orbit-terminal.js';
import { ORBIT_MAIN } from './helpers/web-daemon.js';
import { setConsolePassword } from '../cli/orbit/console/account.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const overlay = path.join(repo, 'os-overlay');
const read = (p: string) => readFileSync(path.join(overlay, p), 'utf8');

/** A tree with the overlay over this machine's systemd units and agetty. */
function imageTree(): { dir: string; cleanup: () => void } {
  const t = tempDir('warden-units-');
  cpSync('/usr/lib/systemd/system', path.join(t.dir, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
  mkdirSync(path.join(t.dir, 'sbin'), { recursive: true });
  copyFileSync('/sbin/agetty', path.join(t.dir, 'sbin/agetty'));
  cpSync(overlay, t.dir, { recursive: true, verbatimSymlinks: true });
  // The orbit wrapper comes with the app (another part of the overlay): stand in for it if it is not here.
  const orbit = path.join(t.dir, 'usr/local/bin/orbit');
  if (!existsSync(orbit)) {
    mkdirSync(path.dirname(orbit), { recursive: true });
    writeFileSync(orbit, '#!/bin/sh\n');
    chmodSync(orbit, 0o755);
  }
  return t;
}

function verify(root: string, units: string[]): { status: number | null; output: string } {
  const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, ...units], { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

const CONSOLE_UNITS = ['warden-firstboot.service', 'getty@tty1.service', 'getty@tty2.service', 'serial-getty@ttyS0.service'];

describe('os-overlay console units', () => {
  let tree: { dir: string; cleanup: () => void };
  before(() => {
    tree = imageTree();
  });
  after(() => tree.cleanup());

  test('the first-boot unit and the getty drop-ins pass systemd-analyze verify without a warning', () => {
    assert.deepEqual(verify(tree.dir, CONSOLE_UNITS), { status: 0, output: '' });
  });

  test('the check catches a mistake in a getty drop-in', () => {
    const bad = tempDir('warden-units-bad-');
    try {
      cpSync(tree.dir, bad.dir, { recursive: true, verbatimSymlinks: true });
      appendFileSync(path.join(bad.dir, 'etc/systemd/system/getty@.service.d/warden-console.conf'), 'TTYResett=yes\n');
      assert.match(verify(bad.dir, ['getty@tty1.service']).output, /Unknown key 'TTYResett'/);
    } finally {
      bad.cleanup();
    }
  });

  test('until setup is done, tty1 runs orbit setup instead of a getty', () => {
    const unit = read('etc/systemd/system/warden-firstboot.service');
    for (const line of [
      'ExecStart=/usr/local/bin/orbit setup',
      'ConditionPathExists=!/etc/warden/warden.json',
      'Conflicts=getty@tty1.service',
      'Before=getty@tty1.service getty.target',
      'OnSuccess=getty@tty1.service',
      'StandardInput=tty',
      'TTYPath=/dev/tty1',
      'TTYReset=yes',
      'TTYVHangup=yes',
      'Restart=on-failure',
      'WantedBy=multi-user.target',
      'Environment=WARDEN_CONFIG=/etc/warden/warden.json WARDEN_HOME=/var/lib/warden',
    ]) {
      assert.ok(unit.split('\n').includes(line), `warden-firstboot.service has ${line}`);
    }
    assert.match(unit, /^# Why: /);
  });

  test('every console login goes through orbit-login, which runs the orbit console', () => {
    for (const dropIn of ['getty@.service.d', 'serial-getty@.service.d']) {
      const text = read(`etc/systemd/system/${dropIn}/warden-console.conf`);
      assert.match(text, /^# Why: /);
      assert.match(text, /^ExecStart=\n/m, 'the stock ExecStart is replaced, not added to');
      assert.match(text, /^ExecStart=-\/sbin\/agetty -o '-- \\\\u' --login-program \/usr\/local\/sbin\/orbit-login .* - \$TERM$/m);
    }
    for (const [script, line] of [
      ['usr/local/sbin/orbit-login', 'exec /usr/local/bin/orbit shell --login "$@"'],
      ['usr/local/bin/orbit-shell', 'exec /usr/local/bin/orbit shell'],
    ] as const) {
      const text = read(script);
      assert.ok(text.startsWith('#!/bin/sh\n# Why: '), script);
      assert.ok(text.split('\n').includes(line), `${script} runs ${line}`);
      assert.equal(statSync(path.join(overlay, script)).mode & 0o777, 0o755, `${script} is executable`);
    }
  });

  test('agetty as the drop-in starts it hands the login name to orbit-login, which asks the password and opens the console', async () => {
    // The drop-in's own agetty command line on a pseudo-terminal; orbit-login's own text, with the orbit it
    // runs pointed at this build (and a --root whose /etc/shadow holds the console account).
    const t = tempDir('warden-agetty-');
    try {
      mkdirSync(path.join(t.dir, 'etc'));
      writeFileSync(path.join(t.dir, 'etc/passwd'), 'orbit:x:998:998:Warden deployer console:/:/usr/local/bin/orbit-shell\n');
      writeFileSync(path.join(t.dir, 'etc/shadow'), 'orbit:!*:20000::::::\n', { mode: 0o640 });
      await setConsolePassword(t.dir, 'agetty-console-pw');
      const orbit = path.join(t.dir, 'orbit');
      writeFileSync(orbit, `#!/bin/sh\nexec ${process.execPath} ${ORBIT_MAIN} --root ${t.dir} "$@"\n`, { mode: 0o755 });
      const loginProgram = path.join(t.dir, 'orbit-login');
      writeFileSync(loginProgram, read('usr/local/sbin/orbit-login').replace('/usr/local/bin/orbit ', `${orbit} `), { mode: 0o755 });
      const execStart = /^ExecStart=-(.+)$/m.exec(read('etc/systemd/system/getty@.service.d/warden-console.conf'))![1]!;
      // systemd's unquoting of this line: '…' groups, \\ is one backslash, $TERM the terminal type.
      const argv = [...execStart.matchAll(/'([^']*)'|(\S+)/g)].map((m) => (m[1] ?? m[2]!).replace(/\\\\/g, '\\').replace('$TERM', 'xterm').replace('/usr/local/sbin/orbit-login', loginProgram));
      assert.deepEqual(argv.slice(0, 5), ['/sbin/agetty', '-o', '-- \\u', '--login-program', loginProgram]);
      const term = new Terminal([], { program: argv });
      await term.answer(/login: /, 'orbit' + ENTER);
      await term.answer(/Password/, 'agetty-console-pw' + ENTER);
      await term.answer(/orbit@[^>\n]*> /, 'exit' + ENTER);
      assert.equal(await term.end(), 0, term.text);
      const refused = new Terminal([], { program: argv });
      await refused.answer(/login: /, 'root' + ENTER);
      await refused.answer(/Password/, 'agetty-console-pw' + ENTER);
      await refused.expect(/Login incorrect/);
      assert.equal(await refused.end(), 1, refused.text);
    } finally {
      t.cleanup();
    }
  });

  test('the console account orbit is a system user whose shell is the orbit console', () => {
    const text = read('usr/lib/sysusers.d/warden-console.conf');
    assert.match(text, /^# Why: /);
    assert.match(text, /^u orbit - "[^"]+" \/ \/usr\/local\/bin\/orbit-shell$/m);
    // systemd-sysusers reads the line as we mean it: a dry run against an empty tree creates exactly that user.
    const t = tempDir('warden-sysusers-');
    try {
      mkdirSync(path.join(t.dir, 'etc'), { recursive: true });
      const r = spawnSync('systemd-sysusers', [`--root=${t.dir}`, path.join(overlay, 'usr/lib/sysusers.d/warden-console.conf')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(readFileSync(path.join(t.dir, 'etc/passwd'), 'utf8'), /^orbit:x:\d+:\d+:Warden deployer console:\/:\/usr\/local\/bin\/orbit-shell$/m);
      // Locked until orbit setup gives it a password.
      assert.match(readFileSync(path.join(t.dir, 'etc/shadow'), 'utf8'), /^orbit:!\*?:/m);
    } finally {
      t.cleanup();
    }
  });
});
