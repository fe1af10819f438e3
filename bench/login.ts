// make bench — login throughput against the real web daemon (production Argon2id cost), printed beside two
// baselines measured in the same run: the raw Argon2id verify rate on the same cores at the same concurrency
// (a login should cost one hash and little else), and an unauthenticated health request over the same TLS pool.
import https from 'node:https';
import { strongPassword, tempDir } from '../tests/helpers/fixtures.js';
import { ApiClient, startWebDaemon, type RunningDaemon } from '../tests/helpers/web-daemon.js';
import { initializeAppliance } from '../appliance/provision/index.js';
import { hashPassword, verifyPassword } from '../appliance/auth/index.js';
import { DEFAULT_ARGON2 } from '../appliance/config/index.js';
import path from 'node:path';
import { availableParallelism } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';
import { cpuMs } from './proc-stats.js';
import { measure, merge, type Figures } from './figures.js';
import { LeanClient } from './lean-client.js';

/** CPU (ms) of every thread of a process, summed by thread name (main, libuv's pool, V8's helpers, workers). */
function threadsCpuMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const name = tid === String(pid) ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out.set(name, (out.get(name) ?? 0) + (threadCpuMs(pid, Number(tid)) ?? 0));
    }
  } catch {
    /* not Linux */
  }
  return out;
}

/**
 * CPU time (ms) of one thread of a process so far (undefined off Linux): the daemon's main thread is where a
 * login's work besides its hash runs, and every millisecond of it is taken from the hashes.
 */
function threadCpuMs(pid: number, tid = pid): number | undefined {
  try {
    return cpuMs(pid, tid);
  } catch {
    return undefined;
  }
}

const CONCURRENCY = 8;
const ROUNDS = 8;
const PER_ROUND = 64;

function get(d: RunningDaemon, agent: https.Agent, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port: d.httpsPort, path, ca: d.ca, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      })
      .on('error', reject);
  });
}

function line(name: string, f: Figures): string {
  return `${name.padEnd(34)} ${f.perSecond.toFixed(1).padStart(9)}/s   p50 ${f.p50.toFixed(1).padStart(7)} ms   p99 ${f.p99.toFixed(1).padStart(7)} ms   (${f.count} in ${f.seconds.toFixed(1)} s)`;
}

