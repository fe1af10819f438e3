// make bench — credential rotation and status control against one real sshd, each beside a baseline measured in
// the same run: a plain SSH password login (ssh2, the same library and target) at the same concurrency. A
// rotation is a login with the current password, `passwd` in a PTY, and a login with the new one to prove it,
// then one sealed commit; so about 2–3 logins' worth is what it should cost. Status control of 1,000 credentials
// runs at its bounded concurrency (STATUS_CHECK_CONCURRENCY, what one target can bear) and should cost one login
// each.
import path from 'node:path';
import { availableParallelism } from 'node:os';
import { Client } from 'ssh2';
import { Appliance } from '../appliance/index.js';
import { loadConfig } from '../appliance/config/index.js';
import { generatePassword, STATUS_CHECK_CONCURRENCY } from '../appliance/rotation/index.js';
import { initializedHome, tempDir } from '../tests/helpers/fixtures.js';
import { startSshd } from '../tests/helpers/sshd.js';
import { ensureTargetAccount } from '../tests/helpers/terminal-proxy.js';
import { measure, type Figures } from './figures.js';
import { execFileSync } from 'node:child_process';

const ADMIN = { username: 'admin', ip: '127.0.0.1' };
const ACCOUNTS = 4;
const ROTATIONS = 24;
const CHECKED = 1000;

function login(port: number, username: string, password: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.on('ready', () => {
      c.end();
      resolve();
    });
    c.on('error', reject);
    c.connect({ host: '127.0.0.1', port, username, password, tryKeyboard: false, readyTimeout: 20_000 });
  });
}

function line(name: string, f: Figures, unit: 'min' | 's'): string {
  const rate = unit === 'min' ? `${(f.perSecond * 60).toFixed(1).padStart(8)}/min` : `${f.perSecond.toFixed(1).padStart(8)}/s  `;
  return `${name.padEnd(44)} ${rate}   p50 ${f.p50.toFixed(0).padStart(6)} ms   p99 ${f.p99.toFixed(0).padStart(6)} ms   (${f.count} in ${f.seconds.toFixed(1)} s)`;
}

async function main(): Promise<void> {
  const work = tempDir('warden-bench-rotation-');
  const home = await initializedHome();
  const sshd = await startSshd(path.join(work.dir, 'sshd'), { extraConfig: ['MaxStartups 100:30:200', 'MaxSessions 100'] });
  const a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
  try {
    process.stdout.write(`bench: ${ACCOUNTS} target accounts on a real sshd, ${ROTATIONS} rotations, status control of ${CHECKED} credentials...\n`);
    const accounts = Array.from({ length: ACCOUNTS }, (_, i) => ({ name: `wbrot${i}`, password: generatePassword() }));
    for (const acc of accounts) {
      ensureTargetAccount(acc.name, acc.password);
      execFileSync('chage', ['-m', '0', '-d', '2020-01-01', acc.name]);
    }
    const deviceId = (await a.devices.createDevice(ADMIN, { hostname: 'bench01', address: '127.0.0.1', connectivity: `SSH:${sshd.port}`, type: 'Linux' })).id;
    const ids: number[] = [];
    for (const acc of accounts) ids.push((await a.credentials.createCredential(ADMIN, { deviceId, username: acc.name, secret: acc.password })).id);
    // Warm-up: host key pinned, JIT.
    await a.rotation.checkStatus(ids[0]!);

    // Rotations: one account per worker (a rotation holds its credential), ACCOUNTS at once.
    const loginBaseline = await measure(ROTATIONS * 2, ACCOUNTS, async (i) => {
      const acc = accounts[i % ACCOUNTS]!;
      await login(sshd.port, acc.name, await a.credentials.secretOf(ids[i % ACCOUNTS]!));
    });
    const rotations = await measure(ROTATIONS, ACCOUNTS, async (_i, worker) => {
      await a.rotation.rotate(ADMIN, ids[worker]!);
    });

    // Status control: CHECKED credentials with status control on (all on this target's accounts), one job run.
    for (let i = 0; i < CHECKED; i++) {
      const acc = accounts[i % ACCOUNTS]!;
      await a.credentials.createCredential(ADMIN, { deviceId, username: acc.name, secret: await a.credentials.secretOf(ids[i % ACCOUNTS]!), statusControl: true });
    }
    // The baseline's rate from a fifth as many logins (the target's password hash sets it, not the count).
    const checkBaseline = await measure(CHECKED / 5, STATUS_CHECK_CONCURRENCY, async (i) => {
      const acc = accounts[i % ACCOUNTS]!;
      await login(sshd.port, acc.name, await a.credentials.secretOf(ids[i % ACCOUNTS]!));
    });
    const t0 = performance.now();
    const run = await a.rotation.checkAll();
    const seconds = (performance.now() - t0) / 1000;
    if (run.checked !== CHECKED || run.failing !== 0) throw new Error(`status control checked ${run.checked}, failing ${run.failing}`);

    process.stdout.write(`\nWarden rotation benchmark (${availableParallelism()} cores; one sshd on loopback; every rotation proved by a login)\n`);
    process.stdout.write(line(`baseline: SSH password login (x${ACCOUNTS})`, loginBaseline, 's') + '\n');
    process.stdout.write(line(`rotation (passwd in a PTY + proving login, x${ACCOUNTS})`, rotations, 'min') + '\n');
    process.stdout.write(`ratio rotation time / login time (p50):      ${(rotations.p50 / loginBaseline.p50).toFixed(2)}× (a rotation is two logins and passwd)\n`);
    process.stdout.write(line(`baseline: SSH login (x${STATUS_CHECK_CONCURRENCY})`, checkBaseline, 's') + '\n');
    process.stdout.write(`status control of ${CHECKED} credentials (x${STATUS_CHECK_CONCURRENCY}):     ${(CHECKED / seconds).toFixed(1).padStart(8)}/s     ${seconds.toFixed(1)} s for all\n`);
    process.stdout.write(`ratio status control / login throughput:     ${(CHECKED / seconds / checkBaseline.perSecond).toFixed(2)}× (one login each, plus a stored verdict)\n`);
  } finally {
    await a.close();
    await sshd.stop();
    home.cleanup();
    work.cleanup();
  }
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${(e as Error).stack}\n`);
  process.exit(1);
});
