// make bench — the terminal proxy against direct OpenSSH to the same sshd, measured in the same run:
//   connect-to-first-prompt latency (ssh -tt until the shell's prompt), goal ≤ 1.15× direct;
//   200 MiB each way through exec (`cat > /dev/null` fed by the client, `head -c` read by it), goal ≥ 0.95× direct.
// Proxied and direct rounds alternate so that the load of a shared machine weighs on both. Wall-clock ratios on
// a loaded 2-core machine move with the load; the proxy's own CPU per MiB (its /proc/PID/stat over each proxied
// transfer, setup subtracted) does much less, and is printed next to an OpenSSH client's CPU per MiB for the
// same transfer (the work of one SSH endpoint: the proxy is two).
// Real OpenSSH clients through sshpass, the real daemon as a process (with its TERMINAL_PROXY_NODE_FLAGS, as
// its systemd unit starts it), production Argon2id cost for the proxy login. Every proxied session is recorded
// (encrypted recording, command guard, search index): these figures include it, and the recordings' size is
// printed with them. The proxy's CPU is split into its event loop (its main thread) and the rest (the
// recording's sealing thread, V8's collector threads).
// To profile the proxy under this load: WARDEN_DAEMON_NODE_FLAGS='--cpu-prof --cpu-prof-dir=DIR' (or
// --perf-basic-prof with `perf record -p`, or --trace-gc with WARDEN_BENCH_PROXY_LOG=FILE for its output).
// WARDEN_BENCH_QUICK=1 runs fewer, smaller transfers while iterating.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { strongPassword, tempDir } from '../tests/helpers/fixtures.js';
import { startSshd } from '../tests/helpers/sshd.js';
import { ensureTargetAccount, SSH_OPTIONS, startTerminalProxy } from '../tests/helpers/terminal-proxy.js';
import { initializeAppliance } from '../appliance/provision/index.js';
import { Appliance } from '../appliance/index.js';
import { loadConfig } from '../appliance/config/index.js';
import { cpuMs, dirBytes } from './proc-stats.js';

// WARDEN_BENCH_QUICK=1: fewer and smaller runs, to iterate on the proxy (figures for the README come without it).
const QUICK = process.env.WARDEN_BENCH_QUICK === '1';
const LATENCY_RUNS = QUICK ? 3 : 15;
const BULK_RUNS = QUICK ? 3 : 5;
const BULK_BYTES = (QUICK ? 100 : 200) * 1024 * 1024;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** ssh -tt until the first prompt; resolves with milliseconds. */
function toFirstPrompt(port: number, user: string, password: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn('sshpass', ['-e', 'ssh', ...SSH_OPTIONS, '-tt', '-p', String(port), '-l', user, '127.0.0.1'], { env: { ...process.env, SSHPASS: password }, stdio: ['pipe', 'pipe', 'pipe'] });
    let seen = '';
    let t: number | undefined;
    p.stdout.on('data', (d) => {
      seen += d;
      if (t === undefined && /\$ $/.test(seen)) {
        t = performance.now() - t0;
        p.stdin.end('exit\n');
      }
    });
    p.on('close', () => (t === undefined ? reject(new Error(`no prompt: ${seen}`)) : resolve(t)));
  });
}

interface Run {
  /** Wall clock from spawn to exit, ms. */
  ms: number;
  /** CPU of the OpenSSH client (and sshpass), ms, from bash's `time`. */
  clientCpuMs: number;
  /** CPU of the proxy process over the run, ms (0 for direct runs). */
  proxyCpuMs: number;
  /** Of which its main thread (the event loop: SSH both legs, the bridge, the taps), ms. */
  proxyMainCpuMs: number;
}

