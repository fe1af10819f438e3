// make bench — the vault and the access decision, in-process on a real SoftHSM token:
//  - credential reads (row + unwrap of the data key on the token + AES-GCM) vs reading the row alone;
//  - access decisions with 10,000 devices and 1,000 groups vs one indexed user lookup;
//  - "what may I reach now" for one user in all 1,000 groups (every device): the first page with states,
//    a text-filtered page, and all targets, vs the same user lookup.
// Each figure is printed beside its baseline measured in the same run, as a ratio.
import { performance } from 'node:perf_hooks';
import { Appliance } from '../appliance/index.js';
import { loadConfig } from '../appliance/config/index.js';
import { initializedHome, strongPassword } from '../tests/helpers/fixtures.js';

interface Figures {
  perSecond: number;
  p50: number;
  p99: number;
  count: number;
}

async function measure(count: number, one: (i: number) => Promise<unknown>): Promise<Figures> {
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const s = performance.now();
    await one(i);
    lat.push(performance.now() - s);
  }
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)]!;
  return { perSecond: count / seconds, p50: pct(50), p99: pct(99), count };
}

function line(name: string, f: Figures): string {
  return `${name.padEnd(44)} ${f.perSecond.toFixed(0).padStart(8)}/s   p50 ${f.p50.toFixed(3).padStart(7)} ms   p99 ${f.p99.toFixed(3).padStart(7)} ms`;
}

async function main(): Promise<void> {
  const home = await initializedHome();
  const a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
  try {
    const admin = { username: 'admin', ip: null };
    process.stdout.write('bench: building 10,000 devices with a credential each, 200 users, 1,000 access groups...\n');
    const now = Date.now();
    const USERS = 200;
    const DEVICES = 10_000;
    const GROUPS = 1_000;
    const userIds: number[] = [];
    for (let i = 0; i < USERS; i++) {
      userIds.push((await a.users.create(admin, { username: `user${i}`, fullName: `User ${i}`, profile: 'privileged-access-user', password: strongPassword() })).user.id);
    }
    // One user in every group: the "10,000 devices in 1,000 groups of one user" of the reachability goal.
    const heavy = (await a.users.create(admin, { username: 'everywhere', fullName: 'In every group', profile: 'privileged-access-user', password: strongPassword() })).user.id;
    // Bulk rows straight through the repositories (one transaction): the bench measures decisions, not setup.
    const deviceIds: number[] = [];
    const credentialIds: number[] = [];
    await a.store.transaction(async (repos) => {
      for (let i = 0; i < DEVICES; i++) {
        const id = await repos.devices.insertDevice({ hostname: `host${i}.bench`, address: `127.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, vendor_id: null, type_id: null, model_id: null, site_id: null, field1: '', field2: '', domain: '', connectivity: 'SSH:22,RDP:3389', status: 'active', created_at: now, updated_at: now });
        deviceIds.push(id);
        credentialIds.push(await repos.credentials.insertCredential({ device_id: id, kind: 'local-privileged', username: 'root', secret_kind: 'password', secret_sealed: '', domain: '', extra_info: '', labels: '[]', owner: '', auto_change: false, status_control: false, split_view: false, status: 'active', created_at: now, updated_at: now }));
      }
      for (let g = 0; g < GROUPS; g++) {
        const id = await repos.accessGroups.insertGroup({ name: `group${g}`, enabled: true, session_allowed: true, password_view_allowed: false, reason_required: false, approval_required: g % 5 === 0, approvals_needed: 1, time_windows: g % 3 === 0 ? JSON.stringify([{ days: [1, 2, 3, 4, 5], start: '08:00', end: '18:00' }]) : '[]', created_at: now, updated_at: now });
        const devs = Array.from({ length: 50 }, (_, k) => deviceIds[(g * 37 + k * 101) % DEVICES]!);
        await repos.accessGroups.replaceMembers('access_group_users', id, [...Array.from({ length: 10 }, (_, k) => userIds[(g * 7 + k) % USERS]!), heavy]);
        await repos.accessGroups.replaceMembers('access_group_devices', id, [...new Set(devs)]);
        await repos.accessGroups.replaceMembers('access_group_credentials', id, [...new Set(devs)].map((d) => credentialIds[deviceIds.indexOf(d)]!));
      }
    });
    // A few real, sealed credentials for the read benchmark.
    const sealed: number[] = [];
    for (let i = 0; i < 20; i++) sealed.push((await a.credentials.createCredential(admin, { deviceId: deviceIds[i]!, username: `svc${i}`, secret: `S3cret-${i}-${'x'.repeat(24)}` })).id);

    process.stdout.write('bench: measuring...\n');
    const rowOnly = await measure(5000, (i) => a.store.repos.credentials.credential(sealed[i % sealed.length]!));
    const reads = await measure(5000, (i) => a.credentials.secretOf(sealed[i % sealed.length]!));
    const lookup = await measure(5000, (i) => a.store.repos.users.byId(userIds[i % USERS]!));
    let allowed = 0;
    const decisions = await measure(5000, async (i) => {
      const d = (i * 7919) % DEVICES;
      const r = await a.accessDecisions.decide(userIds[(i * 31) % USERS]!, deviceIds[d]!, credentialIds[d]!, 'ssh');
      if (r.outcome === 'allowed') allowed++;
    });
    const firstPage = await measure(200, () => a.accessDecisions.reachable(heavy, { limit: 50 }));
    const filtered = await measure(200, (i) => a.accessDecisions.reachable(heavy, { text: `host${(i * 13) % 1000}`, limit: 50 }));
    let everything = 0;
    const all = await measure(5, async () => {
      everything = (await a.accessDecisions.reachable(heavy, { limit: 100_000 })).targets.length;
    });

    process.stdout.write('\nWarden vault and policy benchmark (2 cores; SoftHSM2 token; SQLite)\n');
    process.stdout.write(line('baseline: credential row read (no decrypt)', rowOnly) + '\n');
    process.stdout.write(line('credential read (unwrap on token + AES-GCM)', reads) + '\n');
    process.stdout.write(`ratio credential read / row read throughput: ${(reads.perSecond / rowOnly.perSecond).toFixed(3)}×\n`);
    process.stdout.write(line('baseline: user lookup by id', lookup) + '\n');
    process.stdout.write(line(`decision (${DEVICES} devices, ${GROUPS} groups)`, decisions) + '\n');
    process.stdout.write(`ratio decision / user lookup throughput: ${(decisions.perSecond / lookup.perSecond).toFixed(3)}×   (${allowed} of ${decisions.count} allowed)\n`);
    process.stdout.write(line(`reachable, first page of 50 with states`, firstPage) + '\n');
    process.stdout.write(line(`reachable, text-filtered page of 50`, filtered) + '\n');
    process.stdout.write(line(`reachable, all ${everything} targets with states`, all) + '\n');
    process.stdout.write(`ratio first page / user lookup p99 latency: ${(firstPage.p99 / lookup.p99).toFixed(0)}×   (goal: first page < 50 ms, all < 1 s)\n`);
  } finally {
    await a.close();
    home.cleanup();
  }
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${(e as Error).stack}\n`);
  process.exit(1);
});
