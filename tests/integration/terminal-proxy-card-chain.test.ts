// The smart card on the terminal proxy when the card's certificate was issued by an intermediate CA
// (root → intermediate → leaf; the key on a SoftHSM token, offered by `ssh -I`). SSH carries the key, never the
// certificate or its chain, so the proxy validates the bound certificate with the chain it can build itself:
// from the trust store (root and intermediate imported), or from the intermediates the client's browser sent at
// its last web login, remembered with the binding. The same rules as the web either way: every CA of the chain
// valid, each store CA active (an inactive one refuses whatever the client once sent), CRLs, the binding. A
// refusal is OpenSSH's one generic failure; the reason is in the audit trail.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, webcrypto } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Appliance } from '../../appliance/index.js';
import type { AuditEventRow, UserRow } from '../../appliance/store/index.js';
import { tempDir } from '../helpers/fixtures.js';
import { createCa, der, issueLeaf, type Issued } from '../helpers/pki.js';
import { proxyLab, type ProxyLab } from '../helpers/proxy-lab.js';
import { runSsh, type RunningProxy } from '../helpers/terminal-proxy.js';

const HELPERS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'helpers');
const SOFTHSM = '/usr/lib/softhsm/libsofthsm2.so';
const admin = { username: 'admin', ip: '127.0.0.1' };
// Its own target account: other test files use theirs, with other passwords, on the same machine.
const TARGET_USER = 'wchain';
/** Where the web logins that bind the certificates come from (their audit rows are told apart by it). */
const WEB_IP = '127.0.0.9';

interface Card {
  conf: string;
  pin: string;
  publicKey: webcrypto.CryptoKey;
}

