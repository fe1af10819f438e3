// SSH public keys, with OpenSSH's ssh-keygen as the oracle: the keys it makes are read, their fingerprints are
// what `ssh-keygen -l` prints, the blob made from an X.509/PKCS#8 key is what `ssh-keygen -i -m PKCS8` makes,
// and what must be refused (private keys, DSA, short RSA, options, garbage) is refused with a clear reason.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createSign, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { parseAuthorizedKeyLine, parseSshPublicKey, sshBlobOfKey, authorizedKeyLine, verifySshSignature } from '../../../appliance/auth/index.js';
import { InputError } from '../../../appliance/errors/index.js';
import { tempDir } from '../../helpers/fixtures.js';

describe('SSH public keys', () => {
  const tmp = tempDir('warden-sshkeys-');
  after(() => tmp.cleanup());

  function keygen(type: string, bits?: number): { pub: string; priv: string; fingerprint: string } {
    const file = path.join(tmp.dir, `${type}-${bits ?? 0}-${Math.random().toString(36).slice(2)}`);
    execFileSync('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', String(bits)] : []), '-N', '', '-C', `tester@${type}`, '-f', file]);
    const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
    return { pub: readFileSync(`${file}.pub`, 'utf8'), priv: readFileSync(file, 'utf8'), fingerprint };
  }

  const refused = (line: string, pattern: RegExp) => assert.throws(() => parseAuthorizedKeyLine(line), (e: unknown) => e instanceof InputError && pattern.test(e.message));

  for (const [type, bits] of [['ed25519', undefined], ['ecdsa', 256], ['ecdsa', 384], ['ecdsa', 521], ['rsa', 2048], ['rsa', 3072]] as const) {
    test(`an ssh-keygen ${type}${bits ? `-${bits}` : ''} key is read; its fingerprint is the one ssh-keygen prints`, () => {
      const k = keygen(type, bits);
      const parsed = parseAuthorizedKeyLine(k.pub);
      assert.equal(parsed.fingerprint, k.fingerprint);
      assert.equal(parsed.comment, `tester@${type}`);
      assert.equal(authorizedKeyLine(parsed.blob, parsed.comment), k.pub.trim());
    });
  }

  test('refused: a private key, DSA, RSA under 2048 bits, options, a wrong type name, garbage, several lines', () => {
    const ed = keygen('ed25519');
    refused(ed.priv, /private key/);
    assert.throws(() => parseAuthorizedKeyLine(ed.priv), (e: unknown) => e instanceof InputError && !e.message.includes(ed.priv.split('\n')[1]!.slice(0, 20)), 'nothing of the private key is echoed');
    refused(keygen('dsa').pub, /DSA keys are not accepted/);
    refused(keygen('rsa', 1024).pub, /at least 2048 bits \(this one has 1024\)/);
    refused(`from="127.0.0.1" ${ed.pub}`, /options/);
    refused(ed.pub.replace('ssh-ed25519', 'ssh-rsa'), /the line says "ssh-rsa" but the key is ssh-ed25519/);
    refused('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBadKey', /truncated|not a valid|32 bytes/);
    refused('hello world', /not an OpenSSH public key/);
    refused('hello', /not an OpenSSH public key line/);
    refused('', /empty/);
    refused(`${ed.pub}\n${keygen('ed25519').pub}`, /one key per request/);
    refused(ed.pub.trim() + ' evil\u0007comment', /control characters/);
  });

  test('refused: what ssh2 would read but OpenSSH refuses (trailing bytes, a curve name not the type\'s, a compressed point)', () => {
    const str = (b: Buffer | string) => {
      const body = typeof b === 'string' ? Buffer.from(b) : b;
      const length = Buffer.alloc(4);
      length.writeUInt32BE(body.length);
      return Buffer.concat([length, body]);
    };
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const good = sshBlobOfKey(ec)!;
    assert.equal(parseSshPublicKey(good).bits, 256);
    const jwk = ec.export({ format: 'jwk' });
    const x = Buffer.from(jwk.x!, 'base64url');
    const y = Buffer.from(jwk.y!, 'base64url');
    const bad = [
      Buffer.concat([good, Buffer.from([0])]),
      Buffer.concat([str('ecdsa-sha2-nistp256'), str('nistp384'), str(Buffer.concat([Buffer.from([4]), x, y]))]),
      Buffer.concat([str('ecdsa-sha2-nistp256'), str('nistp256'), str(Buffer.concat([Buffer.from([2 + (y[y.length - 1]! & 1)]), x]))]),
    ];
    for (const [i, blob] of bad.entries()) {
      assert.throws(() => parseSshPublicKey(blob), (e: unknown) => e instanceof InputError && /malformed|not a valid/.test(e.message), `case ${i}`);
      assert.throws(() => parseAuthorizedKeyLine(`ecdsa-sha2-nistp256 ${blob.toString('base64')}`), InputError, `case ${i} as a line`);
    }
  });

  test("a certificate key's SSH blob (RSA, ECDSA P-256/P-384) is the one ssh-keygen derives from the same public key; Ed25519 reads back", () => {
    const pairs: KeyObject[] = [
      generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey,
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
      generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey,
      generateKeyPairSync('ed25519').publicKey,
    ];
    for (const [i, key] of pairs.entries()) {
      // ssh-keygen cannot convert an Ed25519 SPKI: that one is checked by reading it back only.
      if (key.asymmetricKeyType === 'ed25519') {
        assert.ok(parseSshPublicKey(sshBlobOfKey(key)!).key.equals(key));
        continue;
      }
      const pem = path.join(tmp.dir, `pub-${i}.pem`);
      writeFileSync(pem, key.export({ type: 'spki', format: 'pem' }));
      const expected = execFileSync('ssh-keygen', ['-i', '-m', 'PKCS8', '-f', pem], { encoding: 'utf8' }).trim().split(' ')[1]!;
      assert.equal(sshBlobOfKey(key)!.toString('base64'), expected, key.asymmetricKeyType);
      // And read back into the same key.
      assert.ok(parseSshPublicKey(sshBlobOfKey(key)!).key.equals(key));
    }
  });

  test('the key read from a blob verifies a signature its private key made (the path a proxy verifies with)', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const data = Buffer.from('session id and userauth request');
    const signature = createSign('sha256').update(data).sign(privateKey);
    const key = parseSshPublicKey(sshBlobOfKey(publicKey)!).key;
    assert.equal(verify('sha256', data, key, signature), true);
    assert.equal(verify('sha256', Buffer.from('other data'), key, signature), false);
  });

  test('verifySshSignature takes signatures as ssh2 hands them over: RSA with its hash, ECDSA (DER) and Ed25519 by key type', () => {
    const data = Buffer.from('session id and userauth request');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsaBlob = sshBlobOfKey(rsa.publicKey)!;
    for (const hashAlgo of ['sha256', 'sha512']) {
      const signature = sign(hashAlgo, data, rsa.privateKey);
      assert.equal(verifySshSignature(rsaBlob, { blob: data, signature, hashAlgo }), true, hashAlgo);
      assert.equal(verifySshSignature(rsaBlob, { blob: data, signature, hashAlgo: hashAlgo === 'sha256' ? 'sha512' : 'sha256' }), false);
    }
    assert.equal(verifySshSignature(rsaBlob, { blob: data, signature: sign('md5', data, rsa.privateKey), hashAlgo: 'md5' }), false, 'only the hashes SSH names');
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    assert.equal(verifySshSignature(sshBlobOfKey(p384.publicKey)!, { blob: data, signature: sign('sha384', data, p384.privateKey) }), true);
    const ed = generateKeyPairSync('ed25519');
    const edBlob = sshBlobOfKey(ed.publicKey)!;
    assert.equal(verifySshSignature(edBlob, { blob: data, signature: sign(null, data, ed.privateKey) }), true);
    assert.equal(verifySshSignature(edBlob, { blob: Buffer.from('tampered'), signature: sign(null, data, ed.privateKey) }), false);
    assert.equal(verifySshSignature(Buffer.from('garbage'), { blob: data, signature: Buffer.alloc(64) }), false);
  });
});

