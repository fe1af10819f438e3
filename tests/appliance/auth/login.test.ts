import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { services, strongPassword, type Services } from '../../helpers/fixtures.js';
import { AuthError, PolicyError } from '../../../appliance/errors/index.js';
import { TOUCH_EVERY_MS, sessionIdOf } from '../../../appliance/auth/index.js';

const admin = { username: 'root-admin', ip: '10.0.0.1' };

async function lastAudit(s: Services, type: string) {
  const [row] = await s.store.repos.auditEvents.query({ type, limit: 1 });
  return row;
}

async function rejects(p: Promise<unknown>, code: string) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof AuthError || e instanceof PolicyError, `expected an auth/policy error, got ${String(e)}`);
    assert.equal((e as AuthError).code, code);
    return true;
  });
}

describe('local password login', () => {
  let s: Services;
  let userId: number;
  let password: string;

  before(async () => {
    s = await services();
    // These cases are about the account lockout; the per-address throttle has its own tests.
    await s.settings.update({ loginThrottle: { maxFailures: 10_000 } }, 'root-admin', null);
  });
  after(async () => s.close());

  beforeEach(async () => {
    const name = `user${Math.random().toString(36).slice(2, 8)}`;
    password = strongPassword();
    const { user } = await s.users.create(admin, { username: name, fullName: 'Test User', email: `${name}@example.test`, profile: 'privileged-access-user', password });
    userId = user.id;
  });

  const username = async () => (await s.store.repos.users.byId(userId))!.username;

  test('a new account must change its password at first login', async () => {
    const r = await s.auth.login({ username: await username(), password, ip: '192.0.2.1' });
    assert.equal(r.passwordChangeRequired, true);
    const next = strongPassword();
    await s.auth.changePassword({ userId, currentPassword: password, newPassword: next, ip: '192.0.2.1' });
    const again = await s.auth.login({ username: await username(), password: next, ip: '192.0.2.1' });
    assert.equal(again.passwordChangeRequired, false);
  });

  test('a wrong password fails with AUTH_BAD_PASSWORD in the audit trail', async () => {
    await rejects(s.auth.login({ username: await username(), password: 'wrong-Password-1', ip: '192.0.2.1' }), 'AUTH_BAD_PASSWORD');
    const row = await lastAudit(s, 'auth.login');
    assert.equal(row?.outcome, 'failure');
    assert.equal(row?.code, 'AUTH_BAD_PASSWORD');
    assert.doesNotMatch(row!.detail, /wrong-Password-1/, 'the tried password never reaches the audit trail');
  });

  test('an unknown user fails with AUTH_UNKNOWN_USER', async () => {
    await rejects(s.auth.login({ username: 'nobody-here', password, ip: '192.0.2.1' }), 'AUTH_UNKNOWN_USER');
  });

  test('five failed attempts lock the account; the right password is then refused', async () => {
    const name = await username();
    for (let i = 0; i < 4; i++) await rejects(s.auth.login({ username: name, password: 'nope-Nope-1', ip: '192.0.2.1' }), 'AUTH_BAD_PASSWORD');
    assert.equal((await s.users.view((await s.store.repos.users.byId(userId))!)).locked, false, 'four failures do not lock');
    await rejects(s.auth.login({ username: name, password: 'nope-Nope-1', ip: '192.0.2.1' }), 'AUTH_BAD_PASSWORD');
    assert.equal((await lastAudit(s, 'auth.lockout'))?.subject, name);
    await rejects(s.auth.login({ username: name, password, ip: '192.0.2.1' }), 'AUTH_LOCKED');
  });

  test('a lock lifts by itself after the configured duration', async () => {
    await s.settings.update({ lockout: { maxAttempts: 2, durationMinutes: 10 } }, 'root-admin', null);
    const name = await username();
    for (let i = 0; i < 2; i++) await rejects(s.auth.login({ username: name, password: 'nope-Nope-1', ip: '192.0.2.1' }), 'AUTH_BAD_PASSWORD');
    s.clock.advance(9 * 60_000);
    await rejects(s.auth.login({ username: name, password, ip: '192.0.2.1' }), 'AUTH_LOCKED');
    s.clock.advance(2 * 60_000);
    await s.auth.login({ username: name, password, ip: '192.0.2.1' });
    await s.settings.update({ lockout: { maxAttempts: 5, durationMinutes: 30 } }, 'root-admin', null);
  });

  test('with duration 0 only an administrator unlocks', async () => {
    await s.settings.update({ lockout: { maxAttempts: 1, durationMinutes: 0 } }, 'root-admin', null);
    const name = await username();
    await rejects(s.auth.login({ username: name, password: 'nope-Nope-1', ip: '192.0.2.1' }), 'AUTH_BAD_PASSWORD');
    s.clock.advance(365 * 86_400_000);
    await rejects(s.auth.login({ username: name, password, ip: '192.0.2.1' }), 'AUTH_LOCKED');
    await s.users.unlock(admin, userId);
    assert.equal((await lastAudit(s, 'user.unlock'))?.subject, name);
    await s.auth.login({ username: name, password, ip: '192.0.2.1' });
    await s.settings.update({ lockout: { maxAttempts: 5, durationMinutes: 30 } }, 'root-admin', null);
  });

  test('a disabled account cannot log in, and its session ends', async () => {
    const name = await username();
    const r = await s.auth.login({ username: name, password, ip: '192.0.2.1' });
    await s.users.setStatus(admin, userId, 'disabled');
    await rejects(s.auth.authenticate(r.token, '192.0.2.1'), 'AUTH_SESSION_INVALID');
    await rejects(s.auth.login({ username: name, password, ip: '192.0.2.1' }), 'AUTH_DISABLED');
    await s.users.setStatus(admin, userId, 'active');
  });

  test('a second login ends the first session (single active session)', async () => {
    const name = await username();
    const first = await s.auth.login({ username: name, password, ip: '192.0.2.1' });
    await s.auth.authenticate(first.token, '192.0.2.1');
    const second = await s.auth.login({ username: name, password, ip: '192.0.2.7' });
    await rejects(s.auth.authenticate(first.token, '192.0.2.1'), 'AUTH_SESSION_INVALID');
    await s.auth.authenticate(second.token, '192.0.2.7');
    const ended = await lastAudit(s, 'session.end');
    assert.equal(ended?.code, 'AUTH_SESSION_REPLACED');
  });

  test('a session ends after the idle timeout, and activity keeps it alive', async () => {
    const r = await s.auth.login({ username: await username(), password, ip: '192.0.2.1' });
    s.clock.advance(14 * 60_000);
    await s.auth.authenticate(r.token, '192.0.2.1');
    s.clock.advance(14 * 60_000);
    await s.auth.authenticate(r.token, '192.0.2.1');
    s.clock.advance(15 * 60_000);
    await rejects(s.auth.authenticate(r.token, '192.0.2.1'), 'AUTH_SESSION_IDLE');
    await rejects(s.auth.authenticate(r.token, '192.0.2.1'), 'AUTH_SESSION_INVALID');
  });

  test('a burst of requests writes the last-seen mark once; the idle clock is off by at most TOUCH_EVERY_MS', async () => {
    const r = await s.auth.login({ username: await username(), password, ip: '192.0.2.1' });
    const seen = async () => (await s.store.repos.webSessions.byId(sessionIdOf(r.token)))!.last_seen_at;
    const start = await seen();
    for (let i = 0; i < 5; i++) {
      s.clock.advance(TOUCH_EVERY_MS / 10);
      await s.auth.authenticate(r.token, '192.0.2.1');
    }
    assert.equal(await seen(), start, 'no write within TOUCH_EVERY_MS of the last mark');
    s.clock.advance(TOUCH_EVERY_MS);
    await s.auth.authenticate(r.token, '192.0.2.1');
    assert.equal(await seen(), s.clock.now);
    // Idle is still judged from the mark: 15 minutes after it, minus the unmarked slack, the session is gone.
    s.clock.advance(15 * 60_000);
    await rejects(s.auth.authenticate(r.token, '192.0.2.1'), 'AUTH_SESSION_IDLE');
  });

  test('a session ends at its absolute lifetime even when active', async () => {
    await s.settings.update({ sessions: { absoluteLifetimeHours: 1, idleTimeoutMinutes: 30 } }, 'root-admin', null);
    const r = await s.auth.login({ username: await username(), password, ip: '192.0.2.1' });
    for (let i = 0; i < 3; i++) {
      s.clock.advance(20 * 60_000 - 1);
      if (i < 2) await s.auth.authenticate(r.token, '192.0.2.1');
    }
    s.clock.advance(10);
    await rejects(s.auth.authenticate(r.token, '192.0.2.1'), 'AUTH_SESSION_EXPIRED');
    await s.settings.update({ sessions: { absoluteLifetimeHours: 12, idleTimeoutMinutes: 15 } }, 'root-admin', null);
  });

  test('a session is bound to the client IP', async () => {
    const r = await s.auth.login({ username: await username(), password, ip: '2001:db8::5' });
    await s.auth.authenticate(r.token, '2001:db8::5');
    await rejects(s.auth.authenticate(r.token, '2001:db8::6'), 'AUTH_SESSION_IP_CHANGED');
    await rejects(s.auth.authenticate(r.token, '2001:db8::5'), 'AUTH_SESSION_INVALID');
  });

  test('a denylisted address is refused before the password is looked at', async () => {
    await s.settings.update({ ipDenylist: ['198.51.100.0/24', '2001:db8:bad::/48'] }, 'root-admin', null);
    const name = await username();
    await rejects(s.auth.login({ username: name, password, ip: '198.51.100.77' }), 'AUTH_IP_DENIED');
    await rejects(s.auth.login({ username: name, password, ip: '::ffff:198.51.100.77' }), 'AUTH_IP_DENIED');
    await rejects(s.auth.login({ username: name, password, ip: '2001:db8:bad:1::1' }), 'AUTH_IP_DENIED');
    await s.auth.login({ username: name, password, ip: '198.51.101.1' });
    assert.equal((await s.store.repos.users.byId(userId))!.failed_attempts, 0, 'denied attempts do not count toward lockout');
    await s.settings.update({ ipDenylist: [] }, 'root-admin', null);
  });

  test('password change enforces complexity, the user name and the last five passwords', async () => {
    const name = await username();
    let current = password;
    await rejects(s.auth.changePassword({ userId, currentPassword: current, newPassword: 'Sh0rt-1', ip: '192.0.2.1' }), 'PASSWORD_TOO_SHORT');
    await rejects(s.auth.changePassword({ userId, currentPassword: current, newPassword: 'alllowercaseletters', ip: '192.0.2.1' }), 'PASSWORD_TOO_SIMPLE');
    await rejects(s.auth.changePassword({ userId, currentPassword: current, newPassword: `X-${name.toUpperCase()}-99z`, ip: '192.0.2.1' }), 'PASSWORD_CONTAINS_USERNAME');
    await rejects(s.auth.changePassword({ userId, currentPassword: current, newPassword: current, ip: '192.0.2.1' }), 'PASSWORD_SAME_AS_CURRENT');
    const used = [current];
    for (let i = 0; i < 5; i++) {
      const next = strongPassword();
      await s.auth.changePassword({ userId, currentPassword: current, newPassword: next, ip: '192.0.2.1' });
      used.push(next);
      current = next;
    }
    // History 5: the current and the four before it are refused; the sixth-oldest is allowed again.
    for (const old of used.slice(-5, -1)) {
      await rejects(s.auth.changePassword({ userId, currentPassword: current, newPassword: old, ip: '192.0.2.1' }), 'PASSWORD_REUSED');
    }
    await s.auth.changePassword({ userId, currentPassword: current, newPassword: used[0]!, ip: '192.0.2.1' });
  });

  test('a wrong current password on change counts as a failed attempt', async () => {
    await rejects(s.auth.changePassword({ userId, currentPassword: 'not-the-Password-1', newPassword: strongPassword(), ip: '192.0.2.1' }), 'AUTH_BAD_PASSWORD');
    assert.equal((await s.store.repos.users.byId(userId))!.failed_attempts, 1);
  });

  test('an administrator reset forces a change and ends the session', async () => {
    const r = await s.auth.login({ username: await username(), password, ip: '192.0.2.1' });
    const { oneTimePassword } = await s.users.resetPassword(admin, userId);
    await rejects(s.auth.authenticate(r.token, '192.0.2.1'), 'AUTH_SESSION_INVALID');
    await rejects(s.auth.login({ username: await username(), password, ip: '192.0.2.1' }), 'AUTH_BAD_PASSWORD');
    const again = await s.auth.login({ username: await username(), password: oneTimePassword, ip: '192.0.2.1' });
    assert.equal(again.passwordChangeRequired, true);
  });

  test('the session token is not stored, only its hash', async () => {
    const r = await s.auth.login({ username: await username(), password, ip: '192.0.2.1' });
    const rows = await s.store.repos.webSessions.forUser(userId);
    assert.equal(rows.length, 1);
    assert.notEqual(rows[0]!.id, r.token);
    assert.match(rows[0]!.id, /^[0-9a-f]{64}$/);
  });

  test('every event of this suite chains into an intact audit trail', async () => {
    const verdict = await s.audit.verify();
    assert.equal(verdict.ok, true);
    assert.ok(verdict.rows > 20);
  });
});
