// A login name a proxy cannot parse never reaches an account, yet it is an attempt: audited (printable, cut
// short) and counted against the source's throttle exactly like a name that matches no user.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AuthError } from '../../../appliance/errors/index.js';
import { AuthService } from '../../../appliance/auth/index.js';
import { services, type Services } from '../../helpers/fixtures.js';

describe('AuthService.refuseUnparsableName', () => {
  let s: Services;
  before(async () => {
    s = await services();
  });
  after(async () => s.close());

  test('audits an auth.login failure with the reason, the name printable and at most 64 characters', async () => {
    await s.auth.refuseUnparsableName({ name: `\u001b]0;pwned\u0007${'n'.repeat(5000)}`, ip: '127.0.0.20', protocol: 'ssh', method: 'password' });
    const [ev] = await s.store.repos.auditEvents.query({ type: 'auth.login', limit: 1 });
    assert.equal(ev!.outcome, 'failure');
    assert.equal(ev!.code, 'AUTH_INVALID');
    assert.equal(ev!.actor_ip, '127.0.0.20');
    assert.equal(ev!.actor!.length, 64);
    assert.match(ev!.actor!, /^\?\]0;pwned\?n+$/);
    const detail = JSON.parse(ev!.detail);
    assert.equal(detail.protocol, 'ssh');
    assert.equal(detail.reason, 'login name cannot be parsed (5010 characters)');
  });

  test('counts against the address: at the limit the address is blocked, for real names too', async () => {
    const limit = (await s.settings.current()).loginThrottle.maxFailures;
    for (let i = 0; i < limit; i++) await s.auth.refuseUnparsableName({ name: 'no such:name here', ip: '127.0.0.21', protocol: 'ssh', method: 'password' });
    const row = await s.store.repos.loginThrottle.get(AuthService.throttleSource('127.0.0.21'));
    assert.ok(row?.blockedUntil, 'the address is blocked');
    const [block] = await s.store.repos.auditEvents.query({ type: 'auth.throttle', limit: 1 });
    assert.equal(block!.actor_ip, '127.0.0.21');
    // Once blocked, a further unparsable name is recorded as throttled, and a real login from there is refused.
    await s.auth.refuseUnparsableName({ name: 'again not a name', ip: '127.0.0.21', protocol: 'ssh', method: 'password' });
    const [last] = await s.store.repos.auditEvents.query({ type: 'auth.login', limit: 1 });
    assert.equal(last!.code, 'AUTH_THROTTLED');
    await assert.rejects(s.auth.authenticatePerson({ username: 'root-admin', password: 'whatever-1A!', ip: '127.0.0.21', protocol: 'ssh' }, async () => undefined), (e) => e instanceof AuthError && e.code === 'AUTH_THROTTLED');
  });
});
