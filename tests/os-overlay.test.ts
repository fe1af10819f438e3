// The files laid into the image: every systemd unit parses cleanly. systemd-analyze exits 0 even for an
// unknown key or value and only prints a warning, so the check is: it ran, it exited 0, and it printed
// nothing at all. The same check is shown to fail on a unit with a mistake in it. Then the rest of the
// overlay: each file says why it is there, the firewall policy parses, the users and directories are the
// design's. (tests/image/boot.test.ts boots all of it.)
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TERMINAL_PROXY_NODE_FLAGS } from '../appliance/lifecycle/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const overlay = path.join(root, 'os-overlay');
const unitsDir = path.join(overlay, 'etc', 'systemd', 'system');

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
  const userOf: Record<string, string> = { 'warden-web.service': 'warden-web', 'warden-terminal-proxy.service': 'warden-ssh', 'warden-rdp-proxy.service': 'warden-rdp' };

  test('the units are exactly the three daemons', () => assert.deepEqual(units.sort(), Object.keys(userOf).sort()));

  test('warden.target verifies and pulls in the three daemons, and multi-user.target pulls it in', () => {
    const file = path.join(unitsDir, 'warden.target');
    assert.deepEqual(verifyUnit(file), { status: 0, output: '' });
    const text = readFileSync(file, 'utf8');
    assert.equal(/^Wants=(.*)$/m.exec(text)?.[1]?.split(/\s+/).sort().join(' '), Object.keys(userOf).sort().join(' '));
    assert.match(text, /^WantedBy=multi-user.target$/m);
  });

  test('there is a unit for the web daemon', () => assert.ok(units.includes('warden-web.service')));
  test('there is a unit for the terminal proxy, which may bind port 22 and nothing more', () => {
    assert.ok(units.includes('warden-terminal-proxy.service'));
    const text = readFileSync(path.join(unitsDir, 'warden-terminal-proxy.service'), 'utf8');
    // With the same Node flags as `make run` and the tests start it with (half the CPU per MiB without them).
    const execStart = /^ExecStart=(.*)$/m.exec(text)?.[1];
    assert.equal(execStart, ['/usr/bin/node', ...TERMINAL_PROXY_NODE_FLAGS, '/opt/warden/dist/daemons/terminal-proxy/main.js'].join(' '));
    assert.match(text, /^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
    assert.match(text, /^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m);
  });

  test('there is a unit for the RDP proxy', () => {
    assert.ok(units.includes('warden-rdp-proxy.service'));
    const text = readFileSync(path.join(unitsDir, 'warden-rdp-proxy.service'), 'utf8');
    assert.equal(/^ExecStart=(.*)$/m.exec(text)?.[1], '/usr/bin/node /opt/warden/dist/daemons/rdp-proxy/main.js');
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
      // The audit anchor (/var/log/warden/audit-anchor.log) lives outside the state directory by design.
      // Both are made by tmpfiles.d (root:warden 2770), not LogsDirectory=, which would chown the directory
      // to whichever of the three users started last.
      assert.deepEqual(text.match(/^ReadWritePaths=.*$/gm), ['ReadWritePaths=/var/lib/warden /var/log/warden']);
      assert.doesNotMatch(text, /^(LogsDirectory|StateDirectory|RuntimeDirectory)=/m);
    });

    test(`${unit} runs as its own user in the group warden, with a watchdog, and shares files with the group only`, () => {
      const text = readFileSync(path.join(unitsDir, unit), 'utf8');
      assert.match(text, new RegExp(`^User=${userOf[unit]}$`, 'm'));
      assert.match(text, new RegExp(`^Group=${userOf[unit]}$`, 'm'));
      assert.match(text, /^SupplementaryGroups=warden$/m);
      assert.match(text, /^WatchdogSec=\d+$/m);
      assert.match(text, /^NotifyAccess=main$/m);
      assert.match(text, /^Restart=on-failure$/m);
      assert.match(text, /^UMask=0007$/m);
      assert.match(text, /^PartOf=warden.target$/m);
      assert.match(text, /^WantedBy=warden.target$/m);
      for (const key of ['NoNewPrivileges', 'ProtectHome', 'PrivateTmp']) assert.match(text, new RegExp(`^${key}=yes$`, 'm'));
      assert.deepEqual(text.match(/^CapabilityBoundingSet=.*$/gm), ['CapabilityBoundingSet=CAP_NET_BIND_SERVICE']);
    });
  }
});

/** Every file of the overlay, relative to it. */
function overlayFiles(dir = overlay): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? overlayFiles(p) : [path.relative(overlay, p)];
  });
}

