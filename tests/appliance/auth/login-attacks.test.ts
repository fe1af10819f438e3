// Attacks on the login itself, as the security review ran them: a burst of parallel wrong passwords with the
// right one inside it (the lockout race), password spraying across accounts from one address, and look-alike
// user names.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AuthError, GENERIC_AUTH_MESSAGE } from '../../../appliance/errors/index.js';
import { AuthService } from '../../../appliance/auth/index.js';
import { services, strongPassword, type Services } from '../../helpers/fixtures.js';

const admin = { username: 'root-admin', ip: '127.0.0.1' };

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    assert.ok(e instanceof AuthError, `expected an AuthError, got ${String(e)}`);
    return e.code;
  }
}

describe('login under attack', () => {
  let s: Services;
  let n = 0;
  before(async () => {
    s = await services();
  });
  after(async () => s.close());

  async function account(): Promise<{ name: string; password: string; id: number }> {
    const name = `victim${++n}`;
    const password = strongPassword();
    const { user } = await s.users.create(admin, { username: name, fullName: 'Victim', email: `${name}@example.test`, profile: 'privileged-access-user', password });
    // Past the first-login change, so a right password completes the login.
    await s.store.repos.users.update(user.id, { must_change_password: false });
    return { name, password, id: user.id };
  }

  describe('the lockout race', () => {
    before(async () => {
      // Each guess below comes from its own address: this is about the account, not the address throttle.
      await s.settings.update({ lockout: { maxAttempts: 5, durationMinutes: 30 }, loginThrottle: { maxFailures: 10_000 } }, 'root-admin', null);
    });

    for (const position of [0, 3, 12, 25]) {
      test(`25 wrong passwords sent at once with the right one at position ${position}: at most 5 are judged, and never a session on a locked account`, async () => {
        const v = await account();
        const guesses = Array.from({ length: 26 }, (_, i) => (i === position ? v.password : `Wrong-Guess-${i}-x`));
        const codes = await Promise.all(guesses.map((password, i) => codeOf(s.auth.login({ username: v.name, password, ip: `127.0.${n}.${i + 1}` }))));
        const judged = codes.filter((c) => c === 'AUTH_BAD_PASSWORD' || c === 'OK').length;
        assert.ok(judged <= 5, `only the account's 5 attempts may reach the password check: ${codes.join(' ')}`);
        assert.ok(codes.every((c) => ['AUTH_BAD_PASSWORD', 'AUTH_LOCKED', 'OK'].includes(c)), codes.join(' '));
        const user = (await s.store.repos.users.byId(v.id))!;
        const sessions = await s.store.db.selectFrom('web_sessions').select('id').where('user_id', '=', v.id).execute();
        if (user.locked_at !== null) {
          assert.equal(sessions.length, 0, 'a locked account has no working session');
        } else {
          // The right password won its place among the first attempts, as it could have one after another.
          assert.ok(codes.includes('OK'), codes.join(' '));
          assert.equal(sessions.length, 1);
        }
        // Whatever the interleaving, the lockout was audited at most once.
        const lockouts = (await s.store.repos.auditEvents.query({ type: 'auth.lockout', subject: v.name, limit: 10 })).length;
        assert.ok(lockouts <= 1, `lockout audited ${lockouts} times`);
      });
    }

    test('one after another, four wrong then the right password still logs in (the limit is not lowered)', async () => {
      const v = await account();
      for (let i = 0; i < 4; i++) assert.equal(await codeOf(s.auth.login({ username: v.name, password: `Wrong-${i}-x`, ip: '127.0.0.9' })), 'AUTH_BAD_PASSWORD');
      assert.equal(await codeOf(s.auth.login({ username: v.name, password: v.password, ip: '127.0.0.9' })), 'OK');
      assert.equal((await s.store.repos.users.byId(v.id))!.failed_attempts, 0);
    });
  });

  describe('password spraying from one address', () => {
    const attacker = '127.0.66.6';
    before(async () => {
      await s.settings.update({ lockout: { maxAttempts: 5, durationMinutes: 30 }, loginThrottle: { maxFailures: 10, windowMinutes: 15, blockMinutes: 15 } }, 'root-admin', null);
    });

    test('36 guesses over 12 accounts: the address is blocked after 10 failures, even a right password from it is refused, and it is audited', async () => {
      const victims = await Promise.all(Array.from({ length: 12 }, () => account()));
      const codes: string[] = [];
      for (let round = 0; round < 3; round++) {
        for (const v of victims) {
          // The last round holds each victim's real password: a spray that would have found them all.
          const password = round === 2 ? v.password : `Spring2026-${round}!x`;
          codes.push(await codeOf(s.auth.login({ username: v.name, password, ip: attacker })));
        }
      }
      assert.equal(codes.filter((c) => c === 'OK').length, 0, codes.join(' '));
      assert.equal(codes.filter((c) => c === 'AUTH_BAD_PASSWORD').length, 10);
      assert.equal(codes.filter((c) => c === 'AUTH_THROTTLED').length, 26);
      const events = await s.store.repos.auditEvents.query({ type: 'auth.throttle', limit: 10 });
      assert.equal(events.length, 1);
      assert.equal(events[0]!.subject, `ip:${attacker}`);
      assert.equal(events[0]!.code, 'AUTH_THROTTLED');
      // The refusals are failures in the audit trail with their precise code, like every other.
      assert.ok((await s.store.repos.auditEvents.query({ type: 'auth.login', limit: 100 })).some((e) => e.code === 'AUTH_THROTTLED'));
      // No victim was locked out by the spray: 10 failures spread over 12 accounts.
      for (const v of victims) assert.equal((await s.store.repos.users.byId(v.id))!.locked_at, null);

      // Someone elsewhere — the victims themselves — logs in as usual while the attacker is blocked.
      assert.equal(await codeOf(s.auth.login({ username: victims[0]!.name, password: victims[0]!.password, ip: '127.0.0.44' })), 'OK');
      assert.equal(await codeOf(s.auth.login({ username: victims[1]!.name, password: victims[1]!.password, ip: attacker })), 'AUTH_THROTTLED');

      // The block ends after its time; the next one lasts twice as long.
      s.clock.advance(15 * 60_000 + 1);
      assert.equal(await codeOf(s.auth.login({ username: victims[1]!.name, password: victims[1]!.password, ip: attacker })), 'OK');
      for (let i = 0; i < 10; i++) await codeOf(s.auth.login({ username: `nobody${i}`, password: 'x', ip: attacker }));
      const row = (await s.store.repos.loginThrottle.get(`ip:${attacker}`))!;
      assert.equal(row.strikes, 2);
      assert.equal(row.blockedUntil, s.clock.now + 30 * 60_000);
    });

    test('a burst from one address cannot pass more guesses than the limit through the hash', async () => {
      const v = await account();
      const ip = '127.0.77.7';
      const codes = await Promise.all(Array.from({ length: 30 }, (_, i) => codeOf(s.auth.login({ username: `nobody-${i}`, password: 'x', ip }))));
      assert.equal(codes.filter((c) => c === 'AUTH_UNKNOWN_USER').length, 10, codes.join(' '));
      assert.equal(await codeOf(s.auth.login({ username: v.name, password: v.password, ip })), 'AUTH_THROTTLED');
    });

    test('IPv6 addresses are throttled per /64, IPv4-mapped ones as IPv4', () => {
      assert.equal(AuthService.throttleSource('::1'), 'ip:0000:0000:0000:0000::/64');
      assert.equal(AuthService.throttleSource('fd00:1:2:3:aaaa::1'), AuthService.throttleSource('fd00:1:2:3:bbbb::2'));
      assert.notEqual(AuthService.throttleSource('fd00:1:2:3::1'), AuthService.throttleSource('fd00:1:2:4::1'));
      assert.equal(AuthService.throttleSource('::ffff:127.0.0.5'), 'ip:127.0.0.5');
    });

    test('the throttle is a setting with bounds', async () => {
      await assert.rejects(s.settings.update({ loginThrottle: { maxFailures: 0 } }, 'root-admin', null), /loginThrottle.maxFailures must be an integer from 1/);
    });
  });

  describe('look-alike user names', () => {
    test('admin, Admin, ADMIN and аdmin (Cyrillic а) cannot all exist; the first keeps its name as typed', async () => {
      const first = await s.users.create(admin, { username: 'Operator', fullName: 'Op', profile: 'auditor', password: strongPassword() });
      assert.equal(first.user.username, 'Operator');
      // (An invisible character is refused before it gets this far: user names hold letters, digits and . _ @ -.)
      await assert.rejects(s.users.create(admin, { username: 'oper\u200bator', fullName: 'Twin', profile: 'auditor', password: strongPassword() }), /may hold letters/);
      for (const name of ['operator', 'OPERATOR', 'Ореrator', 'Οperator', 'ΟΡΕRΑΤΟR']) {
        await assert.rejects(s.users.create(admin, { username: name, fullName: 'Twin', profile: 'auditor', password: strongPassword() }), (e: Error & { code?: string }) => {
          assert.equal(e.code, 'CONFLICT', `${name}: ${e.message}`);
          assert.match(e.message, /looks the same as the existing user Operator/);
          return true;
        });
      }
      // A different name that merely shares letters is fine.
      await s.users.create(admin, { username: 'Operator2', fullName: 'Op', profile: 'auditor', password: strongPassword() });
    });

    test('two parallel creates of look-alike names: exactly one succeeds (the unique key holds, not a prior read)', async () => {
      const results = await Promise.allSettled(['twin', 'TWIN', 'Twin', 'twіn'].map((username) => s.users.create(admin, { username, fullName: 'T', profile: 'auditor', password: strongPassword() })));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) if (r.status === 'rejected') assert.match(String(r.reason), /already exists|looks the same/);
    });

    test('the login name is the one the account was created with: a look-alike is an unknown user, with the generic message', async () => {
      const password = strongPassword();
      await s.users.create(admin, { username: 'Dana', fullName: 'Dana', profile: 'auditor', password });
      const e = await s.auth.login({ username: 'Dаna', password, ip: '127.0.0.50' }).catch((x: unknown) => x);
      assert.ok(e instanceof AuthError);
      assert.equal(e.code, 'AUTH_UNKNOWN_USER');
      assert.notEqual(e.message, 'Dana');
      assert.equal(GENERIC_AUTH_MESSAGE, 'Invalid user credentials');
    });
  });
});
