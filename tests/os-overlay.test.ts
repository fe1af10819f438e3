// The files laid into the image: every systemd unit parses cleanly. systemd-analyze exits 0 even for an
// unknown key or value and only prints a warning, so the check is: it ran, it exited 0, and it printed
// nothing at all. The same check is shown to fail on a unit with a mistake in it.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TERMINAL_PROXY_NODE_FLAGS } from '../appliance/lifecycle/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const unitsDir = path.join(root, 'os-overlay', 'etc', 'systemd', 'system');

/** What `systemd-analyze verify` says about a unit file: its exit status and everything it printed. */
function verifyUnit(file: string): { status: number | null; output: string } {
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  if (r.error) throw r.error; // not installed: a failure, never a silent pass
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

describe('os-overlay systemd units', () => {
  test('the check fails on a unit with an unknown key or a bad value', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'warden-unit-'));
    try {
      const bad = path.join(dir, 'bad.service');
      writeFileSync(bad, '[Service]\nType=notify\nExecStart=/bin/true\nRestartSecc=2\nProtectSystem=sometimes\n');
      const r = verifyUnit(bad);
      assert.match(r.output, /Unknown key 'RestartSecc'/);
      assert.match(r.output, /Failed to parse protect system value/);
      const good = path.join(dir, 'good.service');
      writeFileSync(good, '[Service]\nType=notify\nExecStart=/bin/true\n');
      assert.deepEqual(verifyUnit(good), { status: 0, output: '' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // The daemons' units (the console's first-boot unit has its checks in os-overlay-console.test.ts).
  const units = readdirSync(unitsDir).filter((f) => f.endsWith('.service') && f !== 'warden-firstboot.service');

  test('there is a unit for the web daemon', () => assert.ok(units.includes('warden-web.service')));
  test('there is a unit for the terminal proxy, which may bind port 22 and nothing more', () => {
    assert.ok(units.includes('warden-terminal-proxy.service'));
    const text = readFileSync(path.join(unitsDir, 'warden-terminal-proxy.service'), 'utf8');
    // With the same Node flags as `make run` and the tests start it with (half the CPU per MiB without them).
    const execStart = /^ExecStart=(.*)$/m.exec(text)?.[1];
    assert.equal(execStart, ['/usr/bin/node', ...TERMINAL_PROXY_NODE_FLAGS, '/opt/warden/dist/daemons/terminal-proxy/main.js'].join(' '));
    assert.match(text, /^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
    assert.match(text, /^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m);
    assert.match(text, /^User=warden$/m);
  });

  test('there is a unit for the RDP proxy', () => {
    assert.ok(units.includes('warden-rdp-proxy.service'));
    const text = readFileSync(path.join(unitsDir, 'warden-rdp-proxy.service'), 'utf8');
    assert.equal(/^ExecStart=(.*)$/m.exec(text)?.[1], '/usr/bin/node /opt/warden/dist/daemons/rdp-proxy/main.js');
    assert.match(text, /^User=warden$/m);
  });

  for (const unit of units) {
    test(`${unit} passes systemd-analyze verify without a warning`, () => {
      assert.deepEqual(verifyUnit(path.join(unitsDir, unit)), { status: 0, output: '' });
    });

    test(`${unit} is Type=notify, drains on SIGTERM and allows @pkey for Node 20`, () => {
      const text = readFileSync(path.join(unitsDir, unit), 'utf8');
      assert.match(text, /^Type=notify$/m);
      assert.match(text, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
      assert.match(text, /^SystemCallFilter=@system-service @pkey$/m);
    });

    test(`${unit} may write the state directory and the audit anchor's directory, nothing else`, () => {
      const text = readFileSync(path.join(unitsDir, unit), 'utf8');
      assert.match(text, /^ProtectSystem=strict$/m);
      assert.match(text, /^ReadWritePaths=\/var\/lib\/warden$/m);
      // The audit anchor (/var/log/warden/audit-anchor.log) lives outside the state directory by design.
      assert.match(text, /^LogsDirectory=warden$/m);
      assert.match(text, /^LogsDirectoryMode=0700$/m);
    });
  }
});
