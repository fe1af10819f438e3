// SSH-key rotation on a real sshd with real local accounts, no agent: a new key pair of the old key's family is
// authorized in ~/.ssh/authorized_keys over a login with the current key, proved by its own login, then the old
// key's line is removed and the old key tried once more. Afterwards the new key logs in and the old one does not,
// the file's other lines stay as they were; an old key also authorized elsewhere (authorized_keys2) is reported
// as not revoked, the vault still taking the working new key; status control logs in with a vaulted key; the
// proxy's own login (ssh2) reads the rotated key.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, chownSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'ssh2';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import { generatePassword } from '../../appliance/rotation/index.js';
import { initializedHome, tempDir, type InitializedHome } from '../helpers/fixtures.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';
import { ensureTargetAccount } from '../helpers/terminal-proxy.js';
import { runOrbit } from '../helpers/orbit.js';

const ADMIN = { username: 'admin', ip: '127.0.0.1' };
const ACCOUNT = 'wrotkey';

function keyLogsIn(port: number, user: string, privateKey: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = new Client();
    c.on('ready', () => (c.end(), resolve(true)));
    c.on('error', () => resolve(false));
    c.connect({ host: '127.0.0.1', port, username: user, privateKey, readyTimeout: 10_000 });
  });
}

function homeOf(user: string): string {
  return execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).split(':')[5]!;
}

function keyPair(dir: string, name: string, type: 'ed25519' | 'rsa'): { privateKey: string; publicLine: string } {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-C', name, '-f', file]);
  return { privateKey: readFileSync(file, 'utf8'), publicLine: readFileSync(`${file}.pub`, 'utf8').trim() };
}

