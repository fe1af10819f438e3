// The key service against a real SoftHSM2 token (one token directory for this file's process).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { KeyService, initSoftHsmToken, writeSoftHsmConfig, SOFTHSM_MODULE, generateMasterKeyMaterial } from '../../../appliance/keys/index.js';
import { KeysError } from '../../../appliance/errors/index.js';
import { pkcs11js } from '../../../appliance/keys/pkcs11-module.js';
import { tempDir } from '../../helpers/fixtures.js';

function code(e: unknown): string {
  assert.ok(e instanceof KeysError, `expected KeysError, got ${String(e)}`);
  return e.code;
}

describe('key service on a SoftHSM2 token', () => {
  const tmp = tempDir('warden-keys-');
  const conf = path.join(tmp.dir, 'softhsm2.conf');
  const opts = { module: SOFTHSM_MODULE, tokenLabel: 'warden-a', pin: 'user-pin-a', softhsmConf: conf };
  let keys: KeyService;

  before(() => {
    writeSoftHsmConfig(conf, path.join(tmp.dir, 'tokens'));
    initSoftHsmToken({ module: SOFTHSM_MODULE, softhsmConf: conf, label: 'warden-a', soPin: 'so-pin-a', userPin: 'user-pin-a' });
    initSoftHsmToken({ module: SOFTHSM_MODULE, softhsmConf: conf, label: 'warden-b', soPin: 'so-pin-b', userPin: 'user-pin-b' });
    initSoftHsmToken({ module: SOFTHSM_MODULE, softhsmConf: conf, label: 'warden-c', soPin: 'so-pin-c', userPin: 'user-pin-c' });
    keys = KeyService.open(opts);
    const material = generateMasterKeyMaterial();
    keys.importMasterKey(material);
    material.fill(0);
  });
  after(() => {
    keys.close();
    tmp.cleanup();
  });

  test('the master key is sensitive and non-extractable', () => {
    assert.equal(keys.masterKeyIsExtractable(), false);
  });

  test('a second master key cannot be imported over the first', () => {
    assert.throws(() => keys.importMasterKey(generateMasterKeyMaterial()), (e) => code(e) === 'KEYS_MASTER_KEY_EXISTS');
  });

  test('seal and open round-trip, with a fresh data key each time', () => {
    const secret = Buffer.from('db01 root password: päss-wörd ✓');
    const a = keys.seal(secret, 'credential:1');
    const b = keys.seal(secret, 'credential:1');
    assert.notDeepEqual(a, b);
    assert.equal(a.includes(secret), false, 'ciphertext does not contain the plaintext');
    assert.deepEqual(keys.open(a, 'credential:1'), secret);
    assert.deepEqual(keys.open(b, 'credential:1'), secret);
  });

  test('a sealed value moved to another record does not open', () => {
    const sealed = keys.seal(Buffer.from('s3cret'), 'credential:1');
    assert.throws(() => keys.open(sealed, 'credential:2'), (e) => code(e) === 'KEYS_DECRYPT_FAILED');
  });

  test('any flipped byte is detected', () => {
    const sealed = keys.seal(Buffer.from('s3cret value'), 'ctx');
    for (const at of [0, 5, 40, 62, 70, 85, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[at]! ^= 0x01;
      assert.throws(() => keys.open(bad, 'ctx'), (e) => code(e) === 'KEYS_DECRYPT_FAILED', `byte ${at}`);
    }
    assert.throws(() => keys.open(Buffer.alloc(10), 'ctx'), (e) => code(e) === 'KEYS_DECRYPT_FAILED');
  });

  test('wrapping happens on the token: another token cannot unwrap', () => {
    const other = KeyService.open({ ...opts, tokenLabel: 'warden-b', pin: 'user-pin-b' });
    try {
      other.importMasterKey(generateMasterKeyMaterial());
      const sealed = keys.seal(Buffer.from('only for token a'), 'ctx');
      assert.throws(() => other.open(sealed, 'ctx'), (e) => code(e) === 'KEYS_DECRYPT_FAILED');
    } finally {
      other.close();
    }
  });

  test('a wrong PIN fails closed with KEYS_PIN_INCORRECT', () => {
    assert.throws(() => KeyService.open({ ...opts, pin: 'wrong-pin' }), (e) => code(e) === 'KEYS_PIN_INCORRECT');
  });

  test('a PIN file that cannot be read fails closed', () => {
    assert.throws(() => KeyService.open({ ...opts, pin: undefined, pinFile: path.join(tmp.dir, 'nope') }), (e) => code(e) === 'KEYS_PIN_INCORRECT');
    const pinFile = path.join(tmp.dir, 'pin');
    writeFileSync(pinFile, 'user-pin-a\n');
    const k = KeyService.open({ ...opts, pin: undefined, pinFile });
    k.close();
  });

  test('a missing token fails closed with KEYS_TOKEN_MISSING', () => {
    assert.throws(() => KeyService.open({ ...opts, tokenLabel: 'no-such-token' }), (e) => code(e) === 'KEYS_TOKEN_MISSING');
  });

  test('a missing PKCS#11 module fails closed with KEYS_MODULE_MISSING', () => {
    keys.close();
    try {
      assert.throws(() => KeyService.open({ ...opts, module: '/usr/lib/nonexistent-pkcs11.so' }), (e) => code(e) === 'KEYS_MODULE_MISSING');
    } finally {
      keys = KeyService.open(opts);
    }
  });

  test('a token without a master key refuses every operation', () => {
    const empty = KeyService.open({ ...opts, tokenLabel: 'warden-c', pin: 'user-pin-c' });
    try {
      assert.equal(empty.hasMasterKey(), false);
      assert.throws(() => empty.seal(Buffer.from('x'), 'ctx'), (e) => code(e) === 'KEYS_MASTER_KEY_MISSING');
    } finally {
      empty.close();
    }
    assert.throws(() => empty.seal(Buffer.from('x'), 'ctx'), (e) => code(e) === 'KEYS_UNAVAILABLE', 'a closed service refuses too');
  });

  test('after the token logs our session out, the service logs in again by itself', () => {
    const sealed = keys.seal(Buffer.from('survives a logout'), 'ctx');
    // Another session on the same token logging out ends the login state of all its sessions.
    const lib = new pkcs11js.PKCS11();
    lib.load(SOFTHSM_MODULE);
    try {
      lib.C_Initialize();
    } catch {
      /* already initialized in this process */
    }
    const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === 'warden-a')!;
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
    lib.C_Logout(session);
    lib.C_CloseSession(session);
    assert.equal(keys.open(sealed, 'ctx').toString(), 'survives a logout');
  });
});
