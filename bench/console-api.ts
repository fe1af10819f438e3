// make bench — what the console's pages cost the server with 10,000 devices, in-process on a real appliance
// (SoftHSM token, its SQLite store): a devices page (the first, the last, a text filter that matches 1%, one
// that matches nothing and so reads every row, the unreachable ones) with its total, and the dashboard with 1,000 of those devices
// failing their connectivity test. Baseline in the same run: one device read by its key.
import { performance } from 'node:perf_hooks';
import { Appliance } from '../appliance/index.js';
import { loadConfig } from '../appliance/config/index.js';
import { initializedHome } from '../tests/helpers/fixtures.js';

const DEVICES = 10_000;
const ROUNDS = 30;
const admin = { username: 'admin', ip: '127.0.0.1' };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const s = performance.now();
    await fn();
    times.push(performance.now() - s);
  }
  return median(times);
}

const home = await initializedHome();
const a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }), { daemon: true });
try {
  const rows = ['hostname,address,vendor,type,site,connectivity'];
  for (let i = 1; i <= DEVICES; i++) rows.push([`srv${String(i).padStart(5, '0')}`, `127.1.${Math.floor(i / 250)}.${i % 250}`, 'Dell', i % 2 ? 'Windows' : 'Linux', i % 100 === 0 ? 'Recife' : 'Lisboa', 'SSH:22'].join(','));
  const i0 = performance.now();
  const imported = await a.devices.importDevices(admin, rows.join('\n') + '\n');
  const importMs = performance.now() - i0;
  const all = await a.devices.listDevices({ limit: DEVICES });
  for (const d of all.slice(0, 1000)) await a.store.repos.connectivity.recordConnectivity({ device_id: d.id, port: 22, protocol: 'SSH', ok: false, detail: 'ECONNREFUSED', checked_at: Date.now() });

  const byKey = await timed(() => a.devices.device(all[5000]!.id));
  const cases: [string, () => Promise<{ total: number }>][] = [
    ['first page (50)', () => a.devices.pageDevices({ limit: 50, offset: 0 })],
    ['last page (50, offset 9950)', () => a.devices.pageDevices({ limit: 50, offset: 9950 })],
    ['page of 500', () => a.devices.pageDevices({ limit: 500, offset: 5000 })],
    ['text "recife" (100 match)', () => a.devices.pageDevices({ text: 'recife', limit: 50, offset: 0 })],
    ['text "nowhere" (none match)', () => a.devices.pageDevices({ text: 'nowhere', limit: 50, offset: 0 })],
    ['unreachable (1,000 of them)', () => a.devices.pageDevices({ unreachable: true, limit: 50, offset: 0 })],
  ];
  const lines = [`console API with ${imported.imported} devices (imported from CSV in ${(importMs / 1000).toFixed(1)} s), median of ${ROUNDS}; baseline: one device by key ${byKey.toFixed(3)} ms`];
  for (const [name, fn] of cases) {
    const ms = await timed(fn);
    lines.push(`  devices ${name.padEnd(30)} ${ms.toFixed(2).padStart(7)} ms (total ${(await fn()).total}) = ${(ms / byKey).toFixed(0)}x one device by key`);
  }
  const dash = await timed(() => a.dashboard.overview({ id: 1, profile: 'administrator' }));
  const failing = (await a.dashboard.overview({ id: 1, profile: 'administrator' })).unreachableDevices!.total;
  lines.push(`  dashboard (administrator, ${failing} unreachable) ${dash.toFixed(2).padStart(7)} ms = ${(dash / byKey).toFixed(0)}x one device by key`);
  process.stdout.write(lines.join('\n') + '\n');
} finally {
  await a.close();
  home.cleanup();
}
