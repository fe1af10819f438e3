// make bench — the console's Devices page with 10,000 devices, through the real web daemon over HTTPS: the time
// of one GET /api/v1/devices page (the first, a text filter matching 1 %, a late offset, the unreachable ones)
// as the console asks for it, each as a ratio to GET /healthz measured in the same run on the same keep-alive
// connection (so TLS, HTTP and the session check are in both; what is left is the devices page's own work).
// The ratio is of medians: on this shared machine the p99s are printed, not compared.
import https from 'node:https';
import { Appliance } from '../appliance/index.js';
import { loadConfig } from '../appliance/config/index.js';
import { initializedHome, strongPassword } from '../tests/helpers/fixtures.js';
import { ApiClient, startWebDaemon } from '../tests/helpers/web-daemon.js';
import { measure, merge, type Figures } from './figures.js';

const DEVICES = 10_000;
const CALLS = Number(process.env.BENCH_CALLS ?? 200);
const ROUNDS = 3;
const admin = { username: 'admin', ip: '127.0.0.1' };

const home = await initializedHome();
// The store is filled before the daemon starts, through the core (the import the console's CSV form calls).
const a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
try {
  const rows = ['hostname,address,vendor,type,site,connectivity'];
  for (let i = 1; i <= DEVICES; i++) rows.push([`srv${String(i).padStart(5, '0')}`, `127.1.${Math.floor(i / 250)}.${i % 250}`, 'Dell', i % 2 ? 'Windows' : 'Linux', i % 100 === 0 ? 'Recife' : 'Lisboa', 'SSH:22'].join(','));
  const imported = await a.devices.importDevices(admin, rows.join('\n') + '\n');
  if (imported.imported !== DEVICES) throw new Error(`imported ${imported.imported} of ${DEVICES}`);
  const some = await a.devices.listDevices({ limit: 1000 });
  for (const d of some) await a.store.repos.connectivity.recordConnectivity({ device_id: d.id, port: 22, protocol: 'SSH', ok: false, detail: 'ECONNREFUSED', checked_at: Date.now() });
} finally {
  await a.close();
}

const d = await startWebDaemon(home);
try {
  const client = new ApiClient(d);
  await client.loginAndChange('admin', home.oneTimePassword, strongPassword());
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (path: string) =>
    new Promise<string>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: d.httpsPort, path, ca: d.ca, agent, headers: { cookie: client.cookie, accept: 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(new Error(`${path}: ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end();
    });
  const run = async (path: string): Promise<Figures> => {
    await measure(20, 1, async () => void (await get(path))); // warm-up: JIT, SQLite page cache
    const rounds: Figures[] = [];
    for (let r = 0; r < ROUNDS; r++) rounds.push(await measure(CALLS, 1, async () => void (await get(path))));
    return merge(rounds);
  };

  const healthz = await run('/healthz');
  const cases: [string, string][] = [
    ['first page (50)', '/api/v1/devices?limit=50&offset=0'],
    ['text "recife" (100 match)', '/api/v1/devices?q=recife&limit=50&offset=0'],
    ['late offset (9,950)', '/api/v1/devices?limit=50&offset=9950'],
    ['unreachable (1,000 of them)', '/api/v1/devices?unreachable=true&limit=50&offset=0'],
  ];
  const lines = [`console devices page with ${DEVICES} devices over HTTPS (keep-alive, one connection), ${ROUNDS}×${CALLS} calls each; baseline GET /healthz p50 ${healthz.p50.toFixed(2)} ms, p99 ${healthz.p99.toFixed(2)} ms`];
  for (const [name, path] of cases) {
    const f = await run(path);
    const body = JSON.parse(await get(path)) as { devices: unknown[]; total: number };
    lines.push(`  GET /api/v1/devices ${name.padEnd(28)} p50 ${f.p50.toFixed(2).padStart(6)} ms = ${(f.p50 / healthz.p50).toFixed(1)}x healthz, p99 ${f.p99.toFixed(2).padStart(7)} ms (${body.devices.length} shown of ${body.total})`);
  }
  agent.destroy();
  process.stdout.write(lines.join('\n') + '\n');
} finally {
  await d.stop();
  home.cleanup();
}