describe('SSH-key rotation (real sshd, authorized_keys)', { timeout: 120_000 }, () => {
  let home: InitializedHome;
  let a: Appliance;
  let sshd: Sshd;
  let work: ReturnType<typeof tempDir>;
  let deviceId: number;
  let authorizedKeys: string;
  let uid: number;
  let gid: number;

  /** The account's authorized_keys as the test leaves it: these lines, owned by the account, mode 600. */
  function authorize(lines: string[], file = authorizedKeys): void {
    writeFileSync(file, lines.map((l) => `${l}\n`).join(''), { mode: 0o600 });
    chownSync(file, uid, gid);
  }

  before(async () => {
    work = tempDir('warden-rotkey-');
    sshd = await startSshd(path.join(work.dir, 'sshd'));
    const first = keyPair(work.dir, 'first', 'ed25519');
    ensureTargetAccount(ACCOUNT, generatePassword(), first.publicLine);
    authorizedKeys = path.join(homeOf(ACCOUNT), '.ssh', 'authorized_keys');
    uid = Number(execFileSync('id', ['-u', ACCOUNT], { encoding: 'utf8' }));
    gid = Number(execFileSync('id', ['-g', ACCOUNT], { encoding: 'utf8' }));
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
    deviceId = (await a.devices.createDevice(ADMIN, { hostname: 'keyhost', address: '127.0.0.1', connectivity: `SSH:${sshd.port}`, type: 'Linux' })).id;
  });

  after(async () => {
    rmSync(path.join(homeOf(ACCOUNT), '.ssh', 'authorized_keys2'), { force: true });
    await a?.close();
    await sshd?.stop();
    home?.cleanup();
    work?.cleanup();
  });

  test('rotated: the new key logs in and is the vault\'s, the old one no longer does, the other lines stay', async () => {
    const old = keyPair(work.dir, 'old1', 'ed25519');
    const neighbour = keyPair(work.dir, 'neighbour', 'ed25519');
    // No newline at the end of the file: the new line must not join the last one.
    authorize([neighbour.publicLine, old.publicLine]);
    writeFileSync(authorizedKeys, readFileSync(authorizedKeys, 'utf8').trimEnd());
    const id = (await a.credentials.createCredential(ADMIN, { deviceId, username: ACCOUNT, secret: old.privateKey, secretKind: 'ssh-key', statusControl: true })).id;
    assert.equal((await a.rotation.checkStatus(id)).state, 'working', 'status control logs in with a vaulted key');
    const r = await a.rotation.rotate(ADMIN, id);
    assert.equal(r.executor, 'ssh-authorized-keys');
    assert.equal(r.oldKeyRevoked, true);
    const now = await a.credentials.secretOf(id);
    assert.notEqual(now, old.privateKey);
    assert.match(now, /^-----BEGIN OPENSSH PRIVATE KEY-----/);
    assert.equal(await keyLogsIn(sshd.port, ACCOUNT, now), true, 'the vault\'s new key logs in');
    assert.equal(await keyLogsIn(sshd.port, ACCOUNT, old.privateKey), false, 'the old key does not');
    const lines = readFileSync(authorizedKeys, 'utf8').split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.equal(lines[0], neighbour.publicLine, 'the other key\'s line is untouched');
    assert.match(lines[1]!, /^ssh-ed25519 [A-Za-z0-9+/=]+ warden-credential-\d+$/);
    assert.equal(await keyLogsIn(sshd.port, ACCOUNT, neighbour.privateKey), true);
    const [ev] = await a.store.repos.auditEvents.query({ type: 'credential.rotate', limit: 1 });
    assert.deepEqual(JSON.parse(ev!.detail), { trigger: 'manual', executor: 'ssh-authorized-keys', stage: 'committed', oldKeyRevoked: true });
    assert.ok(!ev!.detail.includes('PRIVATE'), 'no key in the event');
    assert.deepEqual((await a.credentials.versions(id)).map((v) => v.source), ['rotation', 'create']);
    // The proxies' login path (net/ssh-login through the rotation's own verify) reads the rotated key too.
    assert.equal((await a.rotation.checkStatus(id)).state, 'working');
  });

  test('an RSA key is replaced by an RSA key (a target without Ed25519 keeps working); orbit rotates too', async () => {
    const old = keyPair(work.dir, 'old-rsa', 'rsa');
    authorize([old.publicLine]);
    const id = (await a.credentials.createCredential(ADMIN, { deviceId, username: ACCOUNT, secret: old.privateKey, secretKind: 'ssh-key' })).id;
    const o = await runOrbit(home.home, ['credential', 'rotate', String(id)]);
    assert.equal(o.code, 0, o.stderr);
    assert.match(o.stdout, /rotated \(ssh-authorized-keys\).*new key is in the vault; the old key no longer logs in/);
    const lines = readFileSync(authorizedKeys, 'utf8').split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^ssh-rsa /);
    assert.equal(await keyLogsIn(sshd.port, ACCOUNT, await a.credentials.secretOf(id)), true);
    assert.equal(await keyLogsIn(sshd.port, ACCOUNT, old.privateKey), false);
  });

  test('an old key authorized elsewhere too is reported as not revoked; the vault still takes the new, working key', async () => {
    const old = keyPair(work.dir, 'old2', 'ed25519');
    authorize([old.publicLine]);
    // sshd's default AuthorizedKeysFile reads authorized_keys2 as well: a copy there is out of the rotation's reach.
    authorize([old.publicLine], `${authorizedKeys}2`);
    const id = (await a.credentials.createCredential(ADMIN, { deviceId, username: ACCOUNT, secret: old.privateKey, secretKind: 'ssh-key' })).id;
    const r = await a.rotation.rotate(ADMIN, id);
    assert.equal(r.oldKeyRevoked, false);
    const now = await a.credentials.secretOf(id);
    assert.equal(await keyLogsIn(sshd.port, ACCOUNT, now), true);
    const [ev] = await a.store.repos.auditEvents.query({ type: 'credential.rotate', limit: 1 });
    const detail = JSON.parse(ev!.detail);
    assert.equal(detail.oldKeyRevoked, false);
    assert.match(detail.said, /still logs in/);
    rmSync(`${authorizedKeys}2`);
  });

  test('a vaulted key the target no longer takes changes nothing and says why', async () => {
    const stale = keyPair(work.dir, 'stale', 'ed25519');
    const other = keyPair(work.dir, 'other', 'ed25519');
    authorize([other.publicLine]);
    const id = (await a.credentials.createCredential(ADMIN, { deviceId, username: ACCOUNT, secret: stale.privateKey, secretKind: 'ssh-key' })).id;
    await assert.rejects(a.rotation.rotate(ADMIN, id), (e: Error & { code?: string; details?: Record<string, unknown> }) => e.code === 'ROTATION_FAILED' && e.details?.reason === 'current-key-refused');
    assert.equal(await a.credentials.secretOf(id), stale.privateKey);
    assert.deepEqual(readFileSync(authorizedKeys, 'utf8').split('\n').filter((l) => l !== ''), [other.publicLine], 'the file is untouched');
    assert.equal((await a.rotation.checkStatus(id)).detail, 'the vaulted key does not log in');
    // Reconciliation sets passwords only.
    await assert.rejects(a.rotation.reconcile(ADMIN, id), /SSH key is rotated by the account itself/);
  });
});
