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
  DecoyHash,
} from '../../../appliance/auth/index.js';
import { DEFAULT_SETTINGS } from '../../../appliance/settings/index.js';
import { PolicyError } from '../../../appliance/errors/index.js';
import { DEFAULT_ARGON2 } from '../../../appliance/config/index.js';
import { TEST_ARGON2, legacyScryptHash } from '../../helpers/fixtures.js';

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
  test('a hash is an Argon2id PHC string of the configured cost and verifies its password and nothing else', async () => {
    const h = await hashPassword('Correct-Horse-9', TEST_ARGON2);
    assert.match(h, /^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    assert.equal(await verifyPassword('Correct-Horse-9', h), true);
    assert.equal(await verifyPassword('Correct-Horse-8', h), false);
    assert.equal(await verifyPassword('', h), false);
  });

  test('the default cost is OWASP\'s Argon2id minimum: m=19 MiB, t=2, p=1', async () => {
    const h = await hashPassword('Correct-Horse-9', DEFAULT_ARGON2);
    assert.match(h, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal(await verifyPassword('Correct-Horse-9', h), true);
  });

  test('two hashes of one password differ (per-user salt)', async () => {
    assert.notEqual(await hashPassword('Same-Password-1', TEST_ARGON2), await hashPassword('Same-Password-1', TEST_ARGON2));
  });

  test('a scrypt hash of the earlier form still verifies', async () => {
    const h = legacyScryptHash('Old-Scheme-Password-1');
    assert.match(h, /^scrypt\$1024\$8\$1\$/);
    assert.equal(await verifyPassword('Old-Scheme-Password-1', h), true);
    assert.equal(await verifyPassword('Old-Scheme-Password-2', h), false);
  });

  test('malformed stored hashes never verify', async () => {
    const good = await hashPassword('anything', TEST_ARGON2);
    const [, , , , salt, key] = good.split('$');
    for (const bad of [
      '',
      'scrypt$',
      'md5$abc',
      'scrypt$1024$8$1$c2FsdA==$',
      'scrypt$x$8$1$c2FsdA==$aGFzaA==',
      'scrypt$3000$8$1$c2FsdA==$' + Buffer.alloc(32).toString('base64'),
      good.replace('$argon2id$', '$argon2i$'),
      good.replace('$argon2id$', '$argon2d$'),
      good.replace('v=19', 'v=16'),
      good.replace('m=64,t=1,p=1', 't=1,m=64,p=1'),
      good.replace('m=64', 'm=0'),
      good.replace('m=64', 'm=99999999'),
      `$argon2id$v=19$m=64,t=1,p=1$${salt}$${key!.slice(0, 40)}`,
      `$argon2id$v=19$m=64,t=1,p=1$${salt}$${key}x`,
      `$argon2id$v=19$m=64,t=1,p=1$${salt}`,
    ]) {
      assert.equal(await verifyPassword('anything', bad), false, bad);
    }
    assert.equal(await verifyPassword('anything', good), true);
  });

  test('a changed cost or the earlier scheme asks for a rehash; the current cost does not', async () => {
    const h = await hashPassword('Some-Password-1', TEST_ARGON2);
    assert.equal(needsRehash(h, TEST_ARGON2), false);
    assert.equal(needsRehash(h, { ...TEST_ARGON2, memoryKiB: 128 }), true);
    assert.equal(needsRehash(h, { ...TEST_ARGON2, iterations: 2 }), true);
    assert.equal(needsRehash(h, { ...TEST_ARGON2, parallelism: 2 }), true);
    assert.equal(needsRehash(legacyScryptHash('Some-Password-1'), TEST_ARGON2), true);
    assert.equal(needsRehash('garbage', TEST_ARGON2), true);
  });

  test('history matching finds a reused password among hashes of both schemes', async () => {
    const hashes = [await hashPassword('Old-Password-1', TEST_ARGON2), legacyScryptHash('Old-Password-2')];
    assert.equal(await isInHistory('Old-Password-1', hashes), true);
    assert.equal(await isInHistory('Old-Password-2', hashes), true);
    assert.equal(await isInHistory('New-Password-3', hashes), false);
  });

  test('the unknown-user decoy is an Argon2id hash of the current cost', async () => {
    const decoy = await new DecoyHash(TEST_ARGON2).get();
    assert.match(decoy, /^\$argon2id\$v=19\$m=64,t=1,p=1\$/);
    assert.equal(needsRehash(decoy, TEST_ARGON2), false);
    const production = await new DecoyHash(DEFAULT_ARGON2).get();
    assert.equal(needsRehash(production, DEFAULT_ARGON2), false);
  });
});
