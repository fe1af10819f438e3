// make bench — login throughput against the real web daemon (production scrypt cost), printed beside a
// baseline measured in the same run: an unauthenticated health request over the same TLS connection pool.
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { strongPassword, tempDir } from '../tests/helpers/fixtures.js';
import { ApiClient, startWebDaemon, type RunningDaemon } from '../tests/helpers/web-daemon.js';
import { initializeAppliance } from '../appliance/provision/index.js';
import path from 'node:path';

interface Figures {
  count: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function measure(count: number, concurrency: number, one: (i: number) => Promise<void>): Promise<Figures> {
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) {
        const t0 = performance.now();
        await one(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return { count, seconds, perSecond: count / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

function post(d: RunningDaemon, agent: https.Agent, path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port: d.httpsPort, method: 'POST', path, ca: d.ca, agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

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
  process.stdout.write('bench: initializing an appliance with the production scrypt cost (N=2^17, r=8, p=1)...\n');
  const configFile = path.join(tmp.dir, 'warden.json');
  const init = await initializeAppliance({ home: tmp.dir, configFile, adminUsername: 'admin', web: { listen: '127.0.0.1', httpsPort: 0, httpPort: 0, publicHost: '127.0.0.1' }, anchorFile: path.join(tmp.dir, 'anchor', 'audit-anchor.log') });
  const home = { ...init, home: tmp.dir, configFile, cleanup: tmp.cleanup };
  const d = await startWebDaemon(home);
  try {
    const admin = new ApiClient(d);
    await admin.loginAndChange('admin', init.oneTimePassword, strongPassword());
    // The unknown-user figure measures the decoy hash; the per-address throttle would cut it short after 10.
    await admin.call('PUT', '/api/v1/settings', { loginThrottle: { maxFailures: 10_000 } });
    const users: { username: string; password: string }[] = [];
    process.stdout.write('bench: creating 8 users...\n');
    for (let i = 0; i < 8; i++) {
      const username = `bench${i}`;
      const r = await admin.call('POST', '/api/v1/users', { username, fullName: `Bench ${i}`, profile: 'auditor' });
      const password = strongPassword();
      await new ApiClient(d).loginAndChange(username, r.json.oneTimePassword, password);
      users.push({ username, password });
    }
    const agent = new https.Agent({ keepAlive: true, maxSockets: 8 });
    // Warm-up: TLS sessions, JIT.
    await measure(50, 4, async () => void (await get(d, agent, '/healthz')));

    process.stdout.write('bench: measuring...\n');
    const baseline = await measure(2000, 4, async () => {
      if ((await get(d, agent, '/healthz')) !== 200) throw new Error('healthz failed');
    });
    const logins = await measure(64, 4, async (i) => {
      const u = users[i % users.length]!;
      const status = await post(d, agent, '/api/v1/auth/login', JSON.stringify({ username: u.username, password: u.password }));
      if (status !== 200) throw new Error(`login failed: ${status}`);
    });
    const failed = await measure(64, 4, async (i) => {
      const u = users[i % users.length]!;
      await post(d, agent, '/api/v1/auth/login', JSON.stringify({ username: `${u.username}-nobody`, password: 'Wrong-Password-1' }));
    });
    agent.destroy();

    process.stdout.write('\nWarden login benchmark (2 cores; one web daemon; concurrency 4)\n');
    process.stdout.write(line('baseline: GET /healthz', baseline) + '\n');
    process.stdout.write(line('login (scrypt 2^17 + session)', logins) + '\n');
    process.stdout.write(line('login, unknown user (decoy hash)', failed) + '\n');
    process.stdout.write(`ratio login / baseline throughput:  ${(logins.perSecond / baseline.perSecond).toFixed(4)}×\n`);
    process.stdout.write(`ratio login / baseline p99 latency: ${(logins.p99 / baseline.p99).toFixed(1)}×\n`);
    process.stdout.write(`ratio unknown-user / login p50:     ${(failed.p50 / logins.p50).toFixed(2)}× (near 1: no user enumeration by timing)\n`);
  } finally {
    await d.stop();
    tmp.cleanup();
  }
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${(e as Error).stack}\n`);
  process.exit(1);
});
