// make bench — the store on a 3-node MariaDB Galera cluster (loopback, TLS replication) against a single
// SQLite appliance, both measured in the same run, through the real web daemon:
//  - logins/s (password, production Argon2id cost): SQLite appliance vs a daemon on node 1 vs two daemons on
//    nodes 1 and 2 at once (the same total concurrency, split);
//  - credential reads/s (POST /api/v1/credentials/:id/view: decision, unwrap on the token, AES-GCM, an audit
//    row written): the same three;
//  - replication lag: a marker row committed on node 1, polled on node 2 (wsrep_sync_wait=0: what node 2
//    has applied, not what it would wait for), idle and while credential reads write audit rows through node 1.
// Figures are printed with their baseline and as ratios; nothing is asserted.
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { strongPassword, tempDir, type InitializedHome } from '../tests/helpers/fixtures.js';
import { ApiClient, startWebDaemon, type RunningDaemon } from '../tests/helpers/web-daemon.js';
import { startGaleraLab, type GaleraLab } from '../tests/helpers/galera.js';
import { initializeAppliance } from '../appliance/provision/index.js';
import { hashPassword } from '../appliance/auth/index.js';
import { DEFAULT_ARGON2, loadConfig } from '../appliance/config/index.js';
import { Store } from '../appliance/store/index.js';
import { createAppDatabase, generatePassword } from '../appliance/cluster/index.js';
import { LeanClient } from './lean-client.js';
import { cpuMs } from './proc-stats.js';
import { measure, merge, percentile, type Figures } from './figures.js';

const CONCURRENCY = 8;
const ROUNDS = 3;
const LOGINS_PER_ROUND = 48;
const VIEWS_PER_ROUND = 240;
const MARKERS = 200;
const IDLE_MARKERS = 100;

