// The key service against a real SoftHSM2 token (one token directory for this file's process).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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

  test('seal and open round-trip, with a fresh data key each time', async () => {
    const secret = Buffer.from('db01 root password: päss-wörd ✓');
    const a = await keys.seal(secret, 'credential:1');
    const b = await keys.seal(secret, 'credential:1');
    assert.notDeepEqual(a, b);
    assert.equal(a.includes(secret), false, 'ciphertext does not contain the plaintext');
    assert.deepEqual(await keys.open(a, 'credential:1'), secret);
    assert.deepEqual(await keys.open(b, 'credential:1'), secret);
  });

  test('a sealed value moved to another record does not open', async () => {
    const sealed = await keys.seal(Buffer.from('s3cret'), 'credential:1');
    await assert.rejects(keys.open(sealed, 'credential:2'), (e) => code(e) === 'KEYS_DECRYPT_FAILED');
  });

  test('any flipped byte is detected', async () => {
    const sealed = await keys.seal(Buffer.from('s3cret value'), 'ctx');
    for (const at of [0, 5, 40, 62, 70, 85, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[at]! ^= 0x01;
      await assert.rejects(keys.open(bad, 'ctx'), (e) => code(e) === 'KEYS_DECRYPT_FAILED', `byte ${at}`);
    }
    await assert.rejects(keys.open(Buffer.alloc(10), 'ctx'), (e) => code(e) === 'KEYS_DECRYPT_FAILED');
  });

  test('wrapping happens on the token: another token cannot unwrap', async () => {
    const other = KeyService.open({ ...opts, tokenLabel: 'warden-b', pin: 'user-pin-b' });
    try {
      other.importMasterKey(generateMasterKeyMaterial());
      const sealed = await keys.seal(Buffer.from('only for token a'), 'ctx');
      await assert.rejects(other.open(sealed, 'ctx'), (e) => code(e) === 'KEYS_DECRYPT_FAILED');
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

  test('a token without a master key refuses every operation', async () => {
    const empty = KeyService.open({ ...opts, tokenLabel: 'warden-c', pin: 'user-pin-c' });
    try {
      assert.equal(empty.hasMasterKey(), false);
      await assert.rejects(empty.seal(Buffer.from('x'), 'ctx'), (e) => code(e) === 'KEYS_MASTER_KEY_MISSING');
    } finally {
      empty.close();
    }
    await assert.rejects(empty.seal(Buffer.from('x'), 'ctx'), (e) => code(e) === 'KEYS_UNAVAILABLE', 'a closed service refuses too');
  });

  test('after the token logs our session out, the service logs in again by itself', async () => {
    const sealed = await keys.seal(Buffer.from('survives a logout'), 'ctx');
    logOutEverySession('warden-a');
    assert.equal((await keys.open(sealed, 'ctx')).toString(), 'survives a logout');
  });

  test('token calls run on several pooled sessions at once, off the event loop', async () => {
    const sealed = await Promise.all(Array.from({ length: 40 }, (_, i) => keys.seal(Buffer.from(`secret ${i}`), 'ctx')));
    let opened = 0;
    const all = Promise.all(sealed.map((s) => keys.open(s, 'ctx').then((plain) => (opened++, plain.toString()))));
    // Every session of the pool is busy with one call, the rest wait their turn...
    assert.deepEqual(keys.poolStatus(), { size: 4, busy: 4, waiting: 36 });
    // ...and the event loop keeps turning while the token works: a synchronous unseal would have finished
    // all of them before this callback could run.
    let turns = 0;
    await new Promise<void>((resolve) => {
      const turn = () => {
        turns++;
        if (opened === sealed.length) resolve();
        else setImmediate(turn);
      };
      setImmediate(turn);
    });
    assert.ok(turns > 1, `the event loop turned ${turns} times while 40 values were opened`);
    assert.deepEqual(await all, sealed.map((_, i) => `secret ${i}`));
    assert.deepEqual(keys.poolStatus(), { size: 4, busy: 0, waiting: 0 });
  });

  test('one re-login serves every pooled call that found the login gone', async () => {
    const sealed = await Promise.all(Array.from({ length: 24 }, (_, i) => keys.seal(Buffer.from(`v${i}`), 'ctx')));
    logOutEverySession('warden-a');
    const plain = await Promise.all(sealed.map((s) => keys.open(s, 'ctx')));
    assert.deepEqual(plain.map(String), sealed.map((_, i) => `v${i}`));
  });

  test('a re-login with a PIN that is now wrong fails closed for every waiting call, with one PIN try for all', async () => {
    const pinFile = path.join(tmp.dir, 'pin-relogin');
    writeFileSync(pinFile, 'user-pin-a\n');
    const k = KeyService.open({ ...opts, pin: undefined, pinFile });
    try {
      const sealed = await Promise.all(Array.from({ length: 12 }, () => k.seal(Buffer.from('never shown'), 'ctx')));
      writeFileSync(pinFile, 'wrong-pin\n');
      logOutEverySession('warden-a');
      const results = await Promise.allSettled(sealed.map((s) => k.open(s, 'ctx')));
      for (const r of results) {
        assert.equal(r.status, 'rejected', 'no plaintext without a login');
        assert.equal(code((r as PromiseRejectedResult).reason), 'KEYS_PIN_INCORRECT');
        // One login attempt answered them all: the same refusal, not one PIN try per call.
        assert.equal((r as PromiseRejectedResult).reason, (results[0] as PromiseRejectedResult).reason);
      }
      // Within the pause the refused PIN is not offered to the token again.
      await assert.rejects(k.open(sealed[0]!, 'ctx'), (e) => code(e) === 'KEYS_PIN_INCORRECT');
    } finally {
      k.close();
    }
    // Leave the token logged in with the right PIN for the other tests.
    await keys.open(await keys.seal(Buffer.from('x'), 'ctx'), 'ctx');
  });

  test('closing while calls run: each either finishes or fails with KEYS_UNAVAILABLE, nothing crashes', async () => {
    const k = KeyService.open({ ...opts, poolSize: 2 });
    const sealed = await Promise.all(Array.from({ length: 16 }, (_, i) => k.seal(Buffer.from(`c${i}`), 'ctx')));
    const pending = sealed.map((s) => k.open(s, 'ctx'));
    k.close();
    const results = await Promise.allSettled(pending);
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') assert.equal(r.value.toString(), `c${i}`);
      else assert.equal(code(r.reason), 'KEYS_UNAVAILABLE');
    });
    assert.ok(results.some((r) => r.status === 'rejected'), 'calls still waiting for a session are refused');
    await assert.rejects(k.open(sealed[0]!, 'ctx'), (e) => code(e) === 'KEYS_UNAVAILABLE');
    await keys.open(await keys.seal(Buffer.from('x'), 'ctx'), 'ctx');
  });
});

