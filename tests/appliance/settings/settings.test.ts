import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SETTINGS, validateSettingsPatch } from '../../../appliance/settings/index.js';
import { InputError } from '../../../appliance/errors/index.js';
import { services, type Services } from '../../helpers/fixtures.js';

describe('settings', () => {
  let s: Services;
  before(async () => {
    s = await services();
  });
  after(async () => s.close());

  test('defaults: lockout after 5, history 5, 15-minute idle timeout', async () => {
    const c = await s.settings.current();
    assert.equal(c.lockout.maxAttempts, 5);
    assert.equal(c.passwordPolicy.historyCount, 5);
    assert.equal(c.sessions.idleTimeoutMinutes, 15);
  });

  test('an update merges into its section, is stored and audited', async () => {
    await s.settings.update({ lockout: { maxAttempts: 3 } }, 'admin', '127.0.0.1');
    const c = await s.settings.current();
    assert.equal(c.lockout.maxAttempts, 3);
    assert.equal(c.lockout.durationMinutes, DEFAULT_SETTINGS.lockout.durationMinutes);
    const [row] = await s.store.repos.auditEvents.query({ type: 'settings.change', limit: 1 });
    assert.equal(row?.subject, 'lockout');
  });

  test('denylist entries are normalized CIDRs', async () => {
    const c = await s.settings.update({ ipDenylist: ['10.1.2.3', '2001:db8::/32'] }, 'admin', null);
    assert.deepEqual(c.ipDenylist, ['10.1.2.3/32', '2001:db8::/32']);
  });

  test('a denylist covering the caller is refused and nothing changes; from the console (no address) it is not about the caller', async () => {
    const before = await s.settings.current();
    await assert.rejects(s.settings.update({ ipDenylist: ['2001:db8::/32'] }, 'admin', '2001:db8::10'), /lock you out/);
    await assert.rejects(s.settings.update({ ipDenylist: ['192.0.2.0/24'] }, 'admin', '::ffff:192.0.2.1'), /lock you out/);
    assert.deepEqual(await s.settings.current(), before);
    const c = await s.settings.update({ ipDenylist: ['2001:db8::/32'] }, 'orbit:root', null);
    assert.deepEqual(c.ipDenylist, ['2001:db8::/32']);
  });

  const invalid: [string, unknown][] = [
    ['an unknown section', { colours: {} }],
    ['an unknown field', { lockout: { maxAttempts: 3, extra: 1 } }],
    ['a string where a number goes', { lockout: { maxAttempts: '3' } }],
    ['a number out of range', { passwordPolicy: { minLength: 2 } }],
    ['a fraction', { sessions: { idleTimeoutMinutes: 1.5 } }],
    ['a bad CIDR', { ipDenylist: ['10.0.0.0/40'] }],
    ['a denylist of everyone', { ipDenylist: ['0.0.0.0/0'] }],
    ['a language we do not ship', { defaultLanguage: 'xx' }],
    ['not an object', 42],
  ];
  for (const [what, patch] of invalid) {
    test(`${what} is refused and nothing changes`, async () => {
      const before = await s.settings.current();
      assert.throws(() => validateSettingsPatch(before, patch), InputError);
      await assert.rejects(s.settings.update(patch, 'admin', null), InputError);
      assert.deepEqual(await s.settings.current(), before);
    });
  }
});