/** Every web daemon this run started (stopped at the end, killed on an interrupt). */
const daemons: RunningDaemon[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (line: string) => process.stdout.write(`bench: ${line}\n`);

interface Target {
  name: string;
  home: InitializedHome;
  daemon?: RunningDaemon;
  admin?: ApiClient;
  /** Accounts for the login rounds, each logging in once (a login replacing a live session is another case). */
  loginUsers: string[];
  /** Password viewers, each with its own session (one session per account). */
  viewers: { username: string; id: number; client?: ApiClient }[];
  credentialId?: number;
}

/**
 * Accounts written straight into the store before the daemon starts (setup, not measured): one Argon2id hash of
 * the production cost for all of them, no password change pending, so each measured login costs one verify.
 */
async function seedAccounts(t: Target, hash: string, logins: number, viewers: number): Promise<void> {
  const store = await Store.open(loadConfig({ WARDEN_HOME: t.home.home, WARDEN_CONFIG: t.home.configFile }).store);
  try {
    const now = Date.now();
    const row = (username: string, profile: string) => ({ username, full_name: username, email: '', profile, language: 'en-US', password_hash: hash, password_changed_at: now, must_change_password: false, status: 'active' as const, failed_attempts: 0, locked_at: null, last_login_at: null, created_at: now, updated_at: now });
    await store.transaction(async (repos) => {
      for (let i = 0; i < logins; i++) {
        const username = `${t.name}-login${i}`;
        await repos.users.insert(row(username, 'auditor'));
        t.loginUsers.push(username);
      }
      for (let i = 0; i < viewers; i++) {
        const username = `${t.name}-viewer${i}`;
        t.viewers.push({ username, id: await repos.users.insert(row(username, 'password-viewer')) });
      }
    });
  } finally {
    await store.close();
  }
}

/** Through the API as an administrator: a device, a sealed credential, and a group letting the viewers see it. */
async function setUpVault(t: Target, adminPassword: string, oneTime: string): Promise<void> {
  const admin = new ApiClient(t.daemon!);
  await admin.loginAndChange('admin', oneTime, adminPassword);
  const device = await admin.call('POST', '/api/v1/devices', { hostname: `db-${t.name}`, address: '127.0.0.1', connectivity: 'SSH:22' });
  if (device.status !== 201) throw new Error(`device: ${device.status} ${device.body}`);
  const cred = await admin.call('POST', '/api/v1/credentials', { deviceId: device.json.device.id, username: 'root', secret: `S3cret-${t.name}-${'x'.repeat(24)}` });
  if (cred.status !== 201) throw new Error(`credential: ${cred.status} ${cred.body}`);
  t.credentialId = cred.json.credential.id;
  const group = await admin.call('POST', '/api/v1/access-groups', {
    name: `view-${t.name}`,
    sessionAllowed: false,
    passwordViewAllowed: true,
    reasonRequired: false,
    userIds: t.viewers.map((v) => v.id),
    deviceIds: [device.json.device.id],
    credentialIds: [t.credentialId],
  });
  if (group.status !== 201) throw new Error(`group: ${group.status} ${group.body}`);
  t.admin = admin;
}

async function logViewersIn(viewers: Target['viewers'], d: RunningDaemon, password: string): Promise<void> {
  for (const v of viewers) {
    v.client = new ApiClient(d);
    const r = await v.client.login(v.username, password);
    if (r.status !== 200) throw new Error(`viewer login ${v.username}: ${r.status} ${r.body}`);
  }
}

/** Each worker logs in users from its own slice of the list, on its daemon (round-robin over `clients`). */
async function loginRound(clients: LeanClient[], users: string[], password: string): Promise<Figures> {
  const per = CONCURRENCY / clients.length;
  return measure(users.length, CONCURRENCY, async (i, worker) => {
    const status = await clients[Math.floor(worker / per)]!.post('/api/v1/auth/login', JSON.stringify({ username: users[i], password }));
    if (status !== 200) throw new Error(`login ${users[i]}: ${status}`);
  });
}

/** Worker w views the credential as viewer w of its daemon's target. */
async function viewRound(parts: { client: LeanClient; target: Target; viewers: Target['viewers'] }[], count: number): Promise<Figures> {
  const per = CONCURRENCY / parts.length;
  return measure(count, CONCURRENCY, async (_, worker) => {
    const part = parts[Math.floor(worker / per)]!;
    const v = part.viewers[worker % per]!;
    const status = await part.client.post(`/api/v1/credentials/${part.target.credentialId}/view`, '{}', { cookie: v.client!.cookie, 'x-csrf-token': v.client!.csrf });
    if (status !== 200) throw new Error(`view by ${v.username}: ${status}`);
  });
}

interface Lag {
  p50: number;
  p99: number;
  max: number;
  commitP50: number;
}

/** Marker rows committed on node 1 one at a time; for each, node 2 is polled until it has applied it. */
async function replicationLag(lab: GaleraLab, count: number, firstId: number): Promise<Lag> {
  const writer = await mysql.createConnection({ socketPath: lab.nodes[0]!.layout.socket, user: 'root' });
  const reader = await mysql.createConnection({ socketPath: lab.nodes[1]!.layout.socket, user: 'root' });
  try {
    await reader.query('SET SESSION wsrep_sync_wait = 0');
    const lags: number[] = [];
    const commits: number[] = [];
    for (let i = 0; i < count; i++) {
      const id = firstId + i;
      const t0 = performance.now();
      await writer.query('INSERT INTO bench_scratch.marks (id, at) VALUES (?, ?)', [id, Date.now()]);
      const committed = performance.now();
      commits.push(committed - t0);
      for (;;) {
        const [rows] = await reader.query<mysql.RowDataPacket[]>('SELECT 1 FROM bench_scratch.marks WHERE id = ?', [id]);
        if (rows.length > 0) break;
      }
      lags.push(performance.now() - committed);
      // Markers spread over the load, not back to back.
      await sleep(5);
    }
    lags.sort((a, b) => a - b);
    commits.sort((a, b) => a - b);
    return { p50: percentile(lags, 50), p99: percentile(lags, 99), max: lags[lags.length - 1]!, commitP50: percentile(commits, 50) };
  } finally {
    await writer.end();
    await reader.end();
  }
}


/** What a round cost besides its time: CPU of the web daemons and of the three database servers, Galera's counters. */
interface Cost {
  ops: number;
  daemonMs: number;
  databaseMs: number;
  /** Write sets replicated by the nodes (one per committed write transaction). */
  writeSets: number;
  /** Certification failures and brute-force aborts: transactions rolled back by a conflict with another node (retried). */
  conflicts: number;
}

class Accounting {
  private readonly status: mysql.Connection[] = [];
  readonly costs = new Map<string, Cost>();
  constructor(
    private readonly lab: GaleraLab,
    private readonly daemonPids: Map<string, number>,
  ) {}

  static async open(lab: GaleraLab, daemonPids: Map<string, number>): Promise<Accounting> {
    const a = new Accounting(lab, daemonPids);
    for (const n of lab.nodes) a.status.push(await mysql.createConnection({ socketPath: n.layout.socket, user: 'root' }));
    return a;
  }

  private async galera(): Promise<{ writeSets: number; conflicts: number }> {
    let writeSets = 0;
    let conflicts = 0;
    for (const c of this.status) {
      const [rows] = await c.query<mysql.RowDataPacket[]>("SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_replicated', 'wsrep_local_cert_failures', 'wsrep_local_bf_aborts')");
      for (const r of rows) {
        if (r.Variable_name === 'wsrep_replicated') writeSets += Number(r.Value);
        else conflicts += Number(r.Value);
      }
    }
    return { writeSets, conflicts };
  }

  private cpu(daemons: string[]): { daemonMs: number; databaseMs: number } {
    const daemonMs = daemons.reduce((n, d) => n + cpuMs(this.daemonPids.get(d)!), 0);
    const databaseMs = this.lab.nodes.reduce((n, node) => n + cpuMs(node.pid()!), 0);
    return { daemonMs, databaseMs };
  }

  /** Run a round and add what it cost to `category` (the daemons named are those it loads). */
  async round(category: string, daemons: string[], run: () => Promise<Figures>): Promise<Figures> {
    const g0 = await this.galera();
    const c0 = this.cpu(daemons);
    const f = await run();
    const c1 = this.cpu(daemons);
    const g1 = await this.galera();
    const cost = this.costs.get(category) ?? { ops: 0, daemonMs: 0, databaseMs: 0, writeSets: 0, conflicts: 0 };
    cost.ops += f.count;
    cost.daemonMs += c1.daemonMs - c0.daemonMs;
    cost.databaseMs += c1.databaseMs - c0.databaseMs;
    cost.writeSets += g1.writeSets - g0.writeSets;
    cost.conflicts += g1.conflicts - g0.conflicts;
    this.costs.set(category, cost);
    return f;
  }

  line(category: string, label: string): string {
    const c = this.costs.get(category)!;
    const per = (v: number) => (v / c.ops).toFixed(2);
    const servers = category.endsWith(':s') ? 'database servers (the cluster, idle)' : 'database servers';
    return `${label.padEnd(26)} CPU web daemon(s) ${per(c.daemonMs)} ms, ${servers} ${per(c.databaseMs)} ms; write sets ${per(c.writeSets)}, conflicts rolled back ${c.conflicts}`;
  }

  async close(): Promise<void> {
    for (const c of this.status) await c.end();
  }
}

/** A copy of the cluster appliance's home for a daemon on node 2: what the join ceremony leaves on a node. */
function secondNodeHome(from: InitializedHome, dir: string, lab: GaleraLab): InitializedHome {
  cpSync(from.home, dir, { recursive: true });
  const configFile = path.join(dir, 'warden.json');
  const raw = JSON.parse(readFileSync(configFile, 'utf8'));
  // Its own server first, the others after; its own node id and anchor; its copy of the token (same master
  // key and audit key, as custodian shares and installAuditKeyFromStore give a joiner).
  raw.store.mariadb.hosts = [1, 0, 2].map((i) => ({ host: '127.0.0.1', port: lab.nodes[i]!.ports.mysql }));
  raw.node = { id: randomUUID(), name: 'bench-node2' };
  const anchor = path.join(dir, 'anchor', 'audit-anchor.log');
  cpSync(raw.audit.anchorFile, anchor);
  raw.audit.anchorFile = anchor;
  writeFileSync(configFile, JSON.stringify(raw, null, 2) + '\n', { mode: 0o600 });
  writeFileSync(path.join(dir, 'keys', 'softhsm2.conf'), readFileSync(path.join(dir, 'keys', 'softhsm2.conf'), 'utf8').replace(from.home, dir), { mode: 0o600 });
  return { ...from, home: dir, configFile };
}

async function initialize(dir: string, store?: Parameters<typeof initializeAppliance>[0]['store']) {
  const configFile = path.join(dir, 'warden.json');
  const init = await initializeAppliance({
    home: dir,
    configFile,
    adminUsername: 'admin',
    web: { listen: '127.0.0.1', httpsPort: 0, httpPort: 0, publicHost: '127.0.0.1' },
    anchorFile: path.join(dir, 'anchor', 'audit-anchor.log'),
    ...(store ? { store } : {}),
  });
  return { home: { ...init, home: dir, configFile, cleanup: () => undefined } as unknown as InitializedHome, oneTime: init.oneTimePassword };
}

function rate(name: string, base: Figures, other: Figures, otherName: string): string {
  return `${name}: sqlite ${base.perSecond.toFixed(1)}, ${otherName} ${other.perSecond.toFixed(1)} (${(other.perSecond / base.perSecond).toFixed(2)}x)   p50 ${base.p50.toFixed(1)} vs ${other.p50.toFixed(1)} ms, p99 ${base.p99.toFixed(1)} vs ${other.p99.toFixed(1)} ms`;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const tmp = tempDir('warden-bench-cluster-');
  const clients: LeanClient[] = [];
  let lab: GaleraLab | undefined;
  let accounting: Accounting | undefined;
  try {
    const c = DEFAULT_ARGON2;
    say(`a SQLite appliance and a 3-node Galera cluster (TLS replication, loopback); production Argon2id cost m=${c.memoryKiB} KiB, t=${c.iterations}, p=${c.parallelism}`);
    const sqlite = await initialize(path.join(tmp.dir, 'sqlite'));

    const labStart = performance.now();
    lab = await startGaleraLab({ clusterName: 'warden-bench' });
    say(`Galera lab up in ${((performance.now() - labStart) / 1000).toFixed(1)} s (bootstrap, 2 joins by SST)`);
    const dbPassword = generatePassword();
    await createAppDatabase(lab.nodes[0]!.admin, { database: 'warden', user: 'warden', password: dbPassword, hosts: ['127.0.0.1'] });
    await lab.nodes[0]!.sql('CREATE DATABASE bench_scratch; CREATE TABLE bench_scratch.marks (id INT PRIMARY KEY, at BIGINT NOT NULL) ENGINE=InnoDB;');
    const hosts = lab.nodes.map((n) => ({ host: '127.0.0.1', port: n.ports.mysql }));
    const cluster = await initialize(path.join(tmp.dir, 'node1'), { engine: 'mariadb', mariadb: { hosts, user: 'warden', database: 'warden', password: dbPassword } });

    const password = strongPassword();
    const hash = await hashPassword(password, DEFAULT_ARGON2);
    const S: Target = { name: 'sqlite', home: sqlite.home, loginUsers: [], viewers: [] };
    const A: Target = { name: 'node1', home: cluster.home, loginUsers: [], viewers: [] };
    // Node 2's daemon logs in A's second list and views as its own viewers (a login ends the account's live session elsewhere).
    await seedAccounts(S, hash, ROUNDS * LOGINS_PER_ROUND, CONCURRENCY);
    await seedAccounts(A, hash, 2 * ROUNDS * LOGINS_PER_ROUND, CONCURRENCY + CONCURRENCY / 2);
    const B: Target = { name: 'node2', home: secondNodeHome(cluster.home, path.join(tmp.dir, 'node2'), lab), loginUsers: [], viewers: [] };

    say('starting three web daemons (SQLite; cluster node 1; cluster node 2)...');
    for (const t of [S, A, B]) {
      t.daemon = await startWebDaemon(t.home);
      daemons.push(t.daemon);
    }
    const adminPassword = strongPassword();
    await setUpVault(S, adminPassword, sqlite.oneTime);
    await setUpVault(A, adminPassword, cluster.oneTime);
    B.credentialId = A.credentialId;
    B.viewers = A.viewers.slice(CONCURRENCY);
    A.viewers = A.viewers.slice(0, CONCURRENCY);
    await logViewersIn(S.viewers, S.daemon!, password);
    await logViewersIn(A.viewers, A.daemon!, password);
    await logViewersIn(B.viewers, B.daemon!, password);

    const leanS = await LeanClient.open(S.daemon!, CONCURRENCY);
    const leanA = await LeanClient.open(A.daemon!, CONCURRENCY);
    const leanB = await LeanClient.open(B.daemon!, CONCURRENCY / 2);
    clients.push(leanS, leanA, leanB);

    say('warming up (TLS, JIT, pools)...');
    await viewRound([{ client: leanS, target: S, viewers: S.viewers }], 40);
    await viewRound([{ client: leanA, target: A, viewers: A.viewers }], 40);
    await viewRound([{ client: leanA, target: A, viewers: A.viewers.slice(0, CONCURRENCY / 2) }, { client: leanB, target: B, viewers: B.viewers }], 40);

    // Interleaved rounds: load from neighbours on this shared machine weighs on all three alike.
    say(`measuring: ${ROUNDS} interleaved rounds of ${LOGINS_PER_ROUND} logins and ${VIEWS_PER_ROUND} credential reads each, concurrency ${CONCURRENCY}...`);
    const logins = { s: [] as Figures[], a: [] as Figures[], ab: [] as Figures[] };
    const views = { s: [] as Figures[], a: [] as Figures[], ab: [] as Figures[] };
    const slice = (list: string[], round: number) => list.slice(round * LOGINS_PER_ROUND, (round + 1) * LOGINS_PER_ROUND);
    const acct = await Accounting.open(lab, new Map([['sqlite', S.daemon!.proc.pid!], ['node1', A.daemon!.proc.pid!], ['node2', B.daemon!.proc.pid!]]));
    accounting = acct;
    for (let round = 0; round < ROUNDS; round++) {
      logins.s.push(await acct.round('login:s', ['sqlite'], () => loginRound([leanS], slice(S.loginUsers, round), password)));
      logins.a.push(await acct.round('login:1', ['node1'], () => loginRound([leanA], slice(A.loginUsers, round), password)));
      logins.ab.push(await acct.round('login:2', ['node1', 'node2'], () => loginRound([leanA, leanB], slice(A.loginUsers, ROUNDS + round), password)));
      views.s.push(await acct.round('read:s', ['sqlite'], () => viewRound([{ client: leanS, target: S, viewers: S.viewers }], VIEWS_PER_ROUND)));
      views.a.push(await acct.round('read:1', ['node1'], () => viewRound([{ client: leanA, target: A, viewers: A.viewers }], VIEWS_PER_ROUND)));
      views.ab.push(await acct.round('read:2', ['node1', 'node2'], () => viewRound([{ client: leanA, target: A, viewers: A.viewers.slice(0, CONCURRENCY / 2) }, { client: leanB, target: B, viewers: B.viewers }], VIEWS_PER_ROUND)));
    }

    say(`replication lag: ${IDLE_MARKERS} markers idle, then ${MARKERS} while credential reads write audit rows through node 1...`);
    const idle = await replicationLag(lab, IDLE_MARKERS, 1);
    let loaded: Lag | undefined;
    let background = 0;
    const bgStart = performance.now();
    const stop = { now: false };
    const load = (async () => {
      while (!stop.now) {
        await viewRound([{ client: leanA, target: A, viewers: A.viewers }], 2 * CONCURRENCY);
        background += 2 * CONCURRENCY;
      }
    })();
    try {
      loaded = await replicationLag(lab, MARKERS, IDLE_MARKERS + 1);
    } finally {
      stop.now = true;
      await load;
    }
    const bgRate = background / ((performance.now() - bgStart) / 1000);

    const L = { s: merge(logins.s), a: merge(logins.a), ab: merge(logins.ab) };
    const V = { s: merge(views.s), a: merge(views.a), ab: merge(views.ab) };
    process.stdout.write(
      `\nWarden cluster benchmark (${availableParallelism()} cores shared by all; 3-node MariaDB Galera on loopback vs one SQLite appliance; concurrency ${CONCURRENCY}; ${ROUNDS} interleaved rounds)\n`,
    );
    process.stdout.write(`logins (Argon2id m=${c.memoryKiB},t=${c.iterations},p=${c.parallelism}), per second through the web daemon:\n`);
    process.stdout.write(`  ${rate('logins/s', L.s, L.a, 'cluster (1 daemon, node 1)')}\n`);
    process.stdout.write(`  ${rate('logins/s', L.s, L.ab, 'cluster (2 daemons, nodes 1+2)')}\n`);
    process.stdout.write('credential reads (POST /api/v1/credentials/:id/view: decision, unwrap on the token, AES-GCM, audit row), per second:\n');
    process.stdout.write(`  ${rate('reads/s', V.s, V.a, 'cluster (1 daemon, node 1)')}\n`);
    process.stdout.write(`  ${rate('reads/s', V.s, V.ab, 'cluster (2 daemons, nodes 1+2)')}\n`);
    process.stdout.write(`replication lag node 1 → node 2 (commit returned on 1 → row visible on 2, wsrep_sync_wait=0):\n`);
    process.stdout.write(`  idle:         p50 ${idle.p50.toFixed(2)} ms, p99 ${idle.p99.toFixed(2)} ms, max ${idle.max.toFixed(2)} ms over ${IDLE_MARKERS} markers (commit p50 ${idle.commitP50.toFixed(2)} ms)\n`);
    process.stdout.write(`  under load:   p50 ${loaded!.p50.toFixed(2)} ms, p99 ${loaded!.p99.toFixed(2)} ms, max ${loaded!.max.toFixed(2)} ms over ${MARKERS} markers (commit p50 ${loaded!.commitP50.toFixed(2)} ms; ${bgRate.toFixed(0)} credential reads/s through node 1 meanwhile)\n`);
    process.stdout.write(`  ratio loaded / idle p50 lag: ${(loaded!.p50 / idle.p50).toFixed(2)}x\n`);
    process.stdout.write('per operation (CPU summed over the run\'s rounds; this machine\'s cores are shared by the daemons, the three servers and the load generator):\n');
    const labels = { 'login:s': 'login, sqlite', 'login:1': 'login, cluster 1 daemon', 'login:2': 'login, cluster 2 daemons', 'read:s': 'read, sqlite', 'read:1': 'read, cluster 1 daemon', 'read:2': 'read, cluster 2 daemons' };
    for (const [k, label] of Object.entries(labels)) {
      process.stdout.write(`  ${acct.line(k, label)}\n`);
    }
    process.stdout.write(`(whole bench ${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
  } finally {
    for (const c of clients) c.close();
    await accounting?.close();
    for (const d of daemons) await d.stop();
    await lab?.cleanup();
    tmp.cleanup();
  }
}

// Interrupted: the daemons stopped, and exit through process.exit, so the lab's exit hook kills the servers it
// started (by pid).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const d of daemons) d.proc.kill('SIGTERM');
    process.exit(130);
  });
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${(e as Error).stack}\n`);
  process.exit(1);
});