describe('os-overlay files', () => {
  test('each file starts with a one-line reason ("# Why: ...", after the #! line of a script)', () => {
    const files = overlayFiles();
    assert.ok(files.length >= 15, files.join(' '));
    for (const f of files) {
      const lines = readFileSync(path.join(overlay, f), 'utf8').split('\n');
      const first = lines[0]!.startsWith('#!') ? lines[1]! : lines[0]!;
      assert.match(first, /^# Why: \S.{10,}$/, f);
    }
  });

  test('nftables.conf parses (nft -c in a fresh network namespace) and opens only the design\'s ports', () => {
    const file = path.join(overlay, 'etc', 'nftables.conf');
    // As on the image (minbase has no netbase): no /etc/protocols or /etc/services to resolve names with.
    const r = spawnSync('unshare', ['-n', '-m', 'sh', '-c', `mount --bind /dev/null /etc/protocols && mount --bind /dev/null /etc/services && nft -c -f ${file}`], { encoding: 'utf8' });
    if (r.error) throw r.error;
    assert.equal(r.status, 0, r.stderr);
    // The check fails on a policy with a mistake in it.
    const dir = mkdtempSync(path.join(tmpdir(), 'warden-nft-'));
    try {
      writeFileSync(path.join(dir, 'bad.conf'), readFileSync(file, 'utf8').replace('policy drop;', 'policy dorp;'));
      assert.notEqual(spawnSync('unshare', ['-n', 'nft', '-c', '-f', path.join(dir, 'bad.conf')]).status, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const text = readFileSync(file, 'utf8');
    assert.match(text, /chain input \{\n\s*type filter hook input priority filter; policy drop;/);
    assert.match(text, /chain forward \{\n\s*type filter hook forward priority filter; policy drop;/);
    assert.deepEqual(text.match(/^\s*tcp dport .* accept$/gm)!.map((l) => l.trim()), ['tcp dport { 22, 80, 443, 3389 } accept']);
    for (const set of ['cluster_peers4', 'cluster_peers6']) {
      assert.match(text, new RegExp(`set ${set} \\{`));
      const fam = set.endsWith('4') ? 'ip' : 'ip6';
      assert.ok(text.includes(`${fam} saddr @${set} tcp dport { 3306, 4444, 4567, 4568 } accept`), set);
      assert.ok(text.includes(`${fam} saddr @${set} udp dport 4567 accept`), set);
    }
  });

  test('systemd-analyze security (offline): each unit no worse than recorded in scripts/image/security-exposure.json, rated OK or better', () => {
    const recorded = JSON.parse(readFileSync(path.join(root, 'scripts', 'image', 'security-exposure.json'), 'utf8')) as Record<string, number>;
    for (const unit of ['warden-web.service', 'warden-terminal-proxy.service', 'warden-rdp-proxy.service']) {
      const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', path.join(unitsDir, unit)], { encoding: 'utf8' });
      if (r.error) throw r.error;
      const m = /Overall exposure level for \S+: (\d+\.\d+) (\w+)/.exec(r.stdout);
      assert.ok(m, r.stdout.slice(-300));
      assert.ok(Number(m[1]) <= recorded[unit]!, `${unit}: ${m[1]} > ${recorded[unit]}`);
      assert.ok(['PERFECT', 'SAFE', 'OK'].includes(m[2]!), `${unit} rated ${m[2]}`);
    }
  });

  test('sysusers.d: the three daemon users, each in the group warden', () => {
    const text = readFileSync(path.join(overlay, 'usr', 'lib', 'sysusers.d', 'warden.conf'), 'utf8');
    assert.match(text, /^g warden\s/m);
    for (const user of ['warden-web', 'warden-ssh', 'warden-rdp']) {
      assert.match(text, new RegExp(`^u ${user}\\s+-\\s+".+"\\s+/nonexistent\\s+/usr/sbin/nologin$`, 'm'));
      assert.match(text, new RegExp(`^m ${user}\\s+warden$`, 'm'));
    }
  });

  test('tmpfiles.d: the config, state and anchor directories are setgid warden, closed to others', () => {
    const text = readFileSync(path.join(overlay, 'usr', 'lib', 'tmpfiles.d', 'warden.conf'), 'utf8');
    const lines = text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/\s+/).slice(0, 5).join(' '));
    assert.deepEqual(lines, ['d /etc/warden 2750 root warden', 'd /var/lib/warden 2770 root warden', 'd /var/log/warden 2770 root warden']);
  });

  test('resolved listens on no port; core dumps are off; journald is bounded', () => {
    const resolved = readFileSync(path.join(overlay, 'etc', 'systemd', 'resolved.conf.d', '00-warden-listen.conf'), 'utf8');
    for (const l of ['DNSStubListener=no', 'LLMNR=no', 'MulticastDNS=no']) assert.match(resolved, new RegExp(`^${l}$`, 'm'));
    const sysctl = readFileSync(path.join(overlay, 'etc', 'sysctl.d', '90-warden.conf'), 'utf8');
    for (const l of ['net.ipv4.ip_forward = 0', 'net.ipv4.tcp_syncookies = 1', 'net.ipv4.conf.all.rp_filter = 1', 'kernel.kptr_restrict = 2', 'kernel.dmesg_restrict = 1', 'fs.suid_dumpable = 0']) {
      assert.ok(sysctl.split('\n').includes(l), l);
    }
    assert.match(readFileSync(path.join(overlay, 'etc', 'systemd', 'system.conf.d', 'warden.conf'), 'utf8'), /^DefaultLimitCORE=0:0$/m);
    assert.match(readFileSync(path.join(overlay, 'etc', 'systemd', 'journald.conf.d', 'warden.conf'), 'utf8'), /^SystemMaxUse=\d+[MG]$/m);
  });
});
