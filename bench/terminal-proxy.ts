// make bench — the terminal proxy against direct OpenSSH to the same sshd, measured in the same run:
//   connect-to-first-prompt latency (ssh -tt until the shell's prompt), goal ≤ 1.15× direct;
//   200 MiB each way through exec (`cat > /dev/null` fed by the client, `head -c` read by it), goal ≥ 0.95× direct.
// Real OpenSSH clients through sshpass, the real daemon as a process, production Argon2id cost for the proxy
// login. Recording is not plugged into the proxy yet: these figures are without it.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { strongPassword, tempDir } from '../tests/helpers/fixtures.js';
import { startSshd } from '../tests/helpers/sshd.js';
import { ensureTargetAccount, SSH_OPTIONS, startTerminalProxy } from '../tests/helpers/terminal-proxy.js';
import { initializeAppliance } from '../appliance/provision/index.js';
import { Appliance } from '../appliance/index.js';
import { loadConfig } from '../appliance/config/index.js';

const LATENCY_RUNS = 15;
const BULK_RUNS = 3;
const BULK_BYTES = 200 * 1024 * 1024;

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

/** One bulk transfer through exec, timed from spawn to exit (connection included, as a user sees it). */
function bulk(port: number, user: string, password: string, direction: 'up' | 'down' | 'none'): Promise<number> {
  const ssh = ['sshpass', '-e', 'ssh', ...SSH_OPTIONS, '-p', String(port), '-l', user, '127.0.0.1'].map((a) => `'${a}'`).join(' ');
  const script =
    direction === 'up' ? `head -c ${BULK_BYTES} /dev/zero | ${ssh} 'cat > /dev/null'` : direction === 'down' ? `${ssh} 'head -c ${BULK_BYTES} /dev/zero' > /dev/null` : `${ssh} true < /dev/null`;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn('bash', ['-c', script], { env: { ...process.env, SSHPASS: password }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`bulk ${direction} failed (${code}): ${err}`))));
  });
}

async function main(): Promise<void> {
  const tmp = tempDir('warden-bench-proxy-');
  const configFile = path.join(tmp.dir, 'home', 'warden.json');
  const init = await initializeAppliance({ home: path.join(tmp.dir, 'home'), configFile, adminUsername: 'admin', web: { listen: '127.0.0.1', httpsPort: 0, httpPort: 0, publicHost: '127.0.0.1' }, anchorFile: path.join(tmp.dir, 'anchor', 'audit-anchor.log') });
  const home = { ...init, home: path.join(tmp.dir, 'home'), configFile, cleanup: tmp.cleanup };
  const sshd = await startSshd(path.join(tmp.dir, 'sshd'));
  const targetPassword = `T4rget-${randomBytes(12).toString('hex')}`;
  ensureTargetAccount('wtarget', targetPassword);
  const a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
  const admin = { username: 'admin', ip: '127.0.0.1' };
  const first = strongPassword();
  const password = strongPassword();
  const { user } = await a.users.create(admin, { username: 'bench', fullName: 'bench', email: 'bench@example.test', profile: 'privileged-access-user', password: first });
  await a.auth.changePassword({ userId: user.id, currentPassword: first, newPassword: password, ip: '127.0.0.1' });
  const device = await a.devices.createDevice(admin, { hostname: 'target', address: '127.0.0.1', connectivity: `SSH:${sshd.port}` });
  const cred = await a.credentials.createCredential(admin, { deviceId: device.id, username: 'wtarget', secret: targetPassword });
  await a.accessGroups.saveGroup(admin, { name: 'bench', userIds: [user.id], deviceIds: [device.id], credentialIds: [cred.id] });
  await a.close();
  const proxy = await startTerminalProxy(home);
  const proxied = { port: proxy.port, user: 'bench:wtarget@target', password };
  const direct = { port: sshd.port, user: 'wtarget', password: targetPassword };
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
    const setup = { direct: [] as number[], proxied: [] as number[] };
    for (let i = 0; i < 5; i++) {
      setup.direct.push(await bulk(direct.port, direct.user, direct.password, 'none'));
      setup.proxied.push(await bulk(proxied.port, proxied.user, proxied.password, 'none'));
    }
    const sd = median(setup.direct);
    const sp = median(setup.proxied);
    process.stdout.write(`terminal proxy: exec 'true' (connect, authenticate, run; median of 5): direct ${sd.toFixed(0)} ms, proxied ${sp.toFixed(0)} ms, ratio ${(sp / sd).toFixed(2)}x\n`);
    for (const direction of ['up', 'down'] as const) {
      const t = { direct: [] as number[], proxied: [] as number[] };
      for (let i = 0; i < BULK_RUNS; i++) {
        t.direct.push(await bulk(direct.port, direct.user, direct.password, direction));
        t.proxied.push(await bulk(proxied.port, proxied.user, proxied.password, direction));
      }
      const rate = (ms: number) => BULK_BYTES / 1048576 / (ms / 1000);
      const what = direction === 'up' ? 'client -> target (cat > /dev/null)' : 'target -> client (head -c)';
      const [wd, wp] = [rate(median(t.direct)), rate(median(t.proxied))];
      const [xd, xp] = [rate(median(t.direct) - sd), rate(median(t.proxied) - sp)];
      process.stdout.write(`terminal proxy: 200 MiB ${what} (median of ${BULK_RUNS}), whole command: direct ${wd.toFixed(0)} MiB/s, proxied ${wp.toFixed(0)} MiB/s, ratio ${(wp / wd).toFixed(2)}x\n`);
      process.stdout.write(`terminal proxy: 200 MiB ${what}, transfer alone (setup subtracted): direct ${xd.toFixed(0)} MiB/s, proxied ${xp.toFixed(0)} MiB/s, ratio ${(xp / xd).toFixed(2)}x (goal >= 0.95x)\n`);
    }
    process.stdout.write('terminal proxy: recording is not plugged in yet; these figures are without it\n');
  } finally {
    await proxy.stop();
    await sshd.stop();
    home.cleanup();
  }
}

main().catch((e) => {
  process.stderr.write(`bench terminal-proxy: ${(e as Error).message}\n`);
  process.exit(1);
});