/** One bulk transfer through exec, timed from spawn to exit (connection included, as a user sees it). */
function bulk(port: number, user: string, password: string, direction: 'up' | 'down' | 'none', proxyPid?: number): Promise<Run> {
  const ssh = ['sshpass', '-e', 'ssh', ...SSH_OPTIONS, '-p', String(port), '-l', user, '127.0.0.1'].map((a) => `'${a}'`).join(' ');
  const timed = (cmd: string) => `{ time ${cmd}; } 2>&1`;
  const script =
    direction === 'up'
      ? `head -c ${BULK_BYTES} /dev/zero | ${timed(`${ssh} 'cat > /dev/null'`)}`
      : direction === 'down'
        ? timed(`${ssh} 'head -c ${BULK_BYTES} /dev/zero' > /dev/null`)
        : timed(`${ssh} true < /dev/null`);
  return new Promise((resolve, reject) => {
    const cpu0 = proxyPid ? cpuMs(proxyPid) : 0;
    const main0 = proxyPid ? cpuMs(proxyPid, proxyPid) : 0;
    const t0 = performance.now();
    const p = spawn('bash', ['-c', `TIMEFORMAT='client-cpu %U %S'; ${script}`], { env: { ...process.env, SSHPASS: password }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (code) => {
      const ms = performance.now() - t0;
      const m = /client-cpu ([\d.]+) ([\d.]+)/.exec(out);
      if (code !== 0 || !m) return reject(new Error(`bulk ${direction} failed (${code}): ${out}`));
      resolve({ ms, clientCpuMs: (Number(m[1]) + Number(m[2])) * 1000, proxyCpuMs: proxyPid ? cpuMs(proxyPid) - cpu0 : 0, proxyMainCpuMs: proxyPid ? cpuMs(proxyPid, proxyPid) - main0 : 0 });
    });
  });
}

async function main(): Promise<void> {
  const tmp = tempDir('warden-bench-proxy-');
  const configFile = path.join(tmp.dir, 'home', 'warden.json');
  const init = await initializeAppliance({ home: path.join(tmp.dir, 'home'), configFile, adminUsername: 'admin', web: { listen: '127.0.0.1', httpsPort: 0, httpPort: 0, publicHost: '127.0.0.1' }, anchorFile: path.join(tmp.dir, 'anchor', 'audit-anchor.log') });
  const home = { ...init, home: path.join(tmp.dir, 'home'), configFile, cleanup: tmp.cleanup };
  const sshd = await startSshd(path.join(tmp.dir, 'sshd'));
  const targetPassword = `T4rget-${randomBytes(12).toString('hex')}`;
  // Its own account: other test runs on this machine set wtarget's password to theirs.
  ensureTargetAccount('wbench', targetPassword);
  const a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
  const admin = { username: 'admin', ip: '127.0.0.1' };
  const first = strongPassword();
  const password = strongPassword();
  const { user } = await a.users.create(admin, { username: 'bench', fullName: 'bench', email: 'bench@example.test', profile: 'privileged-access-user', password: first });
  await a.auth.changePassword({ userId: user.id, currentPassword: first, newPassword: password, ip: '127.0.0.1' });
  const device = await a.devices.createDevice(admin, { hostname: 'target', address: '127.0.0.1', connectivity: `SSH:${sshd.port}` });
  const cred = await a.credentials.createCredential(admin, { deviceId: device.id, username: 'wbench', secret: targetPassword });
  await a.accessGroups.saveGroup(admin, { name: 'bench', userIds: [user.id], deviceIds: [device.id], credentialIds: [cred.id] });
  await a.close();
  const proxy = await startTerminalProxy(home);
  const proxied = { port: proxy.port, user: 'bench:wbench@target', password };
  const direct = { port: sshd.port, user: 'wbench', password: targetPassword };
  const pid = proxy.proc.pid!;
  try {
    // Warm both paths once (first host key pin, page cache, JIT).
    await toFirstPrompt(direct.port, direct.user, direct.password);
    await toFirstPrompt(proxied.port, proxied.user, proxied.password);
    const lat = { direct: [] as number[], proxied: [] as number[] };
    for (let i = 0; i < LATENCY_RUNS; i++) {
      lat.direct.push(await toFirstPrompt(direct.port, direct.user, direct.password));
      lat.proxied.push(await toFirstPrompt(proxied.port, proxied.user, proxied.password));
    }
    const ld = median(lat.direct);
    const lp = median(lat.proxied);
    process.stdout.write(`terminal proxy: connect to first prompt (median of ${LATENCY_RUNS}): direct ${ld.toFixed(0)} ms, proxied ${lp.toFixed(0)} ms, ratio ${(lp / ld).toFixed(2)}x (goal <= 1.15x)\n`);
    // The same command with no payload: connection, authentication and exec, to tell the transfer apart.
    const setup = { direct: [] as Run[], proxied: [] as Run[] };
    for (let i = 0; i < 5; i++) {
      setup.direct.push(await bulk(direct.port, direct.user, direct.password, 'none'));
      setup.proxied.push(await bulk(proxied.port, proxied.user, proxied.password, 'none', pid));
    }
    const sd = median(setup.direct.map((r) => r.ms));
    const sp = median(setup.proxied.map((r) => r.ms));
    const setupCpu = median(setup.proxied.map((r) => r.proxyCpuMs));
    const setupMainCpu = median(setup.proxied.map((r) => r.proxyMainCpuMs));
    const setupClientCpu = median(setup.direct.map((r) => r.clientCpuMs));
    process.stdout.write(`terminal proxy: exec 'true' (connect, authenticate, run; median of 5): direct ${sd.toFixed(0)} ms, proxied ${sp.toFixed(0)} ms, ratio ${(sp / sd).toFixed(2)}x; proxy CPU ${setupCpu.toFixed(0)} ms per connection (Argon2id login included)\n`);
    const mib = BULK_BYTES / 1048576;
    for (const direction of ['up', 'down'] as const) {
      const t = { direct: [] as Run[], proxied: [] as Run[] };
      for (let i = 0; i < BULK_RUNS; i++) {
        t.direct.push(await bulk(direct.port, direct.user, direct.password, direction));
        t.proxied.push(await bulk(proxied.port, proxied.user, proxied.password, direction, pid));
      }
      const rate = (ms: number) => mib / (ms / 1000);
      const what = direction === 'up' ? 'client -> target (cat > /dev/null)' : 'target -> client (head -c)';
      const [md, mp] = [median(t.direct.map((r) => r.ms)), median(t.proxied.map((r) => r.ms))];
      const [wd, wp] = [rate(md), rate(mp)];
      const [xd, xp] = [rate(md - sd), rate(mp - sp)];
      // Per run, so that each proxied run's ratio is against the direct run just before it (the same load).
      const paired = median(t.proxied.map((r, k) => t.direct[k]!.ms / r.ms));
      const proxyCpu = median(t.proxied.map((r) => (r.proxyCpuMs - setupCpu) / mib));
      const proxyMainCpu = median(t.proxied.map((r) => (r.proxyMainCpuMs - setupMainCpu) / mib));
      const clientCpu = median(t.direct.map((r) => (r.clientCpuMs - setupClientCpu) / mib));
      process.stdout.write(`terminal proxy: ${mib} MiB ${what} (median of ${BULK_RUNS}), whole command: direct ${wd.toFixed(0)} MiB/s, proxied ${wp.toFixed(0)} MiB/s, ratio ${(wp / wd).toFixed(2)}x (median of paired runs ${paired.toFixed(2)}x)\n`);
      process.stdout.write(`terminal proxy: ${mib} MiB ${what}, transfer alone (setup subtracted): direct ${xd.toFixed(0)} MiB/s, proxied ${xp.toFixed(0)} MiB/s, ratio ${(xp / xd).toFixed(2)}x (goal >= 0.95x)\n`);
      process.stdout.write(`terminal proxy: ${mib} MiB ${what}, CPU per MiB (setup subtracted): proxy ${proxyCpu.toFixed(2)} ms, an OpenSSH client endpoint ${clientCpu.toFixed(2)} ms, ratio ${(proxyCpu / clientCpu).toFixed(2)}x (the proxy decrypts and encrypts: two endpoints); of the proxy's, its event loop ${proxyMainCpu.toFixed(2)} ms, its other threads (recording's sealing thread, GC helpers) ${(proxyCpu - proxyMainCpu).toFixed(2)} ms\n`);
    }
    const recorded = dirBytes(loadConfig({ WARDEN_HOME: home.home }).recordings.dir);
    process.stdout.write(recorded > 0 ? `terminal proxy: with recording on (${(recorded / 1048576).toFixed(0)} MiB of recordings written)\n` : 'terminal proxy: no recording was written: these figures are without it\n');
  } finally {
    await proxy.stop();
    // The daemon's own output (with WARDEN_DAEMON_NODE_FLAGS=--trace-gc, its collections), for profiling.
    if (process.env.WARDEN_BENCH_PROXY_LOG) writeFileSync(process.env.WARDEN_BENCH_PROXY_LOG, proxy.output());
    await sshd.stop();
    home.cleanup();
  }
}

main().catch((e) => {
  process.stderr.write(`bench terminal-proxy: ${(e as Error).message}\n`);
  process.exit(1);
});
