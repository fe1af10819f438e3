// Rotation of MariaDB accounts on a real MariaDB server started by the test (TLS with its own certificate): the
// account changes its own password (SET PASSWORD, no privilege needed), a change account with the CREATE USER privilege
// sets it without the old one (ALTER USER 'u'@'h') and reconciles a password changed behind the vault's back;
// the server's certificate is pinned like a host key and a different one refuses before the new password is
// sent; a server without TLS is refused (the new password would cross the network in clear); status control
// logs in the same way. Old passwords stop working, new ones work, nothing secret reaches the audit trail.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import { generatePassword } from '../../appliance/rotation/index.js';
import { initializedHome, tempDir, type InitializedHome } from '../helpers/fixtures.js';
import { mariadbAvailable, startMariaDb, type MariaDbServer } from '../helpers/mariadb.js';

const ADMIN = { username: 'admin', ip: '127.0.0.1' };

function logsIn(server: MariaDbServer, user: string, password: string, tls = true): Promise<boolean> {
  return mysql
    .createConnection({ host: '127.0.0.1', port: server.port, user, password, ...(tls ? { ssl: { rejectUnauthorized: false } } : {}), connectTimeout: 10_000 })
    .then(
      async (c) => (await c.end(), true),
      () => false,
    );
}

describe('rotation of MariaDB accounts (real MariaDB with TLS)', { skip: !mariadbAvailable() && 'no MariaDB server installed', timeout: 180_000 }, () => {
  let home: InitializedHome;
  let a: Appliance;
  let server: MariaDbServer;
  let plain: MariaDbServer;
  let work: ReturnType<typeof tempDir>;
  let deviceId: number;
  const passwords = { app: generatePassword(), dba: generatePassword() };

  before(async () => {
    work = tempDir('warden-rotmysql-');
    const key = path.join(work.dir, 'server.key');
    const cert = path.join(work.dir, 'server.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=db.example.test'], { stdio: 'ignore' });
    [server, plain] = await Promise.all([startMariaDb({ extraArgs: [`--ssl-cert=${cert}`, `--ssl-key=${key}`] }), startMariaDb()]);
    for (const s of [server, plain]) {
      await s.admin(`CREATE USER 'wapp'@'%' IDENTIFIED BY ?`, [passwords.app]);
      await s.admin(`CREATE USER 'wdba'@'%' IDENTIFIED BY ?`, [passwords.dba]);
      await s.admin(`GRANT CREATE USER ON *.* TO 'wdba'@'%'`);
      await s.admin(`GRANT SELECT ON mysql.user TO 'wdba'@'%'`);
      await s.admin(`CREATE USER 'wplain'@'%' IDENTIFIED BY 'Plain-Passw0rd-1'`);
    }
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
    deviceId = (await a.devices.createDevice(ADMIN, { hostname: 'mariadb01', address: '127.0.0.1', connectivity: `MYSQL:${server.port}`, type: 'MariaDB' })).id;
  });

  after(async () => {
    await a?.close();
    await server?.stop();
    await plain?.stop();
    home?.cleanup();
    work?.cleanup();
  });

  const lastRotation = async () => {
    const [ev] = await a.store.repos.auditEvents.query({ type: 'credential.rotate', limit: 1 });
    return { ...ev!, detail: JSON.parse(ev!.detail) as Record<string, unknown> };
  };

  test('the account changes its own password: the new one logs in and is the vault\'s, the old one does not; the certificate is pinned', async () => {
    const id = (await a.credentials.createCredential(ADMIN, { deviceId, username: 'wapp', secret: passwords.app, statusControl: true })).id;
    assert.equal((await a.rotation.checkStatus(id)).state, 'working');
    const pinned = await a.store.repos.hostKeys.pinnedKey(deviceId, 'mysql');
    assert.match(String(pinned?.fingerprint), /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/, 'the server certificate pinned on first use (as RDP pins)');
    const r = await a.rotation.rotate(ADMIN, id);
    assert.equal(r.executor, 'mysql-alter-user');
    const now = await a.credentials.secretOf(id);
    assert.notEqual(now, passwords.app);
    assert.equal(await logsIn(server, 'wapp', now), true);
    assert.equal(await logsIn(server, 'wapp', passwords.app), false);
    const ev = await lastRotation();
    assert.deepEqual(ev.detail, { trigger: 'manual', executor: 'mysql-alter-user', stage: 'committed' });
    assert.ok(!JSON.stringify(ev).includes(now));
  });

  test('a change account (CREATE USER privilege) sets the password without the old one; reconciliation records the drift', async () => {
    const dba = (await a.credentials.createCredential(ADMIN, { deviceId, username: 'wdba', secret: passwords.dba })).id;
    const id = (await a.credentials.createCredential(ADMIN, { deviceId, username: 'wapp', secret: await a.credentials.secretOf(1), changeCredentialId: dba })).id;
    const behind = generatePassword();
    await server.admin(`ALTER USER 'wapp'@'%' IDENTIFIED BY ?`, [behind]);
    const r = await a.rotation.reconcile(ADMIN, id);
    assert.equal(r.drift, true);
    const now = await a.credentials.secretOf(id);
    assert.equal(await logsIn(server, 'wapp', now), true);
    assert.equal(await logsIn(server, 'wapp', behind), false);
    const [ev] = await a.store.repos.auditEvents.query({ type: 'credential.reconcile', limit: 1 });
    assert.deepEqual(JSON.parse(ev!.detail), { trigger: 'manual', executor: 'mysql-alter-user', changeAccount: dba, stage: 'committed', drift: true });
    // Rotation with the change account too; `user@host` names the account when the user has several hosts.
    await server.admin(`CREATE USER 'wapp'@'127.0.0.1' IDENTIFIED BY ?`, [now]);
    await assert.rejects(a.rotation.rotate(ADMIN, id), (e: Error & { details?: Record<string, unknown> }) => e.details?.reason === 'change-refused');
    assert.match(String((await lastRotation()).detail.said), /2 hosts: name one as user@host/);
    await a.credentials.updateCredential(ADMIN, id, { username: 'wapp@127.0.0.1' });
    await a.rotation.rotate(ADMIN, id);
    const rows = await server.admin<{ host: string }[]>(`SELECT Host AS host FROM mysql.user WHERE User = 'wapp' ORDER BY Host`);
    assert.equal(rows.length, 2);
    assert.equal(await logsIn(server, 'wapp', await a.credentials.secretOf(id)), true, 'the 127.0.0.1 account took the new password');
    await server.admin(`DROP USER 'wapp'@'127.0.0.1'`);
  });

  test('a certificate other than the pinned one refuses before the new password is sent', async () => {
    const other = (await a.devices.createDevice(ADMIN, { hostname: 'mariadb02', address: '127.0.0.1', connectivity: `MYSQL:${server.port}`, type: 'MySQL' })).id;
    assert.equal(await a.hostKeys.checkHostKey(other, 'mysql', '00:'.repeat(31) + '00'), 'pinned');
    const id = (await a.credentials.createCredential(ADMIN, { deviceId: other, username: 'wplain', secret: 'Plain-Passw0rd-1' })).id;
    await assert.rejects(a.rotation.rotate(ADMIN, id), (e: Error & { details?: Record<string, unknown> }) => e.details?.reason === 'host-key-mismatch');
    assert.equal(await logsIn(server, 'wplain', 'Plain-Passw0rd-1'), true, 'unchanged');
  });

  test('a server without TLS is refused: the new password would cross the network in clear', async () => {
    const clear = (await a.devices.createDevice(ADMIN, { hostname: 'mariadb03', address: '127.0.0.1', connectivity: `MYSQL:${plain.port}`, type: 'MariaDB' })).id;
    const id = (await a.credentials.createCredential(ADMIN, { deviceId: clear, username: 'wplain', secret: 'Plain-Passw0rd-1' })).id;
    await assert.rejects(a.rotation.rotate(ADMIN, id), (e: Error & { details?: Record<string, unknown> }) => e.details?.reason === 'target-unreachable');
    assert.match(String((await lastRotation()).detail.said), /no TLS/);
    assert.equal(await logsIn(plain, 'wplain', 'Plain-Passw0rd-1', false), true);
  });
});
