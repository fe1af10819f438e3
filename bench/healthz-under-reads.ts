// make bench — does unsealing credentials stall the event loop? Two runs, each with its baseline (the same
// health request with nothing else running) measured in the same run:
//  1. in one process: credential reads through the vault (row + unwrap of the data key on the SoftHSM token +
//     AES-GCM) paced at 2,000/s, while a plain HTTP `GET /healthz` served by the same event loop is probed
//     from another thread — the key service's own share;
//  2. the real web daemon: password views over HTTPS (session, decision, unwrap, audit row) asked at
//     2,000/s from a load thread, while this thread measures an unrelated `GET /healthz`.
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { strongPassword, tempDir } from '../tests/helpers/fixtures.js';
import { ApiClient, startWebDaemon } from '../tests/helpers/web-daemon.js';
import { initializeAppliance } from '../appliance/provision/index.js';
import { Appliance } from '../appliance/index.js';
import { loadConfig } from '../appliance/config/index.js';

const TARGET_PER_SECOND = Number(process.env.BENCH_READS_PER_SECOND ?? 2000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const MAX_IN_FLIGHT = 256;

interface LoadJob {
  port: number;
  ca: string;
  cookie: string;
  csrf: string;
  credentialIds: number[];
  perSecond: number;
  seconds: number;
}

interface ProbeJob {
  role: 'probe';
  port: number;
  /** Probe until the main thread posts 'stop'. */
}

interface LoadResult {
  sent: number;
  ok: number;
  failed: number;
  statuses: Record<string, number>;
  seconds: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** The load thread: an open loop paced at `perSecond`, at most MAX_IN_FLIGHT requests outstanding. */
async function runLoad(job: LoadJob): Promise<LoadResult> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 64 });
  const body = JSON.stringify({ reason: 'benchmark read' });
  const statuses: Record<string, number> = {};
  let sent = 0;
  let ok = 0;
  let failed = 0;
  let inFlight = 0;
  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const id = job.credentialIds[i % job.credentialIds.length]!;
      const req = https.request(
        {
          host: '127.0.0.1',
          port: job.port,
          method: 'POST',
          path: `/api/v1/credentials/${id}/view`,
          ca: job.ca,
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), cookie: job.cookie, 'x-csrf-token': job.csrf, accept: 'application/json' },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            statuses[res.statusCode!] = (statuses[res.statusCode!] ?? 0) + 1;
            if (res.statusCode === 200) ok++;
            else failed++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        failed++;
        statuses.error = (statuses.error ?? 0) + 1;
        resolve();
      });
      req.end(body);
    });
  const start = performance.now();
  const end = start + job.seconds * 1000;
  const pending = new Set<Promise<void>>();
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - start) / 1000) * job.perSecond);
    while (sent < due && inFlight < MAX_IN_FLIGHT) {
      inFlight++;
      const p = one(sent++).then(() => {
        inFlight--;
        pending.delete(p);
      });
      pending.add(p);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(pending);
  agent.destroy();
  return { sent, ok, failed, statuses, seconds: (performance.now() - start) / 1000 };
}

