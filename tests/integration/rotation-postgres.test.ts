// Rotation of PostgreSQL roles on a real PostgreSQL server started by the test (SCRAM-SHA-256 logins, every
// statement logged): the role changes its own password, a CREATEROLE change account sets it without the old one
// and reconciles a password changed behind the vault's back; what reaches the server is the SCRAM verifier, so
// the server's statement log never holds the new password; a change account without CREATEROLE changes nothing.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import { generatePassword } from '../../appliance/rotation/index.js';
import { initializedHome, type InitializedHome } from '../helpers/fixtures.js';
import { postgresBin, startPostgres, type PostgresServer } from '../helpers/postgres.js';

const ADMIN = { username: 'admin', ip: '127.0.0.1' };

async function logsIn(server: PostgresServer, user: string, password: string): Promise<boolean> {
  const c = new pg.Client({ host: '127.0.0.1', port: server.port, user, password, database: 'postgres', connectionTimeoutMillis: 10_000 });
  c.on('error', () => {});
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

describe('rotation of PostgreSQL roles (real PostgreSQL, SCRAM)', { skip: !postgresBin() && 'no PostgreSQL server installed', timeout: 120_000 }, () => {
  let home: InitializedHome;
  let a: Appliance;
  let server: PostgresServer;
  let deviceId: number;
  const passwords = { app: generatePassword(), dba: generatePassword(), weak: generatePassword() };

  before(async () => {
    server = await startPostgres();
    server.admin(`CREATE ROLE wapp LOGIN PASSWORD '${passwords.app}'; CREATE ROLE wdba LOGIN CREATEROLE PASSWORD '${passwords.dba}'; CREATE ROLE wweak LOGIN PASSWORD '${passwords.weak}';`);
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
    deviceId = (await a.devices.createDevice(ADMIN, { hostname: 'pg01', address: '127.0.0.1', connectivity: `POSTGRESQL:${server.port}`, type: 'PostgreSQL' })).id;
  });

  after(async () => {
    await a?.close();
    server?.stop();
    home?.cleanup();
  });

  test('the role changes its own password: the new one logs in, the old one does not, and the server never saw it', async () => {
    const id = (await a.credentials.createCredential(ADMIN, { deviceId, username: 'wapp', secret: passwords.app, statusControl: true })).id;
    assert.equal((await a.rotation.checkStatus(id)).state, 'working');
    const r = await a.rotation.rotate(ADMIN, id);
    assert.equal(r.executor, 'postgres-alter-role');
    const now = await a.credentials.secretOf(id);
    assert.notEqual(now, passwords.app);
    assert.equal(await logsIn(server, 'wapp', now), true);
    assert.equal(await logsIn(server, 'wapp', passwords.app), false);
    const log = server.log();
    assert.match(log, /ALTER ROLE CURRENT_USER PASSWORD 'SCRAM-SHA-256\$4096:/, 'the statement is in the log, with a verifier');
    assert.ok(!log.includes(now), 'the new password is not in the server log');
    assert.equal(server.admin(`SELECT left(rolpassword, 14) FROM pg_authid WHERE rolname = 'wapp'`).trim(), 'SCRAM-SHA-256$');
  });

  test('a CREATEROLE change account sets it without the old one; reconciliation records the drift', async () => {
    const dba = (await a.credentials.createCredential(ADMIN, { deviceId, username: 'wdba', secret: passwords.dba })).id;
    const id = (await a.credentials.createCredential(ADMIN, { deviceId, username: 'wapp', secret: await a.credentials.secretOf(1), changeCredentialId: dba })).id;
    const behind = generatePassword();
    server.admin(`ALTER ROLE wapp PASSWORD '${behind}'`);
    const r = await a.rotation.reconcile(ADMIN, id);
    assert.equal(r.drift, true);
    const now = await a.credentials.secretOf(id);
    assert.equal(await logsIn(server, 'wapp', now), true);
    assert.equal(await logsIn(server, 'wapp', behind), false);
    const [ev] = await a.store.repos.auditEvents.query({ type: 'credential.reconcile', limit: 1 });
    assert.deepEqual(JSON.parse(ev!.detail), { trigger: 'manual', executor: 'postgres-alter-role', changeAccount: dba, stage: 'committed', drift: true });
    assert.ok(!server.log().includes(now));
  });

  test('a change account without CREATEROLE changes nothing and says why', async () => {
    const weak = (await a.credentials.createCredential(ADMIN, { deviceId, username: 'wweak', secret: passwords.weak })).id;
    const id = (await a.credentials.createCredential(ADMIN, { deviceId, username: 'wapp', secret: await a.credentials.secretOf(1), changeCredentialId: weak })).id;
    const before = await a.credentials.secretOf(id);
    await assert.rejects(a.rotation.reconcile(ADMIN, id), (e: Error & { details?: Record<string, unknown> }) => e.details?.reason === 'change-refused');
    const [ev] = await a.store.repos.auditEvents.query({ type: 'credential.reconcile', limit: 1 });
    assert.match(String(JSON.parse(ev!.detail).said), /permission denied/i);
    assert.equal(await a.credentials.secretOf(id), before);
  });
});
