// make bench — live control at 2,000 open sessions, in-process on a real appliance (SoftHSM token): what the
// bytes-so-far reporting costs the proxy (ProxySession.progress per chunk, and the batched write the
// heartbeat makes every 2 s: the same repository call), and what listing the live sessions costs an auditor.
// Baselines in the same run: the naive design (one durable transaction per session per report) and the
// primary-key lookup of one session row.
import { performance } from 'node:perf_hooks';
import { Appliance } from '../appliance/index.js';
import { loadConfig } from '../appliance/config/index.js';
import { PROGRESS_BATCH, type ProxySession } from '../appliance/sessions/index.js';
import { initializedHome, strongPassword } from '../tests/helpers/fixtures.js';

const SESSIONS = 2000;
const admin = { username: 'admin', ip: '127.0.0.1' };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const home = await initializedHome();
// As a daemon runs it: WAL checkpoints on a worker thread, not inside a commit on the event loop.
const a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }), { daemon: true });
try {
  const user = (await a.users.create(admin, { username: 'ops', fullName: 'Ops', email: 'ops@example.test', profile: 'privileged-access-user', password: strongPassword() })).user.id;
  const device = (await a.devices.createDevice(admin, { hostname: 'db01', address: '127.0.5.10', connectivity: 'SSH:22' })).id;
  const credential = (await a.credentials.createCredential(admin, { deviceId: device, username: 'root', secret: 'T0p-Secret-Root-123' })).id;
  await a.accessGroups.saveGroup(admin, { name: 'ops', userIds: [user], deviceIds: [device], credentialIds: [credential] });
  const t0 = performance.now();
  const sessions: ProxySession[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const r = await a.sessions.open({ userId: user, deviceId: device, credentialId: credential, protocol: 'ssh', source: '127.0.0.9' });
    if (!r.admitted) throw new Error('not admitted');
    sessions.push(r.session);
  }
  const admitMs = performance.now() - t0;

  // The data path: progress() on every chunk. 100 chunks per session.
  const calls = SESSIONS * 100;
  const c0 = performance.now();
  for (let k = 0; k < 100; k++) for (const s of sessions) s.progress(k * 1000, k * 16_384);
  const perCallNs = ((performance.now() - c0) * 1e6) / calls;

  // The heartbeat's write: every session's latest figures, in non-durable transactions of PROGRESS_BATCH rows
  // (the same repository call; the loop is served between them, so the longest one is the longest stall).
  const updates = sessions.map((s, i) => ({ id: s.id, bytesIn: 1000 + i, bytesOut: 16_384 + i }));
  const whole: number[] = [];
  const stalls: number[] = [];
  for (let k = 0; k < 5; k++) {
    const s = performance.now();
    for (let i = 0; i < updates.length; i += PROGRESS_BATCH) {
      const b = performance.now();
      await a.store.transaction((repos) => repos.proxySessions.progress(updates.slice(i, i + PROGRESS_BATCH), Date.now()), { durable: false });
      stalls.push(performance.now() - b);
    }
    whole.push(performance.now() - s);
  }
  // Baseline: each session writing its own figures in its own (durable) transaction.
  const n0 = performance.now();
  for (const u of updates) await a.store.transaction((repos) => repos.proxySessions.progress([u], Date.now()));
  const naiveMs = performance.now() - n0;

  // An auditor's list of all 2,000, against one row by its key.
  const listed: number[] = [];
  const keyed: number[] = [];
  let count = 0;
  for (let k = 0; k < 10; k++) {
    let s = performance.now();
    count = (await a.sessions.liveSessions({ profile: 'auditor' }, { limit: 10_000 })).length;
    listed.push(performance.now() - s);
    s = performance.now();
    await a.store.repos.proxySessions.byId(sessions[k]!.id);
    keyed.push(performance.now() - s);
  }

  const batchMs = median(whole);
  process.stdout.write(
    [
      `live sessions (${SESSIONS} open; admitted in ${(admitMs / 1000).toFixed(1)} s)`,
      `  ProxySession.progress per call:            ${perCallNs.toFixed(0)} ns (the data path; ${calls} calls)`,
      `  heartbeat write of all ${SESSIONS} (batched):  ${batchMs.toFixed(1)} ms median, every 2 s = ${((batchMs / 2000) * 100).toFixed(2)}% of one core; one stall (${PROGRESS_BATCH} rows) ${median(stalls).toFixed(1)} ms median, ${Math.max(...stalls).toFixed(1)} ms longest`,
      `  baseline, one durable transaction each:    ${naiveMs.toFixed(0)} ms  -> batched is ${(naiveMs / batchMs).toFixed(0)}x cheaper`,
      `  list of all ${count} live sessions:          ${median(listed).toFixed(1)} ms median (baseline: one row by key ${median(keyed).toFixed(3)} ms, ratio ${(median(listed) / median(keyed)).toFixed(0)}x)`,
    ].join('\n') + '\n',
  );
  for (const s of sessions) await s.close({ reason: 'bench' });
} finally {
  await a.close();
  home.cleanup();
}
