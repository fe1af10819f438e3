import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PROFILE_NAMES, PERMISSIONS, can, requirePermission, validateNewUser } from '../../../appliance/access/index.js';
import { InputError, WardenError } from '../../../appliance/errors/index.js';
import { services, type Services } from '../../helpers/fixtures.js';

describe('profiles and permissions', () => {
  test('the six product profiles exist', () => {
    assert.deepEqual(PROFILE_NAMES, [
      'administrator',
      'configurator',
      'auditor',
      'privileged-access-user',
      'password-viewer',
      'privileged-access-and-view-user',
    ]);
  });

  const table: [string, string, boolean][] = [
    ['administrator', 'users.manage', true],
    ['administrator', 'passwords.view', true],
    ['configurator', 'settings.manage', true],
    ['configurator', 'users.manage', false],
    ['configurator', 'audit.read', false],
    ['auditor', 'audit.read', true],
    ['auditor', 'settings.manage', false],
    ['privileged-access-user', 'sessions.use', true],
    ['privileged-access-user', 'passwords.view', false],
    ['password-viewer', 'passwords.view', true],
    ['password-viewer', 'sessions.use', false],
    ['privileged-access-and-view-user', 'sessions.use', true],
    ['privileged-access-and-view-user', 'passwords.view', true],
    ['privileged-access-and-view-user', 'users.read', false],
    ['no-such-profile', 'users.read', false],
  ];
  for (const [profile, perm, allowed] of table) {
    test(`${profile} ${allowed ? 'may' : 'may not'} ${perm}`, () => {
      assert.equal(can(profile, perm as (typeof PERMISSIONS)[number]), allowed);
      if (!allowed) assert.throws(() => requirePermission(profile, perm as (typeof PERMISSIONS)[number]), (e) => e instanceof WardenError && e.code === 'AUTH_FORBIDDEN');
    });
  }
});

describe('user input validation', () => {
  const base = { username: 'alice', fullName: 'Alice', email: 'alice@example.test', profile: 'auditor' };
  const bad: [string, Record<string, unknown>][] = [
    ['SQL metacharacters in the user name', { username: "alice'; DROP TABLE users;--" }],
    ['a space in the user name', { username: 'alice smith' }],
    ['an empty user name', { username: '' }],
    ['a 65-character user name', { username: 'a'.repeat(65) }],
    ['a control character in the full name', { fullName: 'Alice\u0007' }],
    ['a lone surrogate in the full name', { fullName: 'Alice \ud800' }],
    ['a replacement character (invalid UTF-8 upstream)', { fullName: 'Alice \uFFFD' }],
    ['an unknown profile', { profile: 'root' }],
    ['a malformed e-mail', { email: 'not an email' }],
    ['an unknown language', { language: 'tlh' }],
    ['a user name that is a number', { username: 42 }],
  ];
  for (const [what, patch] of bad) {
    test(`${what} is refused`, () => assert.throws(() => validateNewUser({ ...base, ...patch }), InputError));
  }
  test('names in any script are accepted and normalized to NFC', () => {
    const u = validateNewUser({ ...base, username: 'jose\u0301', fullName: 'José Ñandú 李' });
    assert.equal(u.username, 'jos\u00e9');
  });
});

describe('account administration rules', () => {
  let s: Services;
  before(async () => {
    s = await services();
  });
  after(async () => s.close());

  test('the last active administrator cannot be disabled, nor can you disable yourself', async () => {
    const { user: a } = await s.users.create({ username: 'orbit', ip: null }, { username: 'boss', fullName: 'Boss', profile: 'administrator' });
    await assert.rejects(s.users.setStatus({ username: 'someone', ip: null }, a.id, 'disabled'), /last active administrator/);
    const { user: b } = await s.users.create({ username: 'orbit', ip: null }, { username: 'boss2', fullName: 'Boss 2', profile: 'administrator' });
    await assert.rejects(s.users.setStatus({ username: 'boss2', ip: null }, b.id, 'disabled'), /your own account/);
    await s.users.setStatus({ username: 'boss', ip: null }, b.id, 'disabled');
    assert.equal((await s.store.repos.users.byId(b.id))!.status, 'disabled');
  });

  test('a created user never exposes its hash in the view', async () => {
    const { user, oneTimePassword } = await s.users.create({ username: 'orbit', ip: null }, { username: 'viewer', fullName: 'V', profile: 'password-viewer' });
    const view = await s.users.view(user);
    assert.equal(JSON.stringify(view).includes('scrypt'), false);
    assert.equal(view.mustChangePassword, true);
    assert.equal(typeof oneTimePassword, 'string');
  });
});