describe('terminal proxy: smart-card login with a certificate issued by an intermediate CA', { timeout: 300_000 }, () => {
  let lab: ProxyLab;
  let proxy: RunningProxy;
  let a: Appliance;
  const work = tempDir('warden-cardchain-');
  const users: Record<string, { user: UserRow; password: string; card: Card }> = {};
  let runs = 0;

  /** A SoftHSM token of its own holding an ECDSA P-256 key made on it (not extractable), as a smart card. */
  async function card(name: string): Promise<Card> {
    const dir = path.join(work.dir, `card-${name}`);
    mkdirSync(path.join(dir, 'tokens'), { recursive: true });
    const conf = path.join(dir, 'softhsm2.conf');
    writeFileSync(conf, `directories.tokendir = ${path.join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    const pin = '135790';
    const env = { ...process.env, SOFTHSM2_CONF: conf };
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', name, '--so-pin', '24681012', '--pin', pin], { env, stdio: 'ignore' });
    const made = JSON.parse(execFileSync(process.execPath, [path.join(HELPERS, 'smart-card-keygen.js'), name, pin, `${name}-key`], { env, encoding: 'utf8' }));
    assert.equal(made.privateReadable, false);
    const publicKey = await webcrypto.subtle.importKey('raw', Buffer.from(made.point, 'hex'), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
    return { conf, pin, publicKey };
  }

  async function newCardUser(name: string): Promise<void> {
    const { row, password } = await lab.addUser(name, { password: 'kept', mfa: 'certificate' });
    users[name] = { user: row, password, card: await card(name) };
  }

  /** `ssh -I libsofthsm2.so` through the proxy: the card's key (PIN), then the password; prompts answered by askpass. */
  async function ssh(name: string, command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const u = users[name]!;
    const dir = path.join(work.dir, `run${++runs}`);
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'pin'), `${u.card.pin}\n`);
    writeFileSync(path.join(dir, 'password'), `${u.password}\n`);
    const askpass = path.join(dir, 'askpass');
    writeFileSync(askpass, `#!/bin/sh\ncase "$1" in\n  *PIN*) f=pin;;\n  *assword*) f=password;;\n  *) exit 1;;\nesac\ncat '${dir}/'$f\n`, { mode: 0o700 });
    const args = [
      '-F', '/dev/null',
      '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'IdentityAgent=none', '-o', 'PreferredAuthentications=publickey,keyboard-interactive,password', '-o', 'NumberOfPasswordPrompts=1',
      '-I', SOFTHSM,
      '-p', String(proxy.port), '-l', `${name}:${TARGET_USER}@chainhost`, '127.0.0.1', command,
    ];
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0', SOFTHSM2_CONF: u.card.conf };
    const { code, stdout, stderr } = await runSsh(args, env);
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    return { code, stdout, stderr };
  }

  /** Rows of `type` about `name` after `afterSeq`, oldest first, leaving out the web logins that bound the certificates. */
  async function rows(type: 'auth.login' | 'auth.proxy_login', name: string, afterSeq = 0): Promise<AuditEventRow[]> {
    return (await a.store.repos.auditEvents.query({ type, subject: name, limit: 200 })).reverse().filter((r) => r.seq > afterSeq && r.actor_ip !== WEB_IP);
  }
  const lastSeq = async () => (await a.store.repos.auditEvents.query({ limit: 1 }))[0]!.seq;
  const detail = (row: AuditEventRow | undefined) => JSON.parse(row?.detail ?? '{}') as Record<string, unknown>;
  const caId = async (ca: Issued) => (await a.trust.list()).find((c) => c.fingerprint === new X509Certificate(der(ca)).fingerprint256)!.id;
  /** OpenSSH's one failure line, without the part that names the user. */
  const failureLine = (stderr: string) => stderr.split('\n').filter((l) => /Permission denied/.test(l)).map((l) => l.trim().replace(/^.*?(?=Permission denied)/, ''));

  async function assertRefused(name: string, since: number, code: string, reason: RegExp): Promise<void> {
    const r = await ssh(name, 'echo must-not-run');
    assert.equal(r.code, 255, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(failureLine(r.stderr).length, 1, r.stderr);
    assert.match(failureLine(r.stderr)[0]!, /^Permission denied \([a-z,-]+\)\.$/);
    assert.doesNotMatch(r.stderr, /CA|certificate|inactive|trusted/i, 'nothing tells the client why');
    const refusals = (await rows('auth.login', name, since)).filter((e) => e.outcome === 'failure' && e.code === code);
    assert.equal(refusals.length, 1, `one ${code} refusal in the audit trail`);
    assert.deepEqual([detail(refusals[0]).method, detail(refusals[0]).protocol], ['certificate', 'ssh']);
    assert.match(String(detail(refusals[0]).reason), reason);
    assert.equal((await rows('auth.proxy_login', name, since)).length, 0, 'no login completed');
  }

  async function assertCardLogin(name: string, since: number): Promise<void> {
    const r = await ssh(name, 'echo card-through-chain');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'card-through-chain\n');
    const done = await rows('auth.proxy_login', name, since);
    assert.equal(done.length, 1);
    assert.equal(detail(done[0]).method, 'password+certificate');
  }

  let storeRoot: Issued;
  let storeInter: Issued;
  let sentInter: Issued;

  before(async () => {
    lab = await proxyLab({
      targetUser: TARGET_USER,
      settings: { lockout: { maxAttempts: 50, durationMinutes: 30 }, loginThrottle: { maxFailures: 10_000 } },
      hosts: ['chainhost'],
      startProxy: false,
    });
    a = lab.a;
    await newCardUser('ines');
    await newCardUser('otto');
    await lab.addGroup({ name: 'chain-ops', users: ['ines', 'otto'], hosts: ['chainhost'] });

    // ines: root and intermediate imported as trusted; her web login sent the leaf alone.
    storeRoot = await createCa('Chain Store Root');
    storeInter = await createCa('Chain Store Issuing', { parent: storeRoot });
    await a.trust.install(storeInter.pem + storeRoot.pem, admin);
    const inesLeaf = await issueLeaf(storeInter, { commonName: 'ines', email: 'ines@example.test', publicKey: users.ines!.card.publicKey });
    await a.certificates.verify(users.ines!.user, { leaf: der(inesLeaf), chain: [] }, WEB_IP);

    // otto: only the root imported; his browser sent the intermediate with the leaf at the web login.
    const sentRoot = await createCa('Chain Sent Root');
    sentInter = await createCa('Chain Sent Issuing', { parent: sentRoot });
    await a.trust.install(sentRoot.pem, admin);
    const ottoLeaf = await issueLeaf(sentInter, { commonName: 'otto', email: 'otto@example.test', publicKey: users.otto!.card.publicKey });
    await a.certificates.verify(users.otto!.user, { leaf: der(ottoLeaf), chain: [der(sentInter)] }, WEB_IP);

    proxy = await lab.startProxy();
  });

  after(async () => {
    await lab?.stop();
    work.cleanup();
  });

  test('root and intermediate in the trust store: the card key logs in (password + certificate) and a session runs', async () => {
    await assertCardLogin('ines', await lastSeq());
  });

  test('the intermediate inactivated: the generic failure, CERT_CA_INACTIVE with the CA in the audit trail; active again, the card works again', async () => {
    const id = await caId(storeInter);
    await a.trust.setActive(id, false, admin);
    try {
      await assertRefused('ines', await lastSeq(), 'CERT_CA_INACTIVE', /CA CN=Chain Store Issuing, O=Warden Test is inactive/);
    } finally {
      await a.trust.setActive(id, true, admin);
    }
    await assertCardLogin('ines', await lastSeq());
  });

  test('the root inactivated takes the intermediate below it along', async () => {
    const id = await caId(storeRoot);
    await a.trust.setActive(id, false, admin);
    try {
      await assertRefused('ines', await lastSeq(), 'CERT_CA_INACTIVE', /CA CN=Chain Store Root, O=Warden Test is inactive/);
    } finally {
      await a.trust.setActive(id, true, admin);
    }
  });

  test('an intermediate only the browser sent at the web login: remembered with the binding, the card key logs in over SSH', async () => {
    await assertCardLogin('otto', await lastSeq());
  });

  test('forced certificate for proxy sessions: the gate re-validates through the remembered intermediate and lets the session open', async () => {
    await a.settings.update({ mfa: { forceCertificateForProxy: true } }, 'admin', null);
    // The change feed carries the setting to the daemon within its poll interval.
    await new Promise((r) => setTimeout(r, 800));
    try {
      const starts = (await a.store.repos.auditEvents.query({ type: 'session.start', limit: 500 })).length;
      await assertCardLogin('otto', await lastSeq());
      assert.equal((await a.store.repos.auditEvents.query({ type: 'session.start', limit: 500 })).length, starts + 1);
    } finally {
      await a.settings.update({ mfa: { forceCertificateForProxy: false } }, 'admin', null);
      await new Promise((r) => setTimeout(r, 800));
    }
  });

  test('that intermediate imported later and inactivated: the store decides, whatever the browser once sent', async () => {
    await a.trust.install(sentInter.pem, admin);
    const id = await caId(sentInter);
    await a.trust.setActive(id, false, admin);
    await assertRefused('otto', await lastSeq(), 'CERT_CA_INACTIVE', /CA CN=Chain Sent Issuing, O=Warden Test is inactive/);
    await a.trust.setActive(id, true, admin);
    await assertCardLogin('otto', await lastSeq());
  });
});