/** Another session on the same token logging out ends the login state of all of this process's sessions. */
function logOutEverySession(label: string): void {
  const lib = new pkcs11js.PKCS11();
  lib.load(SOFTHSM_MODULE);
  try {
    lib.C_Initialize();
  } catch {
    /* already initialized in this process */
  }
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === label)!;
  const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
  lib.C_Logout(session);
  lib.C_CloseSession(session);
}

describe('a token that another process is writing when the module initializes', () => {
  // SoftHSM leaves out a token whose files fail its integrity check at C_Initialize (another process mid-write):
  // reproduced here by a token whose files arrive in the token directory a moment after the open begins.
  const child = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'helpers', 'token-open-child.js');
  const open = (conf: string, marker = '') =>
    new Promise<string>((resolve) => execFile(process.execPath, [child, conf, 'late', 'user-pin-late', marker], (_e, out) => resolve(String(out).trim())));

  test('is looked for again, the module initialized anew, and found; a token that never comes fails as missing, soon', async () => {
    const tmp = tempDir('warden-late-token-');
    try {
      const ready = path.join(tmp.dir, 'ready');
      const late = path.join(tmp.dir, 'late');
      mkdirSync(late);
      writeSoftHsmConfig(path.join(tmp.dir, 'ready.conf'), ready);
      writeSoftHsmConfig(path.join(tmp.dir, 'late.conf'), late);
      execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'late', '--so-pin', 'so-pin-late', '--pin', 'user-pin-late'], { env: { ...process.env, SOFTHSM2_CONF: path.join(tmp.dir, 'ready.conf') }, stdio: 'ignore' });
      // The token's files land in the second directory 200 ms after the child begins its open.
      const marker = path.join(tmp.dir, 'opening');
      const copy = spawn('sh', ['-c', `while [ ! -e '${marker}' ]; do sleep 0.02; done; sleep 0.2 && cp -a '${ready}/.' '${late}/'`], { stdio: 'ignore' });
      const copied = new Promise((r) => copy.once('exit', r));
      const found = await open(path.join(tmp.dir, 'late.conf'), marker);
      await copied;
      assert.match(found, /^opened \d+$/, found);
      assert.ok(Number(found.split(' ')[1]) >= 150, `it waited for the token: ${found}`);
      const empty = path.join(tmp.dir, 'empty');
      mkdirSync(empty);
      writeSoftHsmConfig(path.join(tmp.dir, 'empty.conf'), empty);
      const missing = await open(path.join(tmp.dir, 'empty.conf'));
      assert.match(missing, /^failed KEYS_TOKEN_MISSING \d+$/, missing);
      assert.ok(Number(missing.split(' ')[2]) < 5000, `bounded: ${missing}`);
    } finally {
      tmp.cleanup();
    }
  });
});
