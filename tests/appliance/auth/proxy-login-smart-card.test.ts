// The smart card on SSH: the key of the user's bound X.509 certificate lives on a SoftHSM token (made there,
// not extractable). OpenSSH's `ssh-keygen -D` lists the token's key: it is the blob Warden derives from the
// bound certificate. A signature made on the token verifies with the key read from that blob (the path a
// proxy verifies an SSH signature with). Then: password + card key logs in, judged by the web's validator;
// the forced-certificate gate lets only that login through; an inactive CA or a revoked binding fails it.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync, randomBytes, sign, verify, webcrypto } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Appliance } from '../../../appliance/index.js';
import { loadConfig } from '../../../appliance/config/index.js';
import { authorizedKeyLine, parseSshPublicKey, sshBlobOfKey, verifySshSignature, type ProxyAuthentication, type ProxyStep, type SshSignature } from '../../../appliance/auth/index.js';
import type { AuditEventRow, UserRow } from '../../../appliance/store/index.js';
import { initializedHome, strongPassword, tempDir, type InitializedHome } from '../../helpers/fixtures.js';
import ssh2Package from 'ssh2';
import { createCa, der, issueLeaf, type Issued } from '../../helpers/pki.js';

// ssh2 (the proxy's SSH library) drives ProxyLogin as the terminal proxy does. The narrow interfaces below
// are the part of ssh2's server this test relies on.
interface Ssh2AuthContext {
  method: string;
  password?: string;
  key?: { algo: string; data: Buffer };
  signature?: Buffer;
  blob?: Buffer;
  hashAlgo?: string;
  accept(): void;
  reject(methods?: string[], partial?: boolean): void;
}
interface Ssh2Connection {
  on(event: 'authentication', listener: (ctx: Ssh2AuthContext) => void): void;
  on(event: 'ready' | 'error', listener: () => void): void;
  end(): void;
}
interface Ssh2Module {
  Server: new (config: { hostKeys: Buffer[] }, onClient: (client: Ssh2Connection) => void) => { listen(port: number, host: string, cb: () => void): void; address(): unknown; close(): void };
}
const ssh2 = ssh2Package as unknown as Ssh2Module;

const HELPERS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'helpers');
const SOFTHSM = '/usr/lib/softhsm/libsofthsm2.so';
const admin = { username: 'admin', ip: '127.0.0.1' };

