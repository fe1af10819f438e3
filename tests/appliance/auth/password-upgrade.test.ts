// Moving stored passwords from scrypt (and from an older Argon2id cost) to the configured Argon2id cost at the
// next successful login, without ever undoing a password set meanwhile.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { legacyScryptHash, services, strongPassword, TEST_ARGON2, type Services } from '../../helpers/fixtures.js';
import { AuthService, DecoyHash, hashPassword, verifyPassword } from '../../../appliance/auth/index.js';

const admin = { username: 'root-admin', ip: null };
const CURRENT = /^\$argon2id\$v=19\$m=64,t=1,p=1\$/;

describe('password hash upgrade at login', () => {
  let s: Services;

  before(async () => {
    s = await services();
    await s.settings.update({ loginThrottle: { maxFailures: 10_000 } }, 'root-admin', null);
  });
  after(async () => s.close());

  /** An active account whose stored hash (and its history entry) is `storedHash`, as an earlier version left it. */
  async function accountWithHash(password: string, storedHash: string): Promise<{ id: number; username: string }> {
    const username = `old${Math.random().toString(36).slice(2, 8)}`;
    const { user } = await s.users.create(admin, { username, fullName: 'Old Account', profile: 'privileged-access-user', password: strongPassword() });
    await s.store.repos.users.update(user.id, { password_hash: storedHash, must_change_password: false });
    await s.store.repos.passwordHistory.add(user.id, storedHash, s.clock.now);
    return { id: user.id, username };
  }

  const storedHash = async (id: number) => (await s.store.repos.users.byId(id))!.password_hash;

  test('a real scrypt hash in the database logs in, and is replaced by an Argon2id hash of the configured cost', async () => {
    const password = strongPassword();
    const scrypt = legacyScryptHash(password);
    const u = await accountWithHash(password, scrypt);

    await s.auth.login({ username: u.username, password, ip: '192.0.2.7' });

    const now = await storedHash(u.id);
    assert.match(now, CURRENT);
    assert.equal(await verifyPassword(password, now), true);
    // The history entry of the same password moved too, so history checks stop paying scrypt's cost.
    const history = await s.store.repos.passwordHistory.recent(u.id, 10);
    assert.equal(history[0], now);
    assert.equal(history.includes(scrypt), false);
    const [event] = await s.store.repos.auditEvents.query({ type: 'auth.login', limit: 1 });
    assert.equal(event!.outcome, 'success');
    assert.deepEqual(JSON.parse(event!.detail).hashUpgraded, { from: 'scrypt', to: 'argon2id' });

    // The next login finds the current cost and writes nothing.
    await s.auth.login({ username: u.username, password, ip: '192.0.2.7' });
    assert.equal(await storedHash(u.id), now);
    const [again] = await s.store.repos.auditEvents.query({ type: 'auth.login', limit: 1 });
    assert.equal(JSON.parse(again!.detail).hashUpgraded, undefined);
  });

  test('a wrong password against a scrypt hash fails and leaves the hash as it was', async () => {
    const password = strongPassword();
    const scrypt = legacyScryptHash(password);
    const u = await accountWithHash(password, scrypt);
    await assert.rejects(s.auth.login({ username: u.username, password: 'Wrong-Password-1', ip: '192.0.2.7' }), { code: 'AUTH_BAD_PASSWORD' });
    assert.equal(await storedHash(u.id), scrypt);
  });

  test('an Argon2id hash of an older cost is raised to the configured cost at login', async () => {
    const password = strongPassword();
    const u = await accountWithHash(password, await hashPassword(password, { memoryKiB: 128, iterations: 1, parallelism: 1 }));
    await s.auth.login({ username: u.username, password, ip: '192.0.2.7' });
    assert.match(await storedHash(u.id), CURRENT);
  });

  test('a password reset while the login is still hashing the old scrypt password is not undone by the rehash', async () => {
    const password = strongPassword();
    // A slower scrypt (N=2^15) leaves a window of tens of milliseconds between reading the row and writing the rehash.
    const u = await accountWithHash(password, legacyScryptHash(password, { N: 1 << 15, r: 8, p: 1 }));
    const login = s.auth.login({ username: u.username, password, ip: '192.0.2.7' });
    // The attempt is reserved after the row was read and before the password is hashed: reset the password then.
    while ((await s.store.repos.users.byId(u.id))!.failed_attempts === 0) await tick();
    const reset = await hashPassword('Reset-By-Admin-1', TEST_ARGON2);
    await s.store.repos.users.update(u.id, { password_hash: reset });
    await login;
    assert.equal(await storedHash(u.id), reset, 'the reset password stands');
    assert.equal(await verifyPassword(password, await storedHash(u.id)), false);
  });

  test('the unknown-user decoy of the login service is an Argon2id hash of the configured cost', async () => {
    const auth = new AuthService({ store: s.store, audit: s.audit, settings: s.settings, argon2: { memoryKiB: 256, iterations: 3, parallelism: 1 }, clock: s.clock.read });
    await assert.rejects(auth.login({ username: 'nobody-at-all', password: 'Some-Password-1', ip: '192.0.2.8' }), { code: 'AUTH_UNKNOWN_USER' });
    // The decoy is private to the service; read it to see that the wiring uses the configured cost.
    const decoy = await (auth as unknown as { decoy: DecoyHash }).decoy.get();
    assert.match(decoy, /^\$argon2id\$v=19\$m=256,t=3,p=1\$/);
  });
});