function healthz(port: number, ca: Buffer, agent: https.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    https
      .get({ host: '127.0.0.1', port, path: '/healthz', ca, agent }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`healthz ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

/** The probe thread of run 1: plain HTTP health requests, one every 5 ms, until told to stop. */
async function runProbe(job: ProbeJob): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let stop = false;
  parentPort!.once('message', () => (stop = true));
  const lat: number[] = [];
  while (!stop) {
    lat.push(
      await new Promise<number>((resolve, reject) => {
        const t0 = performance.now();
        http
          .get({ host: '127.0.0.1', port: job.port, path: '/healthz', agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(performance.now() - t0));
          })
          .on('error', reject);
      }),
    );
    await new Promise((r) => setTimeout(r, 5));
  }
  agent.destroy();
  return lat.sort((a, b) => a - b);
}

async function probeFromThread(port: number, during: () => Promise<void>): Promise<number[]> {
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { role: 'probe', port } satisfies ProbeJob });
  const result = new Promise<number[]>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await during();
  worker.postMessage('stop');
  const lat = await result;
  await worker.terminate();
  return lat;
}

/** Run 1: the vault's reads and a health endpoint on one event loop, as in a daemon. */
async function inProcess(): Promise<void> {
  const tmp = tempDir('warden-bench-');
  const configFile = path.join(tmp.dir, 'warden.json');
  await initializeAppliance({ home: tmp.dir, configFile, adminUsername: 'admin', web: { listen: '127.0.0.1', httpsPort: 0, httpPort: 0, publicHost: '127.0.0.1' }, anchorFile: path.join(tmp.dir, 'anchor', 'audit-anchor.log') });
  const a = await Appliance.open(loadConfig({ WARDEN_HOME: tmp.dir, WARDEN_CONFIG: configFile }));
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(req.url === '/healthz' ? '{"status":"ok"}' : '{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    const admin = { username: 'admin', ip: null };
    const device = await a.devices.createDevice(admin, { hostname: 'bench01', address: '127.0.0.1', connectivity: 'SSH:22' });
    const ids: number[] = [];
    for (let i = 0; i < 10; i++) ids.push((await a.credentials.createCredential(admin, { deviceId: device.id, username: `svc${i}`, secret: `S3cret-${i}-${'x'.repeat(24)}` })).id);
    const baseline = await probeFromThread(port, () => new Promise((r) => setTimeout(r, SECONDS * 1000)));
    let reads = 0;
    let seconds = 0;
    const underLoad = await probeFromThread(port, async () => {
      const start = performance.now();
      const end = start + SECONDS * 1000;
      let sent = 0;
      let inFlight = 0;
      const pending = new Set<Promise<void>>();
      while (performance.now() < end) {
        const due = Math.floor(((performance.now() - start) / 1000) * TARGET_PER_SECOND);
        while (sent < due && inFlight < MAX_IN_FLIGHT) {
          inFlight++;
          const p: Promise<void> = a.credentials.secretOf(ids[sent++ % ids.length]!).then(() => {
            reads++;
            inFlight--;
            pending.delete(p);
          });
          pending.add(p);
        }
        await new Promise((r) => setTimeout(r, 1));
      }
      await Promise.all(pending);
      seconds = (performance.now() - start) / 1000;
    });
    process.stdout.write('\nWarden: 1. credential reads and /healthz on one event loop (2 cores; SoftHSM2 token; SQLite)\n');
    process.stdout.write(figures('baseline: GET /healthz alone', baseline) + '\n');
    process.stdout.write(figures('GET /healthz under credential reads', underLoad) + '\n');
    process.stdout.write(`credential reads: ${(reads / seconds).toFixed(0)}/s achieved of ${TARGET_PER_SECOND}/s asked\n`);
    process.stdout.write(`ratio healthz p99 under load / alone: ${(percentile(underLoad, 99) / percentile(baseline, 99)).toFixed(1)}×   (goal: p99 under load < 5 ms)\n`);
  } finally {
    server.close();
    await a.close();
    tmp.cleanup();
  }
}

/** One health request every 5 ms (never two at once) until `until` says stop. */
async function probe(port: number, ca: Buffer, until: () => boolean): Promise<number[]> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const lat: number[] = [];
  while (!until()) {
    lat.push(await healthz(port, ca, agent));
    await new Promise((r) => setTimeout(r, 5));
  }
  agent.destroy();
  return lat.sort((a, b) => a - b);
}

function figures(name: string, lat: number[]): string {
  return `${name.padEnd(40)} p50 ${percentile(lat, 50).toFixed(2).padStart(7)} ms   p99 ${percentile(lat, 99).toFixed(2).padStart(7)} ms   max ${lat[lat.length - 1]!.toFixed(1).padStart(6)} ms   (${lat.length} requests)`;
}

async function main(): Promise<void> {
  await inProcess();
  await throughDaemon();
}

/** Run 2: the real web daemon. */
async function throughDaemon(): Promise<void> {
  const tmp = tempDir('warden-bench-');
  const configFile = path.join(tmp.dir, 'warden.json');
  process.stdout.write('bench: initializing an appliance and starting the web daemon...\n');
  const init = await initializeAppliance({ home: tmp.dir, configFile, adminUsername: 'admin', web: { listen: '127.0.0.1', httpsPort: 0, httpPort: 0, publicHost: '127.0.0.1' }, anchorFile: path.join(tmp.dir, 'anchor', 'audit-anchor.log') });
const d = await startWebDaemon({ ...init, home: tmp.dir, configFile, cleanup: tmp.cleanup });
  try {
    const admin = new ApiClient(d);
    await admin.loginAndChange('admin', init.oneTimePassword, strongPassword());
    const me = (await admin.call('GET', '/api/v1/me')).json;
    const adminId = Number(me?.user?.id ?? me?.id);
    const device = await admin.call('POST', '/api/v1/devices', { hostname: 'bench01', address: '127.0.0.1', connectivity: 'SSH:22' });
    if (device.status !== 201) throw new Error(`device: ${device.status} ${device.body}`);
    const credentialIds: number[] = [];
    for (let i = 0; i < 10; i++) {
      const c = await admin.call('POST', '/api/v1/credentials', { deviceId: device.json.device.id, username: `svc${i}`, secret: `S3cret-${i}-${'x'.repeat(24)}`, kind: 'local-privileged' });
      if (c.status !== 201) throw new Error(`credential: ${c.status} ${c.body}`);
      credentialIds.push(c.json.credential.id);
    }
    const group = await admin.call('POST', '/api/v1/access-groups', { name: 'bench-view', sessionAllowed: false, passwordViewAllowed: true, reasonRequired: true, userIds: [adminId], deviceIds: [device.json.device.id], credentialIds });
    if (group.status !== 201) throw new Error(`group: ${group.status} ${group.body}`);
    const check = await admin.call('POST', `/api/v1/credentials/${credentialIds[0]}/view`, { reason: 'benchmark read' });
    if (check.status !== 200) throw new Error(`view: ${check.status} ${check.body}`);

    // Warm-up (TLS, JIT) of both paths, then the baseline: health requests with nothing else running.
    let stopAt = performance.now() + 1000;
    await probe(d.httpsPort, d.ca, () => performance.now() > stopAt);
    stopAt = performance.now() + SECONDS * 1000;
    const baseline = await probe(d.httpsPort, d.ca, () => performance.now() > stopAt);

    process.stdout.write(`bench: ${TARGET_PER_SECOND} password views/s for ${SECONDS} s, measuring /healthz meanwhile...\n`);
    const job: LoadJob = { port: d.httpsPort, ca: d.ca.toString(), cookie: admin.cookie, csrf: admin.csrf, credentialIds, perSecond: TARGET_PER_SECOND, seconds: SECONDS };
    const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { role: 'load', ...job } });
    let loadDone = false;
    const load = new Promise<LoadResult>((resolve, reject) => {
      worker.once('message', (m: LoadResult) => {
        loadDone = true;
        resolve(m);
      });
      worker.once('error', reject);
    });
    // Let the load ramp up for half a second before counting.
    await new Promise((r) => setTimeout(r, 500));
    const underLoad = await probe(d.httpsPort, d.ca, () => loadDone);
    const result = await load;
    await worker.terminate();

    process.stdout.write('\nWarden: 2. /healthz of the web daemon under password views over HTTPS (2 cores; SoftHSM2 token; SQLite)\n');
    process.stdout.write(figures('baseline: GET /healthz alone', baseline) + '\n');
    process.stdout.write(figures('GET /healthz under password views', underLoad) + '\n');
    process.stdout.write(
      `password views: ${(result.ok / result.seconds).toFixed(0)}/s achieved of ${TARGET_PER_SECOND}/s asked (${result.ok} ok, ${result.failed} failed ${JSON.stringify(result.statuses)}, ${result.seconds.toFixed(1)} s)\n`,
    );
    process.stdout.write(`ratio healthz p99 under load / alone: ${(percentile(underLoad, 99) / percentile(baseline, 99)).toFixed(1)}×   (goal: p99 under load < 5 ms)\n`);
  } finally {
    await d.stop();
    tmp.cleanup();
  }
}

if (isMainThread) {
  main().catch((e) => {
    process.stderr.write(`bench failed: ${(e as Error).stack}\n`);
    process.exit(1);
  });
} else if ((workerData as { role: string }).role === 'probe') {
  runProbe(workerData as ProbeJob).then((r) => parentPort!.postMessage(r));
} else {
  runLoad(workerData as LoadJob).then((r) => parentPort!.postMessage(r));
}
