// The dashboard's windows follow the appliance's clock: failures count for 24 hours, certificates are
// "expiring" from 30 days before their end until it, and an expired one is no longer listed. A real
// appliance (SoftHSM token, its store) with a clock this test moves.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Appliance } from '../../../appliance/index.js';
import { loadConfig } from '../../../appliance/config/index.js';
import { initializedHome, ManualClock, type InitializedHome } from '../../helpers/fixtures.js';
import { createCa } from '../../helpers/pki.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const administrator = { id: 1, profile: 'administrator' };

describe('dashboard windows', () => {
  let home: InitializedHome;
  let a: Appliance;
  const clock = new ManualClock(Date.now());

  before(async () => {
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }), { clock: clock.read });
  });
  after(async () => {
    await a?.close();
    home?.cleanup();
  });

  test('failed logins and blocked commands count for the last 24 hours only; successes never', async () => {
    const failedLogin = () => a.audit.record({ type: 'auth.login', outcome: 'failure', actor: 'mallory', subject: 'mallory', code: 'AUTH_BAD_PASSWORD', detail: { method: 'password' } });
    await failedLogin();
    await a.audit.record({ type: 'auth.mfa', outcome: 'failure', actor: 'ana', subject: 'ana', code: 'MFA_TOTP_INVALID', detail: { method: 'totp' } });
    clock.advance(23 * HOUR);
    await failedLogin();
    await a.audit.record({ type: 'auth.login', outcome: 'success', actor: 'ana', subject: 'ana', detail: { method: 'password' } });
    await a.audit.record({ type: 'session.command_blocked', outcome: 'failure', actor: 'ana', subject: 'session:x', detail: { session: 'x', command: 'rm -rf /', exec: false, rule: 1, pattern: 'rm -rf *' } });
    let v = await a.dashboard.overview(administrator);
    assert.deepEqual([v.failedLogins!.total, v.failedLogins!.byType], [3, { 'auth.login': 2, 'auth.mfa': 1, 'auth.proxy_login': 0 }]);
    assert.equal(v.blockedCommands!.total, 1);
    clock.advance(2 * HOUR);
    v = await a.dashboard.overview(administrator);
    assert.deepEqual([v.failedLogins!.total, v.failedLogins!.byType['auth.login']], [1, 1], 'the two of 25 hours ago are out of the window');
    assert.equal(v.failedLogins!.since, new Date(clock.now - DAY).toISOString());
    assert.equal(v.blockedCommands!.total, 1);
  });

  test('a trusted CA is expiring from 30 days before its end until it; then it is no longer listed', async () => {
    const support = { username: 'support', ip: null };
    for (const [name, days] of [['In Two Days', 2], ['In 29 Days', 29], ['In 31 Days', 31]] as const) {
      await a.trust.install((await createCa(name, { notBefore: new Date(clock.now - DAY), notAfter: new Date(clock.now + days * DAY) })).pem, support);
    }
    const names = async () => (await a.dashboard.overview(administrator)).expiring!.authorities.items.map((x) => x.subject.replace(/^CN=|, O=.*$/g, ''));
    assert.deepEqual(await names(), ['In Two Days', 'In 29 Days']);
    clock.advance(3 * DAY);
    assert.deepEqual(await names(), ['In 29 Days', 'In 31 Days'], 'one expired, one came within 30 days');
    assert.equal((await a.dashboard.overview(administrator)).expiring!.authorities.total, 2);
  });
});
