import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkComplexity,
  characterClasses,
  generateOneTimePassword,
  hashPassword,
  verifyPassword,
  needsRehash,
  isInHistory,
} from '../../../appliance/auth/index.js';
import { DEFAULT_SETTINGS } from '../../../appliance/settings/index.js';
import { PolicyError } from '../../../appliance/errors/index.js';
import { TEST_SCRYPT } from '../../helpers/fixtures.js';

const policy = DEFAULT_SETTINGS.passwordPolicy;

function code(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    assert.ok(e instanceof PolicyError);
    return e.code;
  }
}

describe('password complexity', () => {
  const table: [string, string, string | undefined][] = [
    ['Abcdef-12345', 'alice', undefined],
    ['Abc-1', 'alice', 'PASSWORD_TOO_SHORT'],
    ['abcdefghijklmnop', 'alice', 'PASSWORD_TOO_SIMPLE'],
    ['abcdefgh12345678', 'alice', 'PASSWORD_TOO_SIMPLE'],
    ['abcdefgh-12345678', 'alice', undefined],
    ['xx-Alice-2026-yy', 'alice', 'PASSWORD_CONTAINS_USERNAME'],
    ['Пароль-надёжный-7', 'иван', undefined],
    ['x'.repeat(200) + 'A1-' + 'y'.repeat(60), 'bob', 'PASSWORD_TOO_LONG'],
  ];
  for (const [pw, user, expected] of table) {
    test(`${JSON.stringify(pw.slice(0, 24))} for ${user} → ${expected ?? 'accepted'}`, () => {
      assert.equal(code(() => checkComplexity(pw, user, policy)), expected);
    });
  }

  test('character classes count letters of any script', () => {
    assert.equal(characterClasses('Ωmega-7'), 4);
    assert.equal(characterClasses('日本語'), 1);
  });

  test('generated one-time passwords always meet the strictest class rule', () => {
    for (let i = 0; i < 200; i++) {
      const pw = generateOneTimePassword();
      assert.equal(pw.length, 20);
      assert.equal(characterClasses(pw), 4);
      checkComplexity(pw, 'admin', { ...policy, minClasses: 4 });
    }
  });
});

describe('password hashing', () => {
  test('a hash verifies its password and nothing else', async () => {
    const h = await hashPassword('Correct-Horse-9', TEST_SCRYPT);
    assert.match(h, /^scrypt\$1024\$8\$1\$/);
    assert.equal(await verifyPassword('Correct-Horse-9', h), true);
    assert.equal(await verifyPassword('Correct-Horse-8', h), false);
    assert.equal(await verifyPassword('', h), false);
  });

  test('two hashes of one password differ (per-user salt)', async () => {
    assert.notEqual(await hashPassword('Same-Password-1', TEST_SCRYPT), await hashPassword('Same-Password-1', TEST_SCRYPT));
  });

  test('malformed stored hashes never verify', async () => {
    for (const bad of ['', 'scrypt$', 'md5$abc', 'scrypt$1024$8$1$c2FsdA==$', 'scrypt$x$8$1$c2FsdA==$aGFzaA==']) {
      assert.equal(await verifyPassword('anything', bad), false, bad);
    }
  });

  test('a changed cost asks for a rehash', async () => {
    const h = await hashPassword('Some-Password-1', TEST_SCRYPT);
    assert.equal(needsRehash(h, TEST_SCRYPT), false);
    assert.equal(needsRehash(h, { ...TEST_SCRYPT, cost: 2048 }), true);
  });

  test('history matching finds a reused password among hashes', async () => {
    const hashes = await Promise.all(['Old-Password-1', 'Old-Password-2'].map((p) => hashPassword(p, TEST_SCRYPT)));
    assert.equal(await isInHistory('Old-Password-2', hashes), true);
    assert.equal(await isInHistory('New-Password-3', hashes), false);
  });
});