async function main(): Promise<void> {
  const tmp = tempDir('warden-bench-');
  const c = DEFAULT_ARGON2;
  process.stdout.write(`bench: initializing an appliance with the production Argon2id cost (m=${c.memoryKiB} KiB, t=${c.iterations}, p=${c.parallelism})...\n`);
  const configFile = path.join(tmp.dir, 'warden.json');
  const init = await initializeAppliance({ home: tmp.dir, configFile, adminUsername: 'admin', web: { listen: '127.0.0.1', httpsPort: 0, httpPort: 0, publicHost: '127.0.0.1' }, anchorFile: path.join(tmp.dir, 'anchor', 'audit-anchor.log') });
  const home = { ...init, home: tmp.dir, configFile, cleanup: tmp.cleanup };
  const d = await startWebDaemon(home);
  try {
    const admin = new ApiClient(d);
    await admin.loginAndChange('admin', init.oneTimePassword, strongPassword());
    // The unknown-user figure measures the decoy hash; the per-address throttle would cut it short after 10.
    await admin.call('PUT', '/api/v1/settings', { loginThrottle: { maxFailures: 10_000 } });
    // The 9:00 scenario: every measured login is a different person, none of whom has a session yet (a login
    // that replaces a live session also ends it and audits that: a different, rarer case).
    const users: { username: string; password: string }[] = [];
    process.stdout.write(`bench: creating ${ROUNDS * PER_ROUND} users (production hash cost: about half a minute)...\n`);
    await measure(ROUNDS * PER_ROUND, CONCURRENCY, async (i) => {
      const username = `bench${i}`;
      const r = await admin.call('POST', '/api/v1/users', { username, fullName: `Bench ${i}`, profile: 'auditor' });
      const password = strongPassword();
      const client = new ApiClient(d);
      await client.loginAndChange(username, r.json.oneTimePassword, password);
      const out = await client.call('POST', '/api/v1/auth/logout');
      if (out.status !== 204) throw new Error(`logout failed: ${out.status}`);
      users[i] = { username, password };
    });
    const agent = new https.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    // Warm-up: TLS sessions, JIT.
    await measure(50, 4, async () => void (await get(d, agent, '/healthz')));

    // The raw rate: one Argon2id verify of the production cost per call, in this process, while the daemon is
    // idle. Raw hashes, logins and unknown-user logins run in interleaved rounds, so load from neighbours on
    // the machine weighs on all three alike and the ratios stay meaningful.
    const stored = await hashPassword(strongPassword(), DEFAULT_ARGON2);
    const rawRound = () => measure(PER_ROUND, CONCURRENCY, async () => void (await verifyPassword('Wrong-Password-1', stored)));
    await rawRound();

    const lean = await LeanClient.open(d, CONCURRENCY);
    process.stdout.write('bench: measuring...\n');
    const baseline = await measure(2000, CONCURRENCY, async () => {
      if ((await get(d, agent, '/healthz')) !== 200) throw new Error('healthz failed');
    });
    const raw: Figures[] = [];
    const logins: Figures[] = [];
    const unknown: Figures[] = [];
    // CPU spent on logins besides the hashes: the daemon's main thread, and this process as the client.
    const spent = { daemonMain: 0, client: 0, rawHash: 0, known: true };
    const byThread = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      const raw0 = process.cpuUsage();
      raw.push(await rawRound());
      const rawCpu = process.cpuUsage(raw0);
      spent.rawHash += (rawCpu.user + rawCpu.system) / 1000;
      const main0 = threadCpuMs(d.proc.pid!);
      const threads0 = threadsCpuMs(d.proc.pid!);
      const client0 = process.cpuUsage();
      logins.push(
        await measure(PER_ROUND, CONCURRENCY, async (i) => {
          const u = users[round * PER_ROUND + i]!;
          const status = await lean.post('/api/v1/auth/login', JSON.stringify({ username: u.username, password: u.password }));
          if (status !== 200) throw new Error(`login failed: ${status}`);
        }),
      );
      const client = process.cpuUsage(client0);
      const main1 = threadCpuMs(d.proc.pid!);
      for (const [k, v] of threadsCpuMs(d.proc.pid!)) byThread.set(k, (byThread.get(k) ?? 0) + v - (threads0.get(k) ?? 0));
      spent.client += (client.user + client.system) / 1000;
      if (main0 === undefined || main1 === undefined) spent.known = false;
      else spent.daemonMain += main1 - main0;
      unknown.push(
        await measure(PER_ROUND, CONCURRENCY, async (i) => {
          const u = users[round * PER_ROUND + i]!;
          await lean.post('/api/v1/auth/login', JSON.stringify({ username: `${u.username}-nobody`, password: 'Wrong-Password-1' }));
        }),
      );
    }
    agent.destroy();
    lean.close();
    const rawAll = merge(raw);
    const loginAll = merge(logins);
    const unknownAll = merge(unknown);
    const ratios = logins.map((l, i) => l.perSecond / raw[i]!.perSecond).sort((a, b) => a - b);

    process.stdout.write(`\nWarden login benchmark (${availableParallelism()} cores; one web daemon; concurrency ${CONCURRENCY}; ${ROUNDS} interleaved rounds)\n`);
    process.stdout.write(line('baseline: GET /healthz', baseline) + '\n');
    process.stdout.write(line('raw Argon2id verify (this process)', rawAll) + '\n');
    process.stdout.write(line(`login (Argon2id m=${c.memoryKiB},t=${c.iterations},p=${c.parallelism})`, loginAll) + '\n');
    process.stdout.write(line('login, unknown user (decoy hash)', unknownAll) + '\n');
    process.stdout.write(`ratio login / raw Argon2id rate:    ${(loginAll.perSecond / rawAll.perSecond).toFixed(2)}× (per round ${ratios[0]!.toFixed(2)}–${ratios[ratios.length - 1]!.toFixed(2)}; goal ≥ 0.9: a login costs one hash and little else)\n`);
    process.stdout.write(`login p99:                          ${loginAll.p99.toFixed(1)} ms (goal < 150 ms at concurrency ${CONCURRENCY}; logins/s goal ≥ 80)\n`);
    if (spent.known) {
      const n = loginAll.count;
      process.stdout.write(`CPU per login besides the hash:     daemon main thread ${(spent.daemonMain / n).toFixed(2)} ms, bench client ${(spent.client / n).toFixed(2)} ms (a raw verify: ${((availableParallelism() * 1000) / rawAll.perSecond).toFixed(1)} core-ms, all cores busy)\n`);
    }
    if (process.env.WARDEN_BENCH_THREADS) process.stdout.write(`  raw verify, this process        ${(spent.rawHash / rawAll.count).toFixed(2)} ms per hash (all threads)\n`);
    if (process.env.WARDEN_BENCH_THREADS) for (const [k, v] of byThread) process.stdout.write(`  daemon thread ${k.padEnd(16)} ${(v / loginAll.count).toFixed(2)} ms per login\n`);
    process.stdout.write(`ratio login / baseline throughput:  ${(loginAll.perSecond / baseline.perSecond).toFixed(4)}×\n`);
    process.stdout.write(`ratio unknown-user / login p50:     ${(unknownAll.p50 / loginAll.p50).toFixed(2)}× (near 1: no user enumeration by timing)\n`);
  } finally {
    await d.stop();
    tmp.cleanup();
  }
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${(e as Error).stack}\n`);
  process.exit(1);
});
