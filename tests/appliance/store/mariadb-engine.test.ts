// The MariaDB engine on a real mariadbd (tests/helpers/mariadb.ts), whatever WARDEN_TEST_STORE says: types and
// typed errors as SQLite gives them, the collation it insists on, host failover, the config section and its
// password file, migrations under Galera (wsrep on), the session search giving SQLite's results on the same
// data, copies between the engines, and concurrent writers through two pools losing nothing.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { sql } from 'kysely';
import { Store, MIGRATIONS, isStoreConstraint, isUniqueViolation, fulltextWords, copyDatabase, type MariaDbStoreOptions, type Repositories, type SessionSearchQuery } from '../../../appliance/store/index.js';
import { buildConfig } from '../../../appliance/config/index.js';
import { AuditTrail } from '../../../appliance/audit/index.js';
import { softwareChainKey, tempDir } from '../../helpers/fixtures.js';
import { freePort, startMariaDb, testMariaDb, type MariaDbServer } from '../../helpers/mariadb.js';

const NOW = Date.UTC(2026, 10, 23, 9, 0, 0);

async function addUser(repos: Repositories, username: string): Promise<number> {
  return repos.users.insert({ username, full_name: username, email: '', profile: 'user', language: 'en', password_hash: 'x', password_changed_at: NOW, must_change_password: true, status: 'active', failed_attempts: 0, locked_at: null, last_login_at: null, created_at: NOW, updated_at: NOW });
}

/** Users, a device, a credential, two sessions with commands and output: the same rows on any store. */
async function seedSessions(store: Store): Promise<void> {
  await store.transaction(async (repos) => {
    const ana = await addUser(repos, 'ana');
    const bob = await addUser(repos, 'bob');
    const deviceId = await repos.devices.insertDevice({ hostname: 'db01', address: '127.0.0.21', vendor_id: null, type_id: null, model_id: null, site_id: null, field1: '', field2: '', domain: '', connectivity: 'SSH:22', status: 'active', created_at: NOW, updated_at: NOW });
    const credentialId = await repos.credentials.insertCredential({ device_id: deviceId, kind: 'local', username: 'root', secret_kind: 'password', secret_sealed: '', domain: '', extra_info: '', labels: '[]', owner: '', auto_change: false, status_control: false, split_view: true, status: 'active', created_at: NOW, updated_at: NOW });
    const commands = [
      'cat /etc/passwd',
      'cat /etc/mypasswd.bak',
      'RM -RF /var/lib/old',
      'rm -rf /tmp/x',
      'grep -i "the end" notes.txt',
      'echo 100% done_now',
      'sudo systemctl restart nginx',
      "echo don't stop",
      'ls',
      'vi café.txt',
    ];
    for (const [i, user] of [
      [0, { id: ana, name: 'ana' }],
      [1, { id: bob, name: 'bob' }],
    ] as const) {
      const id = `00000000-0000-4000-8000-00000000000${i}`;
      await repos.proxySessions.insert({ id, user_id: user.id, username: user.name, device_id: deviceId, hostname: 'db01', credential_id: credentialId, credential_username: 'root', protocol: 'ssh', source_ip: '127.0.0.9', reason: '', rule: 'group', group_id: null, grant_id: null, emergency: i === 1, status: 'closed', started_at: NOW + i, ended_at: NOW + 1000, end_reason: 'client', bytes_in: 2 ** 40 + i, bytes_out: 5, exit_status: 0 });
      await repos.sessionCommands.appendCommands(commands.map((command, j) => ({ sessionId: id, at: NOW + i * 100 + j, offsetMs: j, command: i === 1 ? command.toUpperCase() : command, exitStatus: j % 2 ? 1 : null, action: 'allow' as const })));
      await repos.sessionCommands.appendOutput([
        { sessionId: id, at: NOW + i * 100, offsetMs: 1, text: 'root:x:0:0:root:/root:/bin/bash\nwhich is the end of it' },
        { sessionId: id, at: NOW + i * 100 + 1, offsetMs: 2, text: `token ${'A'.repeat(120)} issued` },
      ]);
    }
  });
}

