// The image boots into Warden: the rootfs of scripts/image/build-rootfs.sh (base cached, app + overlay fresh)
// booted with systemd-nspawn -b --private-network, the appliance initialized inside with `orbit init`, then
// from inside: every warden unit active and READY, HTTPS on 443, the SSH banner on 22, an X.224 Connection
// Confirm on 3389, a SIGSTOPped daemon killed by the watchdog and restarted, the firewall exactly the
// policy file, nothing else listening, and each unit's `systemd-analyze security` exposure no worse than
// recorded in scripts/image/security-exposure.json. If nspawn cannot run here the test fails, never skips.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const UNITS = ['warden-web.service', 'warden-terminal-proxy.service', 'warden-rdp-proxy.service'];
/** The unit the watchdog test freezes, with a short WatchdogSec (a drop-in of this test) instead of 30 s. */
const FROZEN = 'warden-rdp-proxy.service';
const TEST_WATCHDOG_SEC = 3;
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function sh(cmd: string, args: string[], opts: { timeout?: number; input?: string } = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeout ?? 60_000, input: opts.input, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Everything a test needs of the running container. */
class Container {
  constructor(
    readonly nspawn: ChildProcess,
    readonly leader: number,
    readonly consoleLog: string,
  ) {}

  /** Run a command inside (all namespaces of the container's init), with a clean environment. */
  run(args: string[], opts: { timeout?: number; input?: string } = {}) {
    return sh('nsenter', ['-t', String(this.leader), '-a', 'env', '-i', `PATH=${PATH}`, 'HOME=/root', 'LANG=C.UTF-8', ...args], opts);
  }

  ok(args: string[], opts: { timeout?: number; input?: string } = {}): string {
    const r = this.run(args, opts);
    assert.equal(r.status, 0, `${args.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  show(unit: string): Record<string, string> {
    const out = this.ok(['systemctl', 'show', '-p', 'ActiveState,SubState,StatusText,MainPID,NRestarts,Result', unit]);
    return Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  }
}

/** The host pid of the container's init: a descendant of nspawn that is pid 1 in its own pid namespace. */
function findLeader(nspawnPid: number): number | undefined {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      /* gone meanwhile */
    }
  }
  const queue = [...(children.get(nspawnPid) ?? [])];
  while (queue.length) {
    const pid = queue.shift()!;
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const nspid = /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/);
      // pid 1 of its namespace, and already systemd (not nspawn's child before its exec).
      if (nspid && nspid.length > 1 && nspid[nspid.length - 1] === '1' && /^Name:\s+systemd$/m.test(status)) return pid;
    } catch {
      /* gone meanwhile */
    }
    queue.push(...(children.get(pid) ?? []));
  }
  return undefined;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** What a script run with the container's node prints (the probes of ports from inside). */
const PROBES = `
const net = require('node:net'), https = require('node:https');
const out = {};
const done = (k, v) => { out[k] = v; if (Object.keys(out).length === 3) { console.log(JSON.stringify(out)); process.exit(0); } };
https.get({ host: '127.0.0.1', port: 443, path: '/healthz', rejectUnauthorized: false, timeout: 5000 }, (res) => {
  let body = ''; res.on('data', (d) => (body += d)); res.on('end', () => done('https', { status: res.statusCode, body }));
}).on('error', (e) => done('https', { error: e.message }));
const ssh = net.connect(22, '127.0.0.1'); let banner = '';
ssh.on('data', (d) => { banner += d; if (banner.includes('\\n')) { ssh.destroy(); done('ssh', banner.split('\\r\\n')[0]); } });
ssh.on('error', (e) => done('ssh', 'error: ' + e.message));
// TPKT + X.224 Connection Request + RDP_NEG_REQ (TLS | CredSSP).
const rdp = net.connect(3389, '127.0.0.1', () => rdp.write(Buffer.from('03000013' + '0ee00000000000' + '0100080003000000', 'hex')));
rdp.once('data', (d) => { rdp.destroy(); done('rdp', d.toString('hex')); });
rdp.on('error', (e) => done('rdp', 'error: ' + e.message));
setTimeout(() => { console.log(JSON.stringify(out)); process.exit(1); }, 15000);
`;

describe('the image boots into Warden (systemd-nspawn)', { timeout: 600_000 }, () => {
  let work: string;
  let c: Container | undefined;
  let nspawn: ChildProcess | undefined;
  const timings: string[] = [];
  let admin: { adminUsername: string; oneTimePassword: string } | undefined;

  before(async () => {
    // Preconditions, each a failure with its reason (never a skip): this test is the image's only boot check.
    if (process.getuid?.() !== 0) throw new Error('the boot test needs root (mmdebstrap --mode=root, systemd-nspawn)');
    for (const tool of ['systemd-nspawn', 'nsenter', 'mmdebstrap', 'nft', 'unshare']) {
      if (sh('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is not installed (Debian packages systemd-container, util-linux, mmdebstrap, nftables)`);
    }
    work = mkdtempSync(path.join(tmpdir(), 'warden-boot-'));
    let t = Date.now();
    const build = sh(path.join(repo, 'scripts', 'image', 'build-rootfs.sh'), [work], { timeout: 480_000 });
    assert.equal(build.status, 0, `build-rootfs.sh failed:\n${build.stderr}`);
    timings.push(`rootfs ${((Date.now() - t) / 1000).toFixed(1)} s`);
    const rootfs = path.join(work, 'rootfs');
    // A short watchdog for the unit the test freezes (30 s in the unit), as a drop-in the image does not have.
    const dropIn = path.join(rootfs, 'etc', 'systemd', 'system', `${FROZEN}.d`);
    mkdirSync(dropIn, { recursive: true });
    writeFileSync(path.join(dropIn, 'boot-test.conf'), `[Service]\nWatchdogSec=${TEST_WATCHDOG_SEC}\n`);

    t = Date.now();
    const consoleLog = path.join(work, 'console.log');
    const log = createWriteStream(consoleLog);
    nspawn = spawn('systemd-nspawn', ['--register=no', '--keep-unit', '--quiet', '--console=pipe', '-D', rootfs, '-b', '--private-network'], { stdio: ['ignore', 'pipe', 'pipe'] });
    nspawn.stdout!.pipe(log);
    nspawn.stderr!.pipe(log);
    let exited: string | undefined;
    nspawn.on('exit', (code, signal) => (exited = `systemd-nspawn exited (${code ?? signal}); its output: ${consoleLog}`));
    const leader = await waitFor('the container\'s init', 30_000, () => {
      if (exited) throw new Error(`${exited}\n${readFileSync(consoleLog, 'utf8').slice(-3000)}`);
      return findLeader(nspawn!.pid!);
    });
    c = new Container(nspawn, leader, consoleLog);
    // Booted: is-system-running --wait returns at the end of boot ("running", or "degraded" with failed units).
    // (Until systemd has its private socket up, systemctl cannot ask and prints nothing: asked again.)
    const state = await waitFor('systemd to answer', 90_000, () => {
      const r = c!.run(['systemctl', 'is-system-running', '--wait'], { timeout: 90_000 });
      return r.stdout.trim() || undefined;
    });
    const failed = c.run(['systemctl', '--failed', '--no-legend', '--plain']).stdout.trim();
    assert.equal(state, 'running', `system state ${state}; failed units:\n${failed}\nconsole: ${consoleLog}`);
    timings.push(`boot ${((Date.now() - t) / 1000).toFixed(1)} s`);

    t = Date.now();
    admin = JSON.parse(c.ok(['orbit', 'init', '--admin-user', 'admin', '--public-host', 'warden.test', '--shares-dir', '/root/shares', '--json'], { timeout: 120_000 })) as { adminUsername: string; oneTimePassword: string };
    c.ok(['systemctl', 'start', 'warden.target'], { timeout: 120_000 });
    // The three daemons open one store at once. Once in a few runs here one of them exited at its first start
    // and systemd restarted it (Restart=on-failure) two seconds later; the cause is not found yet. Wait for all
    // three (the checks below stay strict) and print the journal of any that needed a restart, for diagnosis.
    const ready = (u: string) => { const s = c!.show(u); return s.ActiveState === 'active' && s.SubState === 'running' && s.StatusText?.startsWith('serving'); };
    await waitFor('the three daemons ready', 30_000, () => UNITS.every(ready)).catch(() => undefined);
    for (const unit of UNITS) {
      if (Number(c.show(unit).NRestarts) > 0) {
        process.stderr.write(`# boot test: ${unit} was restarted at its first start; its journal:\n${c.run(['journalctl', '-u', unit, '--no-pager', '-o', 'cat', '-n', '40']).stdout}\n`);
      }
    }
    timings.push(`orbit init + start ${((Date.now() - t) / 1000).toFixed(1)} s`);
  });

  after(async () => {
    // Always stop the container and remove the tree, whatever failed.
    let t = Date.now();
    if (nspawn && nspawn.exitCode === null && nspawn.signalCode === null) {
      const gone = new Promise((r) => nspawn!.once('exit', r));
      if (c) c.run(['systemctl', 'poweroff', '--no-block']);
      else nspawn.kill('SIGTERM');
      const timer = setTimeout(() => {
        nspawn!.kill('SIGKILL');
        if (c) spawnSync('kill', ['-KILL', String(c.leader)]);
      }, 20_000);
      await gone;
      clearTimeout(timer);
      timings.push(`shutdown ${((Date.now() - t) / 1000).toFixed(1)} s`);
    }
    t = Date.now();
    if (work) rmSync(work, { recursive: true, force: true });
    timings.push(`cleanup ${((Date.now() - t) / 1000).toFixed(1)} s`);
    process.stderr.write(`# boot test: ${timings.join(', ')}\n`);
  });

  test('every warden unit is active, running and READY (its STATUS= says it serves)', () => {
    for (const unit of UNITS) {
      const s = c!.show(unit);
      const journal = () => c!.run(['journalctl', '-u', unit, '--no-pager', '-o', 'cat', '-n', '30']).stdout;
      assert.equal(s.ActiveState, 'active', `${unit}: ${JSON.stringify(s)}\n${s.ActiveState === 'active' ? '' : journal()}`);
      assert.equal(s.SubState, 'running', unit);
      assert.match(s.StatusText!, /^serving (https|ssh|rdp) on /, unit);
    }
  });

  test('each daemon runs as its own user, a member of the group warden', () => {
    const users: Record<string, string> = { 'warden-web.service': 'warden-web', 'warden-terminal-proxy.service': 'warden-ssh', 'warden-rdp-proxy.service': 'warden-rdp' };
    for (const unit of UNITS) {
      const pid = c!.show(unit).MainPID!;
      assert.equal(c!.ok(['stat', '-c', '%U', `/proc/${pid}`]).trim(), users[unit], unit);
      assert.ok(c!.ok(['id', '-nG', users[unit]!]).trim().split(' ').includes('warden'), users[unit]);
      // Two sockets per proxied session: Node raises its soft limit of open files to the hard one at start
      // (prlimit64, which the syscall filter allows), far above systemd's default soft 1024.
      const limits = /^Max open files\s+(\d+)\s+(\d+)/m.exec(c!.ok(['cat', `/proc/${pid}/limits`]))!;
      assert.equal(limits[1], limits[2], unit);
      assert.ok(Number(limits[1]) > 1024, unit);
    }
  });

  test('HTTPS answers on 443, the SSH proxy shows its banner on 22, the RDP proxy confirms an X.224 connection on 3389', () => {
    const r = c!.run(['node', '-e', PROBES], { timeout: 30_000 });
    const out = JSON.parse(r.stdout) as { https: { status?: number; body?: string; error?: string }; ssh: string; rdp: string };
    assert.equal(out.https.status, 200, JSON.stringify(out.https));
    assert.match(out.https.body!, /"status":"ok"/);
    assert.match(out.ssh, /^SSH-2\.0-/);
    // TPKT version 3, then X.224 with the Connection Confirm code (0xd0).
    assert.match(out.rdp, /^0300/);
    assert.equal(out.rdp.slice(10, 12), 'd0', out.rdp);
  });

  test('a daemon whose event loop is frozen (SIGSTOP) misses its watchdog and is restarted', async () => {
    const before = c!.show(FROZEN);
    assert.equal(before.ActiveState, 'active');
    c!.ok(['kill', '-STOP', before.MainPID!]);
    const t = Date.now();
    const after = await waitFor('a new main process', 60_000, () => {
      const s = c!.show(FROZEN);
      return s.ActiveState === 'active' && s.MainPID !== before.MainPID && s.MainPID !== '0' && s.StatusText?.startsWith('serving') ? s : undefined;
    });
    const elapsed = (Date.now() - t) / 1000;
    assert.equal(Number(after.NRestarts), Number(before.NRestarts) + 1);
    assert.ok(elapsed >= TEST_WATCHDOG_SEC - 1, `restarted after ${elapsed} s: by the watchdog, not before`);
    const journal = c!.ok(['journalctl', '-u', FROZEN, '--no-pager', '-o', 'cat']);
    assert.match(journal, /Failed with result 'watchdog'/);
  });

  test('orbit on the booted image: services status and restart through systemd, firewall show of the loaded ruleset', async () => {
    const status = JSON.parse(c!.ok(['orbit', 'services', 'status', '--json'])) as { services: { name: string; active: string; pid: number | null; status: string }[] };
    assert.deepEqual(status.services.map((s) => s.name).sort(), ['rdp-proxy', 'terminal-proxy', 'web']);
    for (const s of status.services) {
      assert.equal(s.active, 'active', s.name);
      assert.match(s.status, /^serving/, s.name);
    }
    const before = c!.show('warden-terminal-proxy.service');
    c!.ok(['orbit', 'services', 'restart', 'terminal-proxy'], { timeout: 60_000 });
    await waitFor('the terminal proxy ready again', 30_000, () => {
      const s = c!.show('warden-terminal-proxy.service');
      return s.ActiveState === 'active' && s.MainPID !== before.MainPID && s.StatusText?.startsWith('serving') ? s : undefined;
    });
    const fw = JSON.parse(c!.ok(['orbit', 'firewall', 'show', '--json'])) as { ruleset: string | null; peersFrom: string; peers: Record<string, string[]> };
    assert.equal(fw.peersFrom, 'kernel');
    assert.match(fw.ruleset ?? '', /table inet warden/);
    assert.deepEqual(Object.values(fw.peers).flat(), []);
    assert.notEqual(c!.run(['orbit', 'services', 'restart', 'sshd']).status, 0, 'a unit that is not Warden\'s is refused');
  });

  test('orbit set commands on the live image: the running system takes the host name, DNS servers, time zone and a static address', async () => {
    c!.ok(['orbit', 'hostname', 'set', 'warden-two'], { timeout: 60_000 });
    assert.equal(c!.ok(['cat', '/proc/sys/kernel/hostname']).trim(), 'warden-two');
    assert.equal(c!.ok(['cat', '/etc/hostname']).trim(), 'warden-two');
    c!.ok(['orbit', 'dns', 'set', '--server', '127.0.0.9', '--search', 'lab.test'], { timeout: 60_000 });
    const dns = c!.ok(['resolvectl', 'dns']);
    assert.match(dns, /127\.0\.0\.9/);
    c!.ok(['orbit', 'timezone', 'set', 'Europe/Berlin'], { timeout: 60_000 });
    assert.equal(c!.ok(['timedatectl', 'show', '-p', 'Timezone', '--value']).trim(), 'Europe/Berlin');
    // A static address on a link of the container's own network namespace (a veth pair the test makes):
    // systemd-networkd, reloaded by orbit, puts it on the link.
    c!.ok(['ip', 'link', 'add', 'wtest0', 'type', 'veth', 'peer', 'name', 'wtest1']);
    c!.ok(['ip', 'link', 'set', 'wtest1', 'up']);
    c!.ok(['orbit', 'network', 'set', '--interface', 'wtest0', '--address', '192.0.2.10/24'], { timeout: 60_000 });
    const addr = await waitFor('networkd to configure wtest0', 30_000, () => /inet 192\.0\.2\.10\/24/.exec(c!.ok(['ip', '-4', 'addr', 'show', 'wtest0'])) ?? undefined);
    assert.ok(addr);
    // Bad input on the live system changes nothing.
    assert.notEqual(c!.run(['orbit', 'hostname', 'set', 'bad name']).status, 0);
    assert.equal(c!.ok(['cat', '/proc/sys/kernel/hostname']).trim(), 'warden-two');
  });

  test('nft list ruleset is exactly the policy of /etc/nftables.conf', () => {
    // The policy file loaded into a fresh network namespace here and listed by the same nft: nft's own
    // printing is the normal form both are compared in.
    const expected = sh('unshare', ['-n', 'sh', '-c', `nft -f ${path.join(repo, 'os-overlay', 'etc', 'nftables.conf')} && nft list ruleset`]);
    assert.equal(expected.status, 0, expected.stderr);
    const actual = c!.ok(['nft', 'list', 'ruleset']);
    assert.equal(actual, expected.stdout);
    assert.match(actual, /policy drop/);
  });

  test('nothing listens but Warden: tcp 22, 80, 443, 3389 (resolved\'s stub listener is off)', () => {
    const lines = c!.ok(['ss', '-H', '-lntup']).trim().split('\n').filter(Boolean);
    const listening = lines.map((l) => {
      const f = l.trim().split(/\s+/);
      const local = f[4]!;
      return { proto: f[0], port: Number(local.slice(local.lastIndexOf(':') + 1)), line: l };
    });
    const unexpected = listening.filter((s) => s.proto !== 'tcp' || ![22, 80, 443, 3389].includes(s.port));
    assert.deepEqual(unexpected.map((s) => s.line), []);
    assert.deepEqual([...new Set(listening.map((s) => s.port))].sort((a, b) => a - b), [22, 80, 443, 3389]);
    // Without the stub, names are resolved from resolved's list of the real servers, not 127.0.0.53.
    assert.equal(c!.ok(['readlink', '/etc/resolv.conf']).trim(), '../run/systemd/resolve/resolv.conf');
  });

  test('systemd-analyze security: each unit no worse than recorded, rated OK or better', () => {
    const recorded = JSON.parse(readFileSync(path.join(repo, 'scripts', 'image', 'security-exposure.json'), 'utf8')) as Record<string, number>;
    const figures: string[] = [];
    for (const unit of UNITS) {
      const out = c!.run(['systemd-analyze', 'security', '--no-pager', unit]).stdout;
      const m = /Overall exposure level for \S+: (\d+\.\d+) (\w+)/.exec(out);
      assert.ok(m, out.slice(-500));
      figures.push(`${unit} ${m[1]} ${m[2]}`);
      assert.ok(Number(m[1]) <= recorded[unit]!, `${unit}: ${m[1]} > recorded ${recorded[unit]}`);
      assert.ok(['PERFECT', 'SAFE', 'OK'].includes(m[2]!), `${unit} rated ${m[2]}`);
    }
    process.stderr.write(`# systemd-analyze security: ${figures.join('; ')}\n`);
  });

  test('exactly these units are enabled: Warden\'s, the firewall, network, DNS, time, and Debian\'s console and housekeeping', () => {
    const enabled = c!.ok(['systemctl', 'list-unit-files', '--state=enabled', '--no-legend', '--plain']).trim().split('\n').map((l) => l.split(/\s+/)[0]).sort();
    assert.deepEqual(enabled, [
      'fstrim.timer', // TRIM of the VM's thin disk, weekly
      'getty@.service', // the tty1 console
      'nftables.service',
      'remote-fs.target',
      'systemd-network-generator.service', // network settings given on the kernel command line
      'systemd-networkd-wait-online.service', // inert: nothing of ours wants network-online.target
      'systemd-networkd.service',
      'systemd-networkd.socket',
      'systemd-pstore.service', // keeps kernel crash records of the VM
      'systemd-resolved.service',
      'systemd-timesyncd.service',
      'warden-firstboot.service', // orbit setup on tty1 until the appliance is set up (no VT in nspawn: skipped)
      'warden.target',
    ]);
  });

  test('the cluster store is installed and waits disabled: MariaDB, the Galera provider, mariabackup, socat', () => {
    assert.equal(c!.run(['systemctl', 'is-enabled', 'mariadb.service']).stdout.trim(), 'disabled');
    for (const tool of ['mariadbd', 'mariabackup', 'socat', 'galera_new_cluster']) assert.equal(c!.run(['sh', '-c', `command -v ${tool}`]).status, 0, `${tool} is missing`);
    assert.equal(c!.run(['test', '-f', '/usr/lib/galera/libgalera_smm.so']).status, 0, 'the Galera provider is missing');
  });

  test('the image has no compilers and no sshd; the daemons run the image\'s own Node 20', () => {
    for (const tool of ['gcc', 'cc', 'c++', 'make', 'sshd']) {
      assert.notEqual(c!.run(['sh', '-c', `command -v ${tool}`]).status, 0, `${tool} is on the image`);
    }
    assert.match(c!.ok(['node', '--version']), /^v20\./);
    // (typescript stays: i18next declares it an optional peer, which npm keeps in production.)
    for (const dev of ['playwright-core', '@types/ssh2', '@types/better-sqlite3']) {
      assert.ok(!existsSync(path.join(work, 'rootfs', 'opt', 'warden', 'node_modules', dev)), `dev dependency ${dev} pruned`);
    }
  });
  // Last: it turns the appliance into a cluster node (MariaDB then listens, which the checks above forbid).
  test('orbit cluster init on the booted image: systemd bootstraps mariadb.service, the store moves, the daemons restart on it', async () => {
    const before = Object.fromEntries(UNITS.map((u) => [u, c!.show(u).MainPID]));
    const init = c!.run(['orbit', 'cluster', 'init', '--address', '127.0.0.1', '--bundle', '/root/cluster.bundle'], { timeout: 240_000 });
    const journal = (unit: string, n = 40) => `${unit}:\n${c!.run(['journalctl', '-u', unit, '--no-pager', '-o', 'cat', '-n', String(n)]).stdout}`;
    assert.equal(init.status, 0, `${init.stderr}${init.stdout}\n${[...UNITS.map((u) => journal(u, 25)), journal('mariadb.service')].join('\n')}`);
    const out = init.stdout;
    assert.match(out, /verified: \d+ tables, \d+ rows on both sides/);
    assert.match(out, /restarting the warden services on the MariaDB store/);
    assert.equal(c!.run(['systemctl', 'is-active', 'mariadb.service']).stdout.trim(), 'active');
    assert.equal(c!.run(['systemctl', 'is-enabled', 'mariadb.service']).stdout.trim(), 'enabled');
    const st = JSON.parse(c!.ok(['orbit', 'cluster', 'status', '--json'])) as { clusterSize: number; localState: string; ready: boolean };
    assert.deepEqual([st.clusterSize, st.localState, st.ready], [1, 'Synced', true]);
    // Each daemon is a new process, serving, and none holds the SQLite file the data has left.
    const ready = (u: string) => { const sh = c!.show(u); return sh.ActiveState === 'active' && sh.SubState === 'running' && sh.StatusText?.startsWith('serving') && sh.MainPID !== before[u]; };
    await waitFor('the three daemons restarted and ready', 60_000, () => UNITS.every(ready) || undefined).catch(() => undefined);
    for (const unit of UNITS) {
      assert.ok(ready(unit), `${unit}: ${JSON.stringify(c!.show(unit))}\n${c!.run(['journalctl', '-u', unit, '--no-pager', '-o', 'cat', '-n', '30']).stdout}`);
      const fds = c!.ok(['sh', '-c', `ls -l /proc/${c!.show(unit).MainPID}/fd`]);
      assert.doesNotMatch(fds, /\.db(-wal|-shm)?$/m, `${unit} still has the SQLite store open`);
    }
    // A login through 443 lands in MariaDB: its audit row is there.
    const login = c!.run(['node', '-e', `
      const https = require('node:https');
      const body = JSON.stringify({ username: ${JSON.stringify(admin!.adminUsername)}, password: ${JSON.stringify(admin!.oneTimePassword)} });
      const req = https.request({ host: '127.0.0.1', port: 443, path: '/api/v1/auth/login', method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => { res.resume(); res.on('end', () => { console.log(res.statusCode); process.exit(0); }); });
      req.on('error', (e) => { console.log(e.message); process.exit(1); });
      req.end(body);`], { timeout: 30_000 });
    assert.equal(login.stdout.trim(), '200', login.stdout + login.stderr);
    const rows = c!.ok(['mariadb', '-N', '-B', '-e', "SELECT COUNT(*) FROM warden.audit_events WHERE type = 'auth.login' AND outcome = 'success'"]);
    assert.ok(Number(rows.trim()) >= 1, `no login in MariaDB's audit trail: ${rows}`);
  });
});
