// Discovery on a real sshd with real local accounts and a real sudo: the accounts, which are privileged and why
// (uid 0, sudoers), password ages (read through sudo), authorized keys; a second run finds nothing new, a third a
// new uid-0 account and a new key and an old key gone; a found account imported with a new password set through
// the discovery credential (it logs in); a key cannot be imported; dismissing; without sudo the run says what it
// could not read; the API and orbit.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import path from 'node:path';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import { generatePassword, type FindingView } from '../../appliance/rotation/index.js';
import { initializedHome, strongPassword, tempDir, type InitializedHome } from '../helpers/fixtures.js';
import { passwordLogsIn, startSshd, type Sshd } from '../helpers/sshd.js';
import { ensureTargetAccount } from '../helpers/terminal-proxy.js';
import { runOrbit } from '../helpers/orbit.js';
import { ApiClient, startWebDaemon } from '../helpers/web-daemon.js';

const ADMIN = { username: 'admin', ip: '127.0.0.1' };
const DISCOVERER = 'wdiscover';
const PLAIN = 'wdiscplain';
const USER = 'wdisc1';
const ROOTLIKE = 'wdiscz';
const SUDOERS_FILE = '/etc/sudoers.d/warden-test-discovery';

function keyPair(dir: string, name: string): string {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
  return readFileSync(`${file}.pub`, 'utf8').trim();
}

function fingerprint(publicLine: string): string {
  return execFileSync('ssh-keygen', ['-l', '-f', '-'], { input: publicLine, encoding: 'utf8' }).split(' ')[1]!;
}