describe('MariaDB engine', () => {
  let server: MariaDbServer;
  let store: Store;
  before(async () => {
    server = await testMariaDb();
    store = await Store.open(await server.freshDatabase());
  });
  after(async () => store?.close());

  test('flags come back as booleans, epoch-ms bigints as numbers, and names compare byte for byte', async () => {
    const id = await addUser(store.repos, 'alice');
    const u = await store.repos.users.byId(id);
    assert.equal(u!.must_change_password, true);
    assert.equal(typeof u!.created_at, 'number');
    assert.equal(u!.created_at, NOW);
    assert.equal(await store.repos.users.byUsername('ALICE'), undefined, 'utf8mb4_bin: no case folding on equality');
    assert.equal((await store.repos.users.byUsername('alice'))!.id, id);
  });

  test('refusals are typed and name the table and columns, as on SQLite (MariaDB names only the key)', async () => {
    await assert.rejects(addUser(store.repos, 'alice'), (e) => isUniqueViolation(e, { table: 'users', column: 'username' }));
    const row = { seq: 1, ts: NOW, type: 't', outcome: 'info', actor: null, actor_ip: null, subject: null, code: null, detail: '{}', prev_hash: '0'.repeat(64), hash: '1'.repeat(64), node_id: null };
    await store.repos.auditEvents.insert(row);
    // The collision Store.transaction retries: two writers that took the same place in the chain.
    await assert.rejects(store.repos.auditEvents.insert(row), (e) => isUniqueViolation(e, { table: 'audit_events', column: 'seq' }) && !isUniqueViolation(e, { table: 'users' }));
    await store.db.deleteFrom('audit_events').execute();
    await assert.rejects(store.repos.passwordHistory.add(999_999, 'h', NOW), (e) => isStoreConstraint(e, 'foreign-key', { table: 'password_history', column: 'user_id' }));
  });

  test('the throttle upsert starts a new window only once the old one has passed', async () => {
    const opts = { limit: 2, windowMs: 1000, now: NOW };
    assert.equal(await store.repos.loginThrottle.reserve('ip:127.0.0.5', opts), true);
    assert.equal(await store.repos.loginThrottle.reserve('ip:127.0.0.5', opts), true);
    assert.equal(await store.repos.loginThrottle.reserve('ip:127.0.0.5', { ...opts, now: NOW + 500 }), false);
    assert.equal(await store.repos.loginThrottle.reserve('ip:127.0.0.5', { ...opts, now: NOW + 1000 }), true);
    assert.equal((await store.repos.loginThrottle.get('ip:127.0.0.5'))!.failures, 1);
  });

  test('every table has a primary key (Galera replicates rows by it)', async () => {
    const db = (await sql<{ d: string }>`SELECT DATABASE() AS d`.execute(store.db)).rows[0]!.d;
    const missing = await server.admin(
      "SELECT t.TABLE_NAME FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = ? AND NOT EXISTS (SELECT 1 FROM information_schema.TABLE_CONSTRAINTS c WHERE c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME AND c.CONSTRAINT_TYPE = 'PRIMARY KEY')",
      [db],
    );
    assert.deepEqual(missing, []);
  });

  test('a database without the binary collation is refused', async () => {
    const opts = await server.freshDatabase();
    await server.admin(`ALTER DATABASE \`${opts.mariadb.database}\` COLLATE utf8mb4_general_ci`);
    await assert.rejects(Store.open(opts), (e: Error & { code?: string }) => e.code === 'STORE_UNAVAILABLE' && /utf8mb4_bin/.test(e.message));
  });

  test('a host that is down is passed over for the next one in the list', async () => {
    const opts = await server.freshDatabase();
    const down = await freePort();
    const other = await Store.open({ ...opts, mariadb: { ...opts.mariadb, hosts: [{ host: '127.0.0.1', port: down }, ...opts.mariadb.hosts] } });
    try {
      await other.transaction((repos) => repos.meta.set('failover', 'ok'));
      assert.equal(await other.repos.meta.get('failover'), 'ok');
    } finally {
      await other.close();
    }
  });

  test('a pooled connection found dead at its next read: the read is sent again through the next host', async () => {
    // A relay in front of the server plays the first host. When it "dies", its open connections say nothing
    // until they are used (as after a crash across a network, before any socket hears of it), then reset;
    // new connections to it are refused.
    const opts = await server.freshDatabase();
    const target = opts.mariadb.hosts[0]!;
    const open = new Set<net.Socket>();
    let dead = false;
    const relay = net.createServer((client) => {
      if (dead) return client.resetAndDestroy();
      const upstream = net.connect(target.port, target.host);
      open.add(client);
      client.on('close', () => open.delete(client));
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      upstream.pipe(client);
      client.on('data', (d) => (dead ? (client.resetAndDestroy(), upstream.destroy()) : upstream.write(d)));
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const relayPort = (relay.address() as net.AddressInfo).port;
    const store = await Store.open({ ...opts, mariadb: { ...opts.mariadb, hosts: [{ host: '127.0.0.1', port: relayPort }, target] } });
    try {
      await store.transaction((repos) => repos.meta.set('k', 'v'));
      assert.equal(await store.repos.meta.get('k'), 'v');
      assert.ok(open.size > 0, 'the pool holds a connection through the relay');
      dead = true;
      relay.close();
      assert.equal(await store.repos.meta.get('k'), 'v', 'a read outside a transaction');
      await store.transaction((repos) => repos.meta.set('k', 'w'));
      assert.equal(await store.repos.meta.get('k'), 'w');
    } finally {
      await store.close();
      for (const c of open) c.destroy();
    }
  });

  test('a host that stops answering without closing its sockets: the read times out and goes to the next host', { timeout: 30_000 }, async () => {
    // The relay forwards until it is told to swallow: then its connections stay open and silent (a host gone
    // from the network), and new connections to it are accepted and never answered.
    const opts = await server.freshDatabase();
    const target = opts.mariadb.hosts[0]!;
    const sockets = new Set<net.Socket>();
    let silent = false;
    const relay = net.createServer((client) => {
      sockets.add(client);
      client.on('error', () => undefined);
      if (silent) return;
      const upstream = net.connect(target.port, target.host);
      sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      upstream.on('data', (d) => (silent ? undefined : client.write(d)));
      client.on('data', (d) => (silent ? undefined : upstream.write(d)));
      client.on('close', () => upstream.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const relayPort = (relay.address() as net.AddressInfo).port;
    const store = await Store.open({ ...opts, mariadb: { ...opts.mariadb, hosts: [{ host: '127.0.0.1', port: relayPort }, target], statementTimeoutMs: 1500, connectionLimit: 2 } });
    try {
      await store.transaction((repos) => repos.meta.set('k', 'v'));
      silent = true;
      const started = Date.now();
      assert.equal(await store.repos.meta.get('k'), 'v', 'answered through the next host');
      const waited = Date.now() - started;
      assert.ok(waited >= 1000 && waited < 15_000, `after about the statement timeout, not TCP's (${waited} ms)`);
    } finally {
      await store.close();
      relay.close();
      for (const c of sockets) c.destroy();
    }
  });

  test('warden.json store.mariadb: parsed, its password read from a private file only', async () => {
    const tmp = tempDir();
    try {
      const opts = await server.freshDatabase();
      const passwordFile = path.join(tmp.dir, 'mariadb.password');
      writeFileSync(passwordFile, `${opts.mariadb.password}\n`, { mode: 0o644 });
      const raw = { store: { engine: 'mariadb', mariadb: { hosts: [{ host: '127.0.0.1', port: server.port }], user: opts.mariadb.user, database: opts.mariadb.database, passwordFile: 'mariadb.password' } } };
      const config = buildConfig(raw, tmp.dir);
      assert.equal(config.store.engine, 'mariadb');
      assert.ok(config.store.engine === 'mariadb' && config.store.mariadb.passwordFile === passwordFile);
      await assert.rejects(Store.open(config.store), (e: Error & { code?: string }) => e.code === 'CONFIG_INVALID' && /mode 644/.test(e.message));
      chmodSync(passwordFile, 0o600);
      const opened = await Store.open(config.store);
      assert.equal(opened.engineName, 'mariadb');
      await opened.close();
      assert.throws(() => buildConfig({ store: { engine: 'mariadb' } }, tmp.dir), /needs store.mariadb/);
      assert.throws(() => buildConfig({ store: { engine: 'sqlite', mariadb: {} } }, tmp.dir), /only for store.engine mariadb/);
      assert.throws(() => buildConfig({ store: { engine: 'postgres' } }, tmp.dir), /sqlite or mariadb/);
      assert.throws(() => buildConfig({ store: { engine: 'mariadb', mariadb: { ...raw.store.mariadb, hosts: [] } } }, tmp.dir), /1 to 16/);
    } finally {
      tmp.cleanup();
    }
  });
});

describe('MariaDB engine on Galera (single node, wsrep on)', () => {
  let galera: MariaDbServer;
  before(async () => (galera = await startMariaDb({ wsrep: true })));
  after(async () => galera?.stop());

  test('two stores migrating one new database at once (Kysely takes GET_LOCK, kept with wsrep on) both open it', async () => {
    const opts = await galera.freshDatabase();
    const [a, b] = await Promise.all([Store.open(opts), Store.open(opts)]);
    try {
      const applied = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM kysely_migration`.execute(a.db);
      assert.equal(Number(applied.rows[0]!.n), Object.keys(MIGRATIONS).length);
      // Causal reads: a read on this node waits for what the cluster committed before it.
      const wait = await sql<{ w: number }>`SELECT @@SESSION.wsrep_sync_wait AS w`.execute(a.db);
      assert.equal(Number(wait.rows[0]!.w), 1);
      await a.transaction((repos) => repos.meta.set('galera', 'yes'));
      assert.equal(await b.repos.meta.get('galera'), 'yes');
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('session search: MariaDB gives what SQLite gives on the same rows', () => {
  let tmp: ReturnType<typeof tempDir>;
  let lite: Store;
  let maria: Store;
  before(async () => {
    tmp = tempDir();
    lite = await Store.open({ sqlitePath: path.join(tmp.dir, 'w.db') });
    maria = await Store.open(await (await testMariaDb()).freshDatabase());
    await seedSessions(lite);
    await seedSessions(maria);
  });
  after(async () => {
    await lite?.close();
    await maria?.close();
    tmp?.cleanup();
  });

  test('only whole words inside the needle narrow through FULLTEXT', () => {
    assert.equal(fulltextWords('cat /etc/passwd'), '+etc');
    assert.equal(fulltextWords('passwd'), undefined, 'one word may be part of a longer one');
    assert.equal(fulltextWords('rm -rf /'), undefined, 'rf is shorter than the FULLTEXT token size');
    assert.equal(fulltextWords('sudo systemctl restart nginx'), '+systemctl +restart');
    assert.equal(fulltextWords("x don't y"), undefined, 'an apostrophe belongs to the word in InnoDB');
  });

  const needles: SessionSearchQuery[] = [
    { command: 'cat /etc/passwd', limit: 50 },
    { command: 'passwd', limit: 50 },
    { command: 'rm -rf', limit: 50 },
    { command: 'RM', limit: 50 },
    { command: 'rm', limit: 50, user: 'ana' },
    { command: 'ls', limit: 50 },
    { command: '"the end"', limit: 50 },
    { command: ' the ', limit: 50 },
    { command: '100%', limit: 50 },
    { command: 'done_now', limit: 50 },
    { command: '_', limit: 50 },
    { command: 'sudo systemctl restart', limit: 3 },
    { command: "don't", limit: 50 },
    { command: 'café', limit: 50 },
    { command: 'nothing like this', limit: 50 },
    { command: 'cat', limit: 50, device: '127.0.0.21', since: NOW + 100 },
    { text: 'the end', limit: 50 },
    { text: 'root:x', limit: 50 },
    { text: 'AAAA', limit: 50 },
    { text: ' which is ', limit: 1 },
    { command: 'cat', text: 'bin/bash', limit: 50, user: 'bob' },
  ];
  for (const q of needles) {
    test(`same hits for ${JSON.stringify(q)}`, async () => {
      const a = await lite.repos.sessionSearch.search(q);
      const b = await maria.repos.sessionSearch.search(q);
      assert.deepEqual(b, a);
      if (q.command === 'cat /etc/passwd') assert.equal(a.length, 2, 'the case the FULLTEXT narrowing serves finds both sessions');
    });
  }
});

describe('copyDatabase between the engines', () => {
  let tmp: ReturnType<typeof tempDir>;
  before(() => (tmp = tempDir()));
  after(() => tmp?.cleanup());

  test('SQLite → MariaDB → SQLite (snapshotTo): every row, counted, with progress; the audit chain verifies on each', async () => {
    const key = softwareChainKey();
    const lite = await Store.open({ sqlitePath: path.join(tmp.dir, 'source.db') });
    await seedSessions(lite);
    const liteAudit = new AuditTrail(lite, { key });
    for (let i = 0; i < 30; i++) await liteAudit.record({ type: 'auth.login', outcome: 'success', actor: `u${i}`, detail: { attempts: i } });
    const maria = await Store.open(await (await testMariaDb()).freshDatabase());
    const progress: string[] = [];
    const result = await copyDatabase(lite, maria, { batchRows: 7, onProgress: (t, done, total) => progress.push(`${t}:${done}/${total}`) });
    const rows = Object.fromEntries(result.tables.map((t) => [t.name, t.rows]));
    assert.equal(rows.audit_events, 30);
    assert.equal(rows.session_commands, 20);
    assert.equal(rows.users, 2);
    assert.equal(rows.change_feed_head, 1);
    assert.ok(!('session_commands_fts' in rows), 'SQLite-only tables stay behind');
    assert.ok(progress.includes('audit_events:0/30') && progress.includes('audit_events:30/30'));
    assert.deepEqual(await new AuditTrail(maria, { key }).verify(), { ok: true, rows: 30, lastSeq: 30, anchors: 0, nodes: { '': 30 } });
    assert.equal((await maria.repos.proxySessions.byId('00000000-0000-4000-8000-000000000001'))!.emergency, true);
    assert.equal((await maria.repos.sessionSearch.search({ command: 'cat /etc/passwd', limit: 10 })).length, 2);
    // New rows go on after the copied ids.
    assert.ok((await addUser(maria.repos, 'carol')) > 2);
    await assert.rejects(copyDatabase(lite, maria), /already holds an appliance/);

    const back = path.join(tmp.dir, 'back.db');
    writeFileSync(back, '', { mode: 0o600 });
    await maria.snapshotTo(back);
    const copy = await Store.open({ sqlitePath: back });
    try {
      assert.equal(await copy.repos.users.count(), 3);
      assert.deepEqual(await new AuditTrail(copy, { key }).verify(), { ok: true, rows: 30, lastSeq: 30, anchors: 0, nodes: { '': 30 } });
      assert.deepEqual(await copy.repos.sessionSearch.search({ command: 'rm -rf', limit: 10 }), await lite.repos.sessionSearch.search({ command: 'rm -rf', limit: 10 }));
    } finally {
      await copy.close();
      await maria.close();
      await lite.close();
    }
  });
});

describe('concurrent writers through two pools (two Store instances) on one MariaDB database', () => {
  test('a read-then-write counter and audit appends: nothing lost, conflicts retried, one chain', async (t) => {
    const opts: MariaDbStoreOptions = await (await testMariaDb()).freshDatabase();
    const one = await Store.open(opts);
    const two = await Store.open(opts);
    const key = softwareChainKey();
    const audits = [new AuditTrail(one, { key }), new AuditTrail(two, { key })];
    const stores = [one, two];
    let runs = 0;
    // 30 writers on one row is a pathological hot spot under SERIALIZABLE (most runs deadlock and run again):
    // enough to show nothing is lost; a larger budget of runs than the default keeps it steady on a loaded CI.
    const N = 15;
    try {
      await Promise.all(
        Array.from({ length: 2 * N }, (_, i) =>
          stores[i % 2]!.transaction(async (repos) => {
            runs++;
            // A check-then-write: without SERIALIZABLE's shared lock two writers would read the same value.
            const n = Number((await repos.meta.get('counter')) ?? '0');
            await repos.meta.set('counter', String(n + 1));
            await audits[i % 2]!.record({ type: 'settings.change', outcome: 'info', detail: { changes: { i } } }, repos);
          }, { attempts: 40 }),
        ),
      );
      const retries = runs - 2 * N;
      t.diagnostic(`${2 * N} transactions, ${retries} runs again after a conflict`);
      assert.equal(await one.repos.meta.get('counter'), String(2 * N));
      assert.deepEqual(await audits[1]!.verify(), { ok: true, rows: 2 * N, lastSeq: 2 * N, anchors: 0, nodes: { '': 2 * N } });
      assert.ok(retries > 0, 'writers on one row collided and were run again');
    } finally {
      await one.close();
      await two.close();
    }
  });

  test("one process's writers take turns: 40 at once on one row and the audit head, not one deadlock or rerun", async (t) => {
    const opts: MariaDbStoreOptions = await (await testMariaDb()).freshDatabase();
    const store = await Store.open(opts);
    const audit = new AuditTrail(store, { key: softwareChainKey() });
    let runs = 0;
    const N = 40;
    try {
      // Without the turns, each would take SERIALIZABLE's shared lock on the counter and then want it
      // exclusively: InnoDB deadlocks most of them and they run again (and with 3 runs, some fail).
      await Promise.all(
        Array.from({ length: N }, (_, i) =>
          store.transaction(async (repos) => {
            runs++;
            const n = Number((await repos.meta.get('counter')) ?? '0');
            await repos.meta.set('counter', String(n + 1));
            await audit.record({ type: 'settings.change', outcome: 'info', detail: { changes: { i } } }, repos);
          }, { attempts: 3 }),
        ),
      );
      t.diagnostic(`${N} transactions in ${runs} runs`);
      assert.equal(runs, N, 'no transaction had to run again');
      assert.equal(await store.repos.meta.get('counter'), String(N));
      assert.equal((await audit.verify()).ok, true);
    } finally {
      await store.close();
    }
  });
});
