// A real CSV import in its own process, on a real appliance home, for tests that kill it part-way.
// Usage: node import-child.js ROWS (WARDEN_HOME set). Prints "importing" once the appliance is open.
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';

const rows = Number(process.argv[2] ?? 5000);
const a = await Appliance.open(loadConfig(process.env));
// Loopback addresses only, even as data: 127.x.y.z for row i.
const csv = ['hostname,address,connectivity', ...Array.from({ length: rows }, (_, i) => `crash${i}.example.test,127.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255},SSH:22`)].join('\n');
process.stdout.write('importing\n');
const result = await a.devices.importDevices({ username: 'admin', ip: '127.0.0.1' }, csv);
process.stdout.write(`done ${result.imported}\n`);
await a.close();
