// orbit cluster end to end on three real MariaDB Galera nodes on loopback (each a process-runner node with
// its own directory and free ports): init moves a SQLite appliance's data into MariaDB and counts it; two
// fresh appliances join with custodian shares and the sealed bundle (SST by mariabackup over TLS) and read
// the credentials the first one sealed; status; a killed node rejoins by IST; after a full stop, bootstrap
// refuses the wrong node and starts from the right one with nothing lost; leave.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runOrbit } from '../helpers/orbit.js';
import { tempDir, strongPassword, TEST_ARGON2_FLAGS, type InitializedHome } from '../helpers/fixtures.js';
import { ApiClient, startWebDaemon } from '../helpers/web-daemon.js';
import { labPorts } from '../helpers/galera.js';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import { layoutUnder, processControl, readGrastate, serverPid, waitUntilServing, type NodePorts } from '../../appliance/cluster/index.js';

const orbit = runOrbit;

/** This node's running mariadbd (never a stranger that inherited a stale pid file's pid). */
function pidOf(dir: string): number | null {
  return serverPid(layoutUnder(dir));
}

describe('orbit cluster on a 3-node Galera lab', { timeout: 900_000 }, () => {
  const tmp = tempDir('warden-cluster-cli-');
  const homes = [1, 2, 3].map((i) => path.join(tmp.dir, `home${i}`));
  const nodeDirs = [1, 2, 3].map((i) => path.join(tmp.dir, `db${i}`));
  const sharesDir = path.join(tmp.dir, 'shares');
  const bundle = path.join(tmp.dir, 'cluster.bundle');
  const root = path.join(tmp.dir, 'root');
  let ports: NodePorts[] = [];
  let shares: string[] = [];
  const secrets = new Map<number, string>();
  const deviceOf = new Map<number, number>();
  let chiefOneTime = '';
  const nodeFlags = (i: number) => ['--node-name', `node${i + 1}`, '--address', '127.0.0.1', '--node-dir', nodeDirs[i]!, '--mysql-port', String(ports[i]!.mysql), '--gmcast-port', String(ports[i]!.gmcast), '--ist-port', String(ports[i]!.ist), '--sst-port', String(ports[i]!.sst)];

  before(async () => {
    ports = await labPorts(3);
    const r = await orbit(homes[0]!, ['init', '--admin-user', 'chief', '--https-port', '0', '--http-port', '0', ...TEST_ARGON2_FLAGS, '--custodians', '3', '--threshold', '2', '--shares-dir', sharesDir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    shares = JSON.parse(r.stdout).shareFiles;
    chiefOneTime = JSON.parse(r.stdout).oneTimePassword;
    const a = await Appliance.open(loadConfig({ WARDEN_HOME: homes[0]! }));
    try {
      const admin = { username: 'chief', ip: null };
      for (let d = 0; d < 3; d++) {
        const device = await a.devices.createDevice(admin, { hostname: `db0${d}`, address: '127.0.0.1', connectivity: 'SSH:22' });
        const secret = `S3cret-${d}-Ω`;
        const c = await a.credentials.createCredential(admin, { deviceId: device.id, username: 'root', secret });
        secrets.set(c.id, secret);
        deviceOf.set(c.id, device.id);
      }
    } finally {
      await a.close();
    }
    // The firewall policy the join rewrites, as the image ships it.
    const { mkdirSync, copyFileSync } = await import('node:fs');
    mkdirSync(path.join(root, 'etc'), { recursive: true });
    copyFileSync(path.resolve('os-overlay/etc/nftables.conf'), path.join(root, 'etc/nftables.conf'));
  });

  after(async () => {
    for (const d of nodeDirs) {
      const pid = pidOf(d);
      if (pid !== null) process.kill(pid, 'SIGKILL');
    }
    await new Promise((r) => setTimeout(r, 500));
    tmp.cleanup();
  });

  test('--help names the subcommands; a missing flag without a terminal is a usage error (2)', async () => {
    const h = await orbit(homes[0]!, ['cluster', '--help']);
    for (const c of ['init', 'join', 'status', 'leave', 'bootstrap']) assert.match(h.stdout, new RegExp(`\\b${c}\\b`));
    const r = await orbit(homes[1]!, ['cluster', 'join', '127.0.0.1:1', '--bundle', bundle]);
    assert.equal(r.code, 2, r.stderr);
  });

  test('init: bootstrap, the SQLite data moved to MariaDB with counts verified, a bundle written', async () => {
    const r = await orbit(homes[0]!, ['cluster', 'init', '--bundle', bundle, ...nodeFlags(0)]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /verified: \d+ tables, \d+ rows on both sides/);
    assert.match(r.stdout, /credentials\s+3\b/);
    assert.equal(loadConfig({ WARDEN_HOME: homes[0]! }).store.engine, 'mariadb');
    const a = await Appliance.open(loadConfig({ WARDEN_HOME: homes[0]! }));
    try {
      for (const [id, secret] of secrets) assert.equal(await a.credentials.secretOf(id), secret);
    } finally {
      await a.close();
    }
    assert.match(readFileSync(bundle, 'utf8'), /"format": "warden-cluster-join-bundle"/);
    assert.doesNotMatch(readFileSync(bundle, 'utf8'), /BEGIN|PRIVATE KEY/);
  });

  test('join: two fresh appliances with 2 shares each, state transfer, the same credentials decrypt there', async () => {
    for (const i of [1, 2]) {
      const r = await orbit(homes[i]!, ['--root', root, 'cluster', 'join', `127.0.0.1:${ports[0]!.gmcast}`, '--bundle', bundle, '--share', shares[i - 1]!, '--share', shares[2]!, ...nodeFlags(i)]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /Synced/);
    }
    const a = await Appliance.open(loadConfig({ WARDEN_HOME: homes[2]! }));
    try {
      for (const [id, secret] of secrets) assert.equal(await a.credentials.secretOf(id), secret);
      assert.equal((await a.audit.verify()).ok, true);
      // Each node is registered under its own id (peers fetch its recordings there); the joiners got new ones.
      const nodes = await a.store.repos.clusterNodes.list({ activeOnly: true });
      assert.equal(nodes.length, 3);
      assert.equal(new Set(nodes.map((n) => n.id)).size, 3);
      assert.ok(nodes.every((n) => n.id !== 'local'));
      assert.ok(nodes.some((n) => n.id === a.config.node.id));
    } finally {
      await a.close();
    }
    assert.match(readFileSync(path.join(root, 'etc/nftables.conf'), 'utf8'), /elements = \{ 127\.0\.0\.1 \}/);
  });

  test('a join with shares of too few custodians is refused (exit 1) and starts no server', async () => {
    const home = path.join(tmp.dir, 'home-bad');
    const r = await orbit(home, ['cluster', 'join', `127.0.0.1:${ports[0]!.gmcast}`, '--bundle', bundle, '--share', shares[0]!, ...nodeFlags(2).map((f) => (f === nodeDirs[2] ? path.join(tmp.dir, 'db-bad') : f))]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /2 different shares are needed/);
  });

  test('status: 3 members, Synced, ready, last committed seqno; it refreshes the node\'s member list', async () => {
    const first = await orbit(homes[0]!, ['cluster', 'status']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /size 3, Primary, this node \(node1\) Synced, ready/);
    const cnf = readFileSync(layoutUnder(nodeDirs[0]!).configFile, 'utf8');
    for (const p of ports) assert.ok(cnf.includes(`127.0.0.1:${p.gmcast}`), 'node1 knows every member for its next start');
    const r = await orbit(homes[2]!, ['cluster', 'status', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.clusterSize, 3);
    assert.equal(s.localState, 'Synced');
    assert.equal(s.ready, true);
    assert.ok(s.lastCommitted > 0);
    assert.equal(s.incomingAddresses.length, 3);
  });

  test('allow: addresses let through the firewall before they join, listed, taken off again; audited; a lab never touches the host', async () => {
    const rootA = path.join(tmp.dir, 'root-a');
    const { mkdirSync, copyFileSync } = await import('node:fs');
    mkdirSync(path.join(rootA, 'etc'), { recursive: true });
    copyFileSync(path.resolve('os-overlay/etc/nftables.conf'), path.join(rootA, 'etc/nftables.conf'));
    const policy = () => readFileSync(path.join(rootA, 'etc/nftables.conf'), 'utf8');
    const add = await orbit(homes[0]!, ['--root', rootA, 'cluster', 'allow', '127.0.0.7', '127.0.0.5', '::1']);
    assert.equal(add.code, 0, add.stdout + add.stderr);
    assert.match(policy(), /set cluster_peers4 \{[^}]*elements = \{ 127\.0\.0\.1, 127\.0\.0\.5, 127\.0\.0\.7 \}/);
    assert.match(policy(), /set cluster_peers6 \{[^}]*elements = \{ ::1 \}/);
    const list = await orbit(homes[0]!, ['cluster', 'allow', '--list']);
    assert.match(list.stdout, /127\.0\.0\.1\s+member/);
    assert.match(list.stdout, /127\.0\.0\.5\s+allowed/);
    const rm = await orbit(homes[0]!, ['--root', rootA, 'cluster', 'allow', '--remove', '127.0.0.7', '::1']);
    assert.equal(rm.code, 0, rm.stdout + rm.stderr);
    assert.match(policy(), /set cluster_peers4 \{[^}]*elements = \{ 127\.0\.0\.1, 127\.0\.0\.5 \}/);
    assert.doesNotMatch(policy(), /::1/);
    const bad = await orbit(homes[0]!, ['cluster', 'allow', 'db07.example']);
    assert.equal(bad.code, 2, bad.stdout + bad.stderr);
    assert.match(bad.stderr, /not an IP address: db07\.example/);
    // A --node-dir lab without --root: the list changes, the machine's own firewall is left alone.
    const hostPolicy = (() => { try { return readFileSync('/etc/nftables.conf', 'utf8'); } catch { return null; } })();
    const lab = await orbit(homes[0]!, ['cluster', 'allow', '127.0.0.9']);
    assert.equal(lab.code, 0, lab.stdout + lab.stderr);
    assert.match(lab.stdout, /no firewall here/);
    assert.equal((() => { try { return readFileSync('/etc/nftables.conf', 'utf8'); } catch { return null; } })(), hostPolicy);
    await orbit(homes[0]!, ['cluster', 'allow', '--remove', '127.0.0.9']);
    const a = await Appliance.open(loadConfig({ WARDEN_HOME: homes[0]! }));
    try {
      const events = await a.store.db.selectFrom('audit_events').select(['type', 'detail']).where('type', '=', 'cluster.peers_allowed').orderBy('seq').execute();
      assert.equal(events.length, 4);
      assert.deepEqual(JSON.parse(String(events[0]!.detail)).added, ['127.0.0.5', '127.0.0.7', '::1']);
      assert.deepEqual(JSON.parse(String(events[1]!.detail)).removed, ['127.0.0.7', '::1']);
    } finally {
      await a.close();
    }
  });

  test("web daemons on two nodes: a user created through A logs in through B; with A's database killed, logins, decisions and credential reads go on through B; A rejoins by IST", async () => {
    // The joiner's config is the appliance's (443/80 on every address): in a test, free loopback ports.
    const fileB = path.join(homes[1]!, 'warden.json');
    const rawB = JSON.parse(readFileSync(fileB, 'utf8'));
    rawB.web = { ...rawB.web, listen: '127.0.0.1', httpsPort: 0, httpPort: 0, publicHost: '127.0.0.1' };
    writeFileSync(fileB, JSON.stringify(rawB, null, 2));
    const asHome = (i: number) => ({ home: homes[i]!, configFile: path.join(homes[i]!, 'warden.json') }) as unknown as InitializedHome;
    const dA = await startWebDaemon(asHome(0));
    const dB = await startWebDaemon(asHome(1));
    const layoutA = layoutUnder(nodeDirs[0]!);
    try {
      const chief = new ApiClient(dA);
      const chiefPassword = strongPassword();
      await chief.loginAndChange('chief', chiefOneTime, chiefPassword);
      const created = await chief.call('POST', '/api/v1/users', { username: 'ana', fullName: 'Ana', email: 'ana@example.test', profile: 'password-viewer' });
      assert.equal(created.status, 201, created.body);
      const [credId, secret] = [...secrets][0]!;
      const g = await chief.call('POST', '/api/v1/access-groups', { name: 'ana-view', sessionAllowed: false, passwordViewAllowed: true, reasonRequired: true, userIds: [created.json.user.id], deviceIds: [deviceOf.get(credId)], credentialIds: [credId] });
      assert.equal(g.status, 201, g.body);
      const anaPassword = strongPassword();
      const anaB = new ApiClient(dB);
      await anaB.loginAndChange('ana', created.json.oneTimePassword, anaPassword);
      const view = (c: ApiClient) => c.call('POST', `/api/v1/credentials/${credId}/view`, { reason: 'cluster failover drill' });
      assert.deepEqual((await view(anaB)).json, { secret, part: 'whole' });

      // Node A's database dies.
      const ssts = (readFileSync(layoutA.errorLog, 'utf8').match(/Proceeding with SST/g) ?? []).length;
      process.kill(pidOf(nodeDirs[0]!)!, 'SIGKILL');
      while (pidOf(nodeDirs[0]!) !== null) await new Promise((r) => setTimeout(r, 50));
      const again = new ApiClient(dB);
      assert.equal((await again.login('ana', anaPassword)).status, 200, 'a new login through B');
      const seen = await view(again);
      assert.equal(seen.status, 200, seen.body);
      assert.deepEqual(seen.json, { secret, part: 'whole' }, 'the decision and the credential read through B');
      const made = await again.call('GET', '/api/v1/my/devices');
      assert.equal(made.status, 200, made.body);
      // A's own daemon goes on too: its store fails over to B (and C) for reads and writes alike.
      const throughA = new ApiClient(dA);
      const loginA = await throughA.login('ana', anaPassword);
      assert.equal(loginA.status, 200, `a login through A's daemon with A's database down: ${loginA.body}\n${dA.output().slice(-3000)}`);
      const seenA = await view(throughA);
      assert.equal(seenA.status, 200, seenA.body);
      const chiefAgain = new ApiClient(dB);
      assert.equal((await chiefAgain.login('chief', chiefPassword)).status, 200, 'an administrator logs in through B');
      const bob = await chiefAgain.call('POST', '/api/v1/users', { username: 'bob', fullName: 'Bob', email: 'bob@example.test', profile: 'auditor' });
      assert.equal(bob.status, 201, bob.body);

      // A's database comes back by IST and has what was written meanwhile.
      await processControl(layoutA).start();
      await waitUntilServing({ socket: layoutA.socket }, { timeoutMs: 120_000 });
      assert.equal((readFileSync(layoutA.errorLog, 'utf8').match(/Proceeding with SST/g) ?? []).length, ssts, 'no new SST: IST');
      const a = await Appliance.open(loadConfig({ WARDEN_HOME: homes[0]! }));
      try {
        const users = await a.store.db.selectFrom('users').select('username').where('username', '=', 'bob').execute();
        assert.equal(users.length, 1);
      } finally {
        await a.close();
      }
    } finally {
      await dA.stop();
      await dB.stop();
    }
  });

  test('a killed node rejoins by IST and catches up', async () => {
    const layout = layoutUnder(nodeDirs[1]!);
    process.kill(pidOf(nodeDirs[1]!)!, 'SIGKILL');
    while (pidOf(nodeDirs[1]!) !== null) await new Promise((r) => setTimeout(r, 50));
    const a = await Appliance.open(loadConfig({ WARDEN_HOME: homes[0]! }));
    try {
      await a.devices.createDevice({ username: 'chief', ip: null }, { hostname: 'while-b-was-down', address: '127.0.0.1', connectivity: 'SSH:22' });
    } finally {
      await a.close();
    }
    const ssts = (readFileSync(layout.errorLog, 'utf8').match(/Proceeding with SST/g) ?? []).length;
    const control = processControl(layout);
    await control.start();
    await waitUntilServing({ socket: layout.socket }, { timeoutMs: 120_000 });
    assert.equal((readFileSync(layout.errorLog, 'utf8').match(/Proceeding with SST/g) ?? []).length, ssts, 'no new SST');
    const b = await Appliance.open(loadConfig({ WARDEN_HOME: homes[1]! }));
    try {
      assert.ok((await b.devices.listDevices()).some((d) => d.hostname === 'while-b-was-down'));
    } finally {
      await b.close();
    }
  });

  let devicesBeforeStop = 0;
  test('concurrent writes through two nodes are retried, not lost (counted), and the chain stays one', async () => {
    // Each node in its own process (one token per process), writing at once.
    const applianceModule = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../appliance/index.js')).href;
    const N = 15;
    const writer = (home: string, k: number) =>
      new Promise<string>((resolve, reject) => {
        const code = `const { Appliance } = await import(${JSON.stringify(applianceModule)}); const { loadConfig } = await import(${JSON.stringify(applianceModule.replace(/index\.js$/, 'config/index.js'))});
          const a = await Appliance.open(loadConfig(process.env));
          try { await Promise.all(Array.from({ length: ${N} }, (_, i) => a.devices.createDevice({ username: 'chief', ip: null }, { hostname: 'conc-${k}-' + i, address: '127.0.0.1', connectivity: 'SSH:22' }))); } finally { await a.close(); }`;
        execFile(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, WARDEN_HOME: home, WARDEN_CONFIG: path.join(home, 'warden.json') } }, (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(stdout)));
      });
    const count = async (home: string) => {
      const a = await Appliance.open(loadConfig({ WARDEN_HOME: home }));
      try {
        return { devices: (await a.devices.listDevices()).length, verdict: await a.audit.verify() };
      } finally {
        await a.close();
      }
    };
    const before = (await count(homes[0]!)).devices;
    await Promise.all([writer(homes[0]!, 0), writer(homes[1]!, 1)]);
    const onA = await count(homes[0]!);
    const onB = await count(homes[1]!);
    devicesBeforeStop = onB.devices;
    assert.equal(onB.devices, before + 2 * N, 'every write of both nodes landed');
    assert.equal(onA.devices, onB.devices, 'and both nodes see them');
    assert.equal(onA.verdict.ok, true);
    assert.ok(onA.verdict.ok && Object.keys(onA.verdict.nodes).filter((n) => n !== '').length >= 2, 'one chain written by several nodes');
  });

  test('full stop, then bootstrap refuses a node not safe to bootstrap and starts from the last to leave', async () => {
    for (const i of [2, 0, 1]) await processControl(layoutUnder(nodeDirs[i]!)).stop();
    assert.equal(readGrastate(layoutUnder(nodeDirs[1]!))?.safeToBootstrap, true);
    const wrong = await orbit(homes[0]!, ['cluster', 'bootstrap']);
    assert.equal(wrong.code, 1, wrong.stdout);
    assert.match(wrong.stderr, /not marked safe_to_bootstrap/);
    const dry = await orbit(homes[1]!, ['cluster', 'bootstrap', '--dry-run']);
    assert.match(dry.stdout, /safe_to_bootstrap 1/);
    const r = await orbit(homes[1]!, ['cluster', 'bootstrap']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const i of [0, 2]) {
      const layout = layoutUnder(nodeDirs[i]!);
      await processControl(layout).start();
      await waitUntilServing({ socket: layout.socket }, { timeoutMs: 120_000, size: i === 0 ? 2 : 3 });
    }
    const a = await Appliance.open(loadConfig({ WARDEN_HOME: homes[2]! }));
    try {
      const devices = await a.devices.listDevices();
      assert.equal(devices.length, devicesBeforeStop);
    } finally {
      await a.close();
    }
    // The audit chain verifies on every node, each against its own anchor, and says so.
    for (const home of homes) {
      const v = await orbit(home, ['audit', 'verify']);
      assert.equal(v.code, 0, v.stdout + v.stderr);
      assert.match(v.stdout, /audit trail intact/);
      assert.match(v.stdout, /one chain written by [23] nodes/);
    }
  });

  test('leave: recorded, the server stopped, the node no longer a member', async () => {
    const r = await orbit(homes[2]!, ['cluster', 'leave']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(pidOf(nodeDirs[2]!), null);
    const s = await orbit(homes[2]!, ['cluster', 'status']);
    assert.equal(s.code, 1);
    const st = JSON.parse((await orbit(homes[0]!, ['cluster', 'status', '--json'])).stdout);
    assert.equal(st.clusterSize, 2);
    assert.ok(readdirSync(homes[2]!).some((f) => f.startsWith('cluster.left-')));
  });
});