/** r‖s (IEEE P1363) as the DER SEQUENCE of two INTEGERs that ssh2 hands a verifier for an ECDSA SSH signature. */
function derSignature(raw: Buffer): Buffer {
  const int = (b: Buffer) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    const v = b[i]! & 0x80 ? Buffer.concat([Buffer.from([0]), b.subarray(i)]) : b.subarray(i);
    return Buffer.concat([Buffer.from([0x02, v.length]), v]);
  };
  const half = raw.length / 2;
  const body = Buffer.concat([int(raw.subarray(0, half)), int(raw.subarray(half))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

describe('the smart-card certificate key on SSH (SoftHSM token)', () => {
  let home: InitializedHome;
  let a: Appliance;
  const card = tempDir('warden-sshcard-');
  const pin = '246810';
  let env: NodeJS.ProcessEnv;
  let root: Issued;
  let leaf: Issued;
  let caId: number;
  let user: UserRow;
  let password: string;
  let tokenBlob: Buffer;

  before(async () => {
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
    mkdirSync(path.join(card.dir, 'tokens'));
    writeFileSync(path.join(card.dir, 'softhsm2.conf'), `directories.tokendir = ${path.join(card.dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    env = { ...process.env, SOFTHSM2_CONF: path.join(card.dir, 'softhsm2.conf') };
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'card', '--so-pin', '13579111', '--pin', pin], { env, stdio: 'ignore' });
    const made = JSON.parse(execFileSync(process.execPath, [path.join(HELPERS, 'smart-card-keygen.js'), 'card', pin, 'alice-key'], { env, encoding: 'utf8' }));
    assert.equal(made.privateReadable, false);
    const publicKey = await webcrypto.subtle.importKey('raw', Buffer.from(made.point, 'hex'), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
    root = await createCa('SSH Card Root');
    caId = (await a.trust.install(root.pem, admin))[0]!.id;
    password = strongPassword();
    const created = await a.users.create(admin, { username: 'carol', fullName: 'Carol', email: 'carol@example.test', profile: 'privileged-access-user', password });
    await a.store.repos.users.update(created.user.id, { must_change_password: false });
    user = await a.users.setMfaMethod(admin, created.user.id, 'certificate');
    leaf = await issueLeaf(root, { commonName: 'carol', email: 'carol@example.test', publicKey });
    // Bound at a web login (SSH carries the key, not the certificate).
    await a.certificates.verify(user, { leaf: der(leaf), chain: [] }, '127.0.0.1');
    // What OpenSSH reads off the token (`ssh -I` offers exactly this key): no PIN needed to list it.
    const listed = execFileSync('ssh-keygen', ['-D', SOFTHSM], { env, encoding: 'utf8' }).trim().split('\n');
    assert.equal(listed.length, 1, listed.join('\n'));
    tokenBlob = Buffer.from(listed[0]!.split(' ')[1]!, 'base64');
  });
  after(async () => {
    await a?.close();
    home?.cleanup();
    card.cleanup();
  });

  const begin = () => a.proxyLogins.begin({ username: 'carol', ip: '127.0.0.7', protocol: 'ssh' });
  const offered = () => ({ algo: 'ecdsa-sha2-nistp256', data: tokenBlob });
  const last = async (type: 'auth.mfa' | 'auth.proxy_login', outcome?: string): Promise<AuditEventRow | undefined> =>
    (await a.store.repos.auditEvents.query({ type, subject: 'carol', limit: 50 })).find((r) => outcome === undefined || r.outcome === outcome);

  /**
   * The token signs fresh data (standing in for session id + userauth request) as the card signs an SSH login;
   * the signature is handed on as ssh2 hands it to a server (DER for ECDSA), after checking with node:crypto
   * that the key read from the offered blob verifies it (ssh2's `parseKey(blob).verify(data, sig)` does the same).
   */
  function cardSignature(data = randomBytes(64)): SshSignature {
    const raw = Buffer.from(execFileSync(process.execPath, [path.join(HELPERS, 'smart-card-sign.js'), 'card', pin, 'alice-key', data.toString('hex')], { env, encoding: 'utf8' }).trim(), 'hex');
    const signature = derSignature(raw);
    const key = parseSshPublicKey(tokenBlob).key;
    assert.equal(verify('sha256', data, key, signature), true, 'the card signature verifies with the blob key');
    assert.equal(verify('sha256', Buffer.from('something else'), key, signature), false, 'the check can fail');
    return { blob: data, signature };
  }

  test("the token's SSH key (ssh-keygen -D) is the bound certificate's key, and a signature made on the card verifies with it", async () => {
    const bound = await a.certificates.boundKeyBlob(user.id);
    assert.ok(bound);
    assert.equal(bound.blob.toString('base64'), tokenBlob.toString('base64'));
    assert.equal(verifySshSignature(tokenBlob, cardSignature()), true);
  });

  let cardLogin: ProxyAuthentication;

  test('password, then the card key: logged in as password+certificate, the certificate use logged and audited', async () => {
    const login = begin();
    assert.deepEqual(await login.password(password), { outcome: 'continue', due: 'certificate' });
    assert.deepEqual(await login.publicKey(offered()), { outcome: 'acceptable' });
    const step = await login.publicKey(offered(), cardSignature());
    assert.equal(step.outcome, 'success');
    cardLogin = login.result();
    // A signature of other data than what was signed does not log in (ssh2 hands over both; Warden checks).
    const forged = begin();
    await forged.password(password);
    const real = cardSignature();
    assert.equal((await forged.publicKey(offered(), { blob: randomBytes(64), signature: real.signature })).outcome, 'failure');
    assert.equal((await last('auth.mfa', 'failure'))!.code, 'AUTH_SIGNATURE_INVALID');
    const binding = (await a.certificates.list({ userId: user.id }))[0]!;
    assert.deepEqual(cardLogin, { userId: user.id, username: 'carol', method: 'password+certificate', certificateFingerprint: binding.fingerprint });
    const mfa = await last('auth.mfa', 'success');
    assert.deepEqual(JSON.parse(mfa!.detail), { method: 'certificate', protocol: 'ssh', fingerprint: binding.fingerprint });
    const usage = await a.certificates.usage({ userId: user.id });
    assert.equal(usage[0]!.event, 'use');
    assert.equal(usage[0]!.ip, '127.0.0.7');
  });

  test('the card key first, then the password, works too; the card key alone does not (one factor) unless allowed', async () => {
    const login = begin();
    assert.deepEqual(await login.publicKey(offered(), cardSignature()), { outcome: 'continue', due: 'password' });
    assert.equal((await login.password(password)).outcome, 'success');
    assert.equal(login.result().method, 'password+certificate');
    await a.settings.update({ ssh: { allowPublicKeyAsSoleFactor: true } }, 'admin', null);
    try {
      const alone = begin();
      assert.equal((await alone.publicKey(offered(), cardSignature())).outcome, 'success');
      assert.equal(alone.result().method, 'certificate');
    } finally {
      await a.settings.update({ ssh: { allowPublicKeyAsSoleFactor: false } }, 'admin', null);
    }
  });

  test('OpenSSH `ssh -I libsofthsm2.so` against an ssh2 server that drives ProxyLogin: card key, then password (partial success)', async () => {
    const hostKey = path.join(card.dir, 'host');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
    // Answers OpenSSH's prompts: the card's PIN, then the Warden password.
    const askpass = path.join(card.dir, 'askpass');
    writeFileSync(askpass, `#!/bin/sh\ncase "$1" in *PIN*) echo '${pin}';; *) echo '${password}';; esac\n`, { mode: 0o700 });
    const results: ProxyAuthentication[] = [];
    const server = new ssh2.Server({ hostKeys: [readFileSync(hostKey)] }, (client: Ssh2Connection) => {
      const login = a.proxyLogins.begin({ username: 'carol', ip: '127.0.0.1', protocol: 'ssh' });
      // The mapping a proxy uses: what is due → which SSH methods to offer next.
      const methods = () => (login.due === 'certificate' ? ['publickey'] : login.due === 'totp' ? ['keyboard-interactive'] : login.due === 'password' ? ['password'] : ['publickey', 'password']);
      client.on('authentication', (ctx: Ssh2AuthContext) => {
        const answer = (step: ProxyStep | { outcome: 'acceptable' }) => {
          if (step.outcome === 'success' || (step.outcome === 'acceptable' && !ctx.signature)) return ctx.accept();
          return ctx.reject(methods(), step.outcome === 'continue');
        };
        const run = async () => {
          if (ctx.method === 'password') return answer(await login.password(ctx.password!));
          if (ctx.method === 'publickey') return answer(await login.publicKey(ctx.key!, ctx.signature ? { blob: ctx.blob!, signature: ctx.signature, ...(ctx.hashAlgo ? { hashAlgo: ctx.hashAlgo } : {}) } : undefined));
          return ctx.reject(methods());
        };
        run().catch(() => ctx.reject());
      });
      client.on('ready', () => {
        results.push(login.result());
        client.end();
      });
      client.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      // Asynchronously: the server answering it runs in this process.
      const stderr = await new Promise<string>((resolve) => {
        execFile(
          'ssh',
          ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'PreferredAuthentications=publickey,password', '-I', SOFTHSM, '-p', String(port), 'carol@127.0.0.1', 'true'],
          { env: { ...env, HOME: card.dir, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' }, timeout: 20_000 },
          (_error, _stdout, err) => resolve(String(err)),
        ).stdin?.end();
      });
      assert.equal(results.length, 1, stderr);
      assert.equal(results[0]!.method, 'password+certificate');
      assert.equal(results[0]!.certificateFingerprint, (await a.certificates.list({ userId: user.id }))[0]!.fingerprint);
    } finally {
      server.close();
    }
  });

  test('forced certificate for proxy sessions: only a login made with the bound card key passes the gate', async () => {
    await a.settings.update({ mfa: { forceCertificateForProxy: true } }, 'admin', null);
    try {
      assert.deepEqual(await a.certificates.proxySessionAllowed(user.id, cardLogin), { allowed: true });
      const totp = await a.certificates.proxySessionAllowed(user.id, { method: 'password+totp' });
      assert.equal(totp.allowed, false);
      // A registered key, even alone where the settings allow it, is no certificate.
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      const blob = sshBlobOfKey(publicKey)!;
      await a.sshKeys.add({ username: 'carol', ip: '127.0.0.1' }, user.id, authorizedKeyLine(blob));
      await a.settings.update({ ssh: { allowPublicKeyAsSoleFactor: true } }, 'admin', null);
      const keyLogin = begin();
      assert.equal((await keyLogin.publicKey({ algo: 'ssh-ed25519', data: blob }, { blob: Buffer.from('signed'), signature: sign(null, Buffer.from('signed'), privateKey) })).outcome, 'success');
      await a.settings.update({ ssh: { allowPublicKeyAsSoleFactor: false } }, 'admin', null);
      const byKey = await a.certificates.proxySessionAllowed(user.id, keyLogin.result());
      assert.deepEqual(byKey.allowed ? null : byKey.code, 'CERT_MISSING');
      // Through the one admission call: refused as certificate-required for the key, not for the card.
      const refused = await a.sessions.open({ userId: user.id, deviceId: 999, credentialId: 999, protocol: 'ssh', source: '127.0.0.7', authentication: keyLogin.result() });
      assert.deepEqual(refused, { admitted: false, refusal: { kind: 'certificate-required', code: 'CERT_MISSING' } });
      const passed = await a.sessions.open({ userId: user.id, deviceId: 999, credentialId: 999, protocol: 'ssh', source: '127.0.0.7', authentication: cardLogin });
      assert.deepEqual(passed, { admitted: false, refusal: { kind: 'denied' } }, 'past the certificate gate, the access decision decides');
    } finally {
      await a.settings.update({ mfa: { forceCertificateForProxy: false } }, 'admin', null);
    }
  });

  test('an inactivated CA fails the card key at the next login and at the gate; active again, it works', async () => {
    await a.settings.update({ mfa: { forceCertificateForProxy: true } }, 'admin', null);
    await a.trust.setActive(caId, false, admin);
    try {
      const gate = await a.certificates.proxySessionAllowed(user.id, cardLogin);
      assert.deepEqual(gate.allowed ? null : gate.code, 'CERT_CA_INACTIVE');
      const login = begin();
      assert.equal((await login.password(password)).outcome, 'continue');
      assert.deepEqual(await login.publicKey(offered(), cardSignature()), { outcome: 'failure' });
      const failure = await last('auth.mfa', 'failure');
      assert.equal(failure!.code, 'CERT_CA_INACTIVE');
      assert.equal(JSON.parse(failure!.detail).protocol, 'ssh');
      assert.equal((await a.certificates.usage({ userId: user.id }))[0]!.event, 'failure');
    } finally {
      await a.trust.setActive(caId, true, admin);
    }
    const again = begin();
    await again.password(password);
    assert.equal((await again.publicKey(offered(), cardSignature())).outcome, 'success');
    await a.settings.update({ mfa: { forceCertificateForProxy: false } }, 'admin', null);
  });

  test('a revoked binding: the card key is no longer acceptable, and the earlier login no longer passes the gate', async () => {
    const binding = (await a.certificates.list({ userId: user.id }))[0]!;
    await a.certificates.revoke(binding.id, admin);
    await a.settings.update({ mfa: { forceCertificateForProxy: true } }, 'admin', null);
    try {
      const gate = await a.certificates.proxySessionAllowed(user.id, cardLogin);
      assert.deepEqual(gate.allowed ? null : gate.code, 'CERT_NOT_BOUND_CERT');
      const login = begin();
      assert.equal((await login.password(password)).outcome, 'continue');
      assert.deepEqual(await login.publicKey(offered()), { outcome: 'failure' }, 'the query no longer accepts the key');
      assert.deepEqual(await login.publicKey(offered(), cardSignature()), { outcome: 'failure' });
      assert.equal((await last('auth.mfa', 'failure'))!.code, 'CERT_MISSING');
    } finally {
      await a.settings.update({ mfa: { forceCertificateForProxy: false } }, 'admin', null);
    }
  });
});