describe('discovery (real sshd, real sudo)', { timeout: 180_000 }, () => {
  let home: InitializedHome;
  let a: Appliance;
  let sshd: Sshd;
  let work: ReturnType<typeof tempDir>;
  let deviceId: number;
  let discoverer: number;
  const pw = { discoverer: generatePassword(), plain: generatePassword(), user: generatePassword() };
  let firstKey: string;
  let userKeys: string;

  before(async () => {
    work = tempDir('warden-discovery-');
    sshd = await startSshd(path.join(work.dir, 'sshd'));
    firstKey = keyPair(work.dir, 'k1');
    ensureTargetAccount(DISCOVERER, pw.discoverer);
    ensureTargetAccount(PLAIN, pw.plain);
    ensureTargetAccount(USER, pw.user, firstKey);
    userKeys = path.join(execFileSync('getent', ['passwd', USER], { encoding: 'utf8' }).split(':')[5]!, '.ssh', 'authorized_keys');
    writeFileSync(SUDOERS_FILE, `${DISCOVERER} ALL=(root) NOPASSWD: ALL\n`, { mode: 0o440 });
    execFileSync('visudo', ['-c', '-q', '-f', SUDOERS_FILE]);
    spawnSync('userdel', ['-f', ROOTLIKE], { stdio: 'ignore' });
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
    deviceId = (await a.devices.createDevice(ADMIN, { hostname: 'disc01', address: '127.0.0.1', connectivity: `SSH:${sshd.port}`, type: 'Linux' })).id;
    discoverer = (await a.credentials.createCredential(ADMIN, { deviceId, username: DISCOVERER, secret: pw.discoverer })).id;
  });

  after(async () => {
    rmSync(SUDOERS_FILE, { force: true });
    spawnSync('userdel', ['-f', ROOTLIKE], { stdio: 'ignore' });
    await a?.close();
    await sshd?.stop();
    home?.cleanup();
    work?.cleanup();
  });

  const pending = async (): Promise<FindingView[]> => a.discovery.list({ deviceId, review: 'pending', limit: 500, offset: 0 });
  const account = (list: FindingView[], name: string) => list.find((f) => f.kind === 'account' && f.name === name);

  test('the first run finds the accounts, who is privileged and why, password ages, and the keys', async () => {
    await assert.rejects(a.discovery.run(ADMIN, deviceId), /name the discovery credential/);
    const r = await a.discovery.run(ADMIN, deviceId, discoverer);
    assert.equal(r.readShadow, true, 'read through sudo');
    assert.equal(r.readSudoers, true);
    assert.ok(r.new >= 4, JSON.stringify(r));
    const list = await pending();
    const root = account(list, 'root')!;
    assert.deepEqual((root.detail as { privileged: string[] }).privileged.includes('uid 0'), true);
    assert.deepEqual((account(list, DISCOVERER)!.detail as { privileged: string[] }).privileged, ['sudoers']);
    const user = account(list, USER)!.detail as { privileged: string[]; uid: number; locked: boolean; passwordChanged: string };
    assert.deepEqual(user.privileged, []);
    assert.equal(user.locked, false);
    assert.match(user.passwordChanged, /^\d{4}-\d\d-\d\d$/);
    assert.ok(!list.some((f) => f.name === 'daemon'), 'system accounts without a login are left out');
    const key = list.find((f) => f.kind === 'ssh-key' && f.name === `${USER}:${fingerprint(firstKey)}`);
    assert.ok(key, `the key of ${USER}: ${list.filter((f) => f.kind === 'ssh-key').map((f) => f.name).join(', ')}`);
    assert.ok(list.every((f) => f.state === 'new'));
    const [ev] = await a.store.repos.auditEvents.query({ type: 'discovery.run', limit: 1 });
    assert.equal(JSON.parse(ev!.detail).new, r.new);
  });

  test('again: nothing new; then a new uid-0 account, a new key and an old key gone are found as such', async () => {
    const same = await a.discovery.run(ADMIN, deviceId);
    assert.deepEqual([same.new, same.changed, same.gone], [0, 0, 0], 'the device remembers its discovery credential');
    execFileSync('useradd', ['-o', '-u', '0', '-g', '0', '-M', '-d', '/root', '-s', '/bin/sh', ROOTLIKE]);
    const secondKey = keyPair(work.dir, 'k2');
    writeFileSync(userKeys, `${secondKey}\n`);
    const r = await a.discovery.run(ADMIN, deviceId);
    assert.deepEqual([r.new, r.gone], [2, 1], JSON.stringify(r));
    const list = await a.discovery.list({ deviceId, limit: 500, offset: 0 });
    const z = account(list, ROOTLIKE)!;
    assert.equal(z.state, 'new');
    assert.ok((z.detail as { privileged: string[] }).privileged.includes('uid 0'));
    assert.equal(list.find((f) => f.name === `${USER}:${fingerprint(secondKey)}`)?.state, 'new');
    assert.equal(list.find((f) => f.name === `${USER}:${fingerprint(firstKey)}`)?.state, 'gone');
    appendFileSync(userKeys, `${firstKey}\n`);
  });

  test('import: a found account into the vault with a new password set through the discovery credential; keys cannot be imported', async () => {
    const list = await pending();
    const user = account(list, USER)!;
    await assert.rejects(a.discovery.importFinding(ADMIN, user.id, {}), /give the account's password/);
    const r = await a.discovery.importFinding(ADMIN, user.id, { rotate: true });
    assert.equal(r.rotated, true, r.rotationError);
    const secret = await a.credentials.secretOf(r.credentialId);
    assert.equal(await passwordLogsIn(sshd.port, USER, secret), true, 'the vault holds a password that logs in');
    assert.equal(await passwordLogsIn(sshd.port, USER, pw.user), false, 'the one nobody should know any more does not');
    const c = await a.credentials.credential(r.credentialId);
    assert.deepEqual([c.username, c.kind, c.changeCredentialId], [USER, 'local-user', discoverer]);
    const after = await a.discovery.list({ deviceId, review: 'imported', limit: 500, offset: 0 });
    assert.equal(account(after, USER)?.credentialId, r.credentialId);
    await assert.rejects(a.discovery.importFinding(ADMIN, user.id, { rotate: true }), /imported already/);
    const key = list.find((f) => f.kind === 'ssh-key')!;
    await assert.rejects(a.discovery.importFinding(ADMIN, key.id, { rotate: true }), /only accounts are imported/);
    await a.discovery.dismiss(ADMIN, key.id);
    assert.ok(!(await pending()).some((f) => f.id === key.id));
  });

  test('without sudo the run still reads the accounts and says what it could not read; API and orbit', async () => {
    const plainId = (await a.credentials.createCredential(ADMIN, { deviceId, username: PLAIN, secret: pw.plain })).id;
    const other = (await a.devices.createDevice(ADMIN, { hostname: 'disc02', address: '127.0.0.1', connectivity: `SSH:${sshd.port}`, type: 'Linux' })).id;
    await assert.rejects(a.discovery.run(ADMIN, other, plainId), /credential of this device/);
    const r = await a.discovery.run(ADMIN, deviceId, plainId);
    assert.deepEqual([r.readShadow, r.readSudoers], [false, false]);
    const d = await startWebDaemon(home);
    try {
      const admin = new ApiClient(d);
      await admin.loginAndChange('admin', home.oneTimePassword, strongPassword());
      const run = await admin.call('POST', `/api/v1/devices/${deviceId}/discovery`, { credentialId: discoverer });
      assert.equal(run.status, 200, run.body);
      assert.equal(run.json.readShadow, true);
      const listed = await admin.call('GET', `/api/v1/discovery/findings?device=${deviceId}&review=pending`);
      assert.equal(listed.status, 200, listed.body);
      const z = listed.json.findings.find((f: FindingView) => f.name === ROOTLIKE);
      assert.ok(z, 'the uid-0 account waits for review');
      const dismissed = await admin.call('POST', `/api/v1/discovery/findings/${z.id}/dismiss`);
      assert.equal(dismissed.status, 200, dismissed.body);
      const bad = await admin.call('POST', `/api/v1/devices/${deviceId}/discovery`, { credentialId: 999_999 });
      assert.equal(bad.status, 400, bad.body);
    } finally {
      await d.stop();
    }
    const o = await runOrbit(home.home, ['discovery', 'run', '--device', String(deviceId)]);
    assert.equal(o.code, 0, o.stderr);
    assert.match(o.stdout, /device \d+: \d+ new, \d+ changed, \d+ gone, \d+ unchanged/);
    const l = await runOrbit(home.home, ['discovery', 'list', '--device', String(deviceId), '--review', 'dismissed']);
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stdout, new RegExp(`account ${ROOTLIKE} uid 0, privileged: uid 0`));
    assert.match((await runOrbit(home.home, ['discovery', 'import', '--help'])).stdout, /--rotate/);
    assert.equal((await runOrbit(home.home, ['discovery', 'import', '1'])).code, 2, 'one of --rotate and --password-stdin');
  });
});
