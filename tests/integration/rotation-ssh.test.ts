// Rotation of a vaulted password on a real sshd target, no agent on it: the account's own `passwd` in a PTY,
// the new password proved by a login before the vault takes it. After a rotation the old password no longer
// logs in and the new one does; a target that refuses the change (the account's minimum password age) leaves
// the vault and the target on the old one; a vault that no longer holds the working password is told apart;
// a changed host key refuses. Every outcome is one audit event saying why, with no secret in it.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import { generatePassword } from '../../appliance/rotation/index.js';
import { initializedHome, tempDir, type InitializedHome } from '../helpers/fixtures.js';
import { passwordLogsIn, startSshd, type Sshd } from '../helpers/sshd.js';
import { ensureTargetAccount } from '../helpers/terminal-proxy.js';
import { runOrbit } from '../helpers/orbit.js';
import { ApiClient, startWebDaemon } from '../helpers/web-daemon.js';
import { strongPassword } from '../helpers/fixtures.js';

const ADMIN = { username: 'admin', ip: '127.0.0.1' };
const ACCOUNT = 'wrotate';
const STUBBORN = 'wrotatenot';

describe('credential rotation over SSH (real sshd, passwd in a PTY)', { timeout: 120_000 }, () => {
  let home: InitializedHome;
  let a: Appliance;
  let sshd: Sshd;
  let work: ReturnType<typeof tempDir>;
  const first = generatePassword();
  const stubbornFirst = generatePassword();
  let deviceId: number;

  before(async () => {
    work = tempDir('warden-rotation-');
    sshd = await startSshd(path.join(work.dir, 'sshd'));
    ensureTargetAccount(ACCOUNT, first);
    ensureTargetAccount(STUBBORN, stubbornFirst);
    // No minimum age for the first account (a fresh chpasswd may set one from login.defs); ten days for the other.
    execFileSync('chage', ['-m', '0', '-d', '2020-01-01', ACCOUNT]);
    execFileSync('chage', ['-m', '10', '-d', new Date().toISOString().slice(0, 10), STUBBORN]);
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
    deviceId = (await a.devices.createDevice(ADMIN, { hostname: 'lin01', address: '127.0.0.1', connectivity: `SSH:${sshd.port}`, type: 'Linux' })).id;
  });

  after(async () => {
    await a?.close();
    await sshd?.stop();
    home?.cleanup();
    work?.cleanup();
  });

  const lastRotation = async () => {
    const [ev] = await a.store.repos.auditEvents.query({ type: 'credential.rotate', limit: 1 });
    return { ...ev!, detail: JSON.parse(ev!.detail) as Record<string, unknown> };
  };

  test('rotated: the new password works on the target and is the vault\'s; the old one no longer logs in', async () => {
    const id = (await a.credentials.createCredential(ADMIN, { deviceId, username: ACCOUNT, secret: first })).id;
    const r = await a.rotation.rotate(ADMIN, id);
    assert.equal(r.executor, 'ssh-passwd');
    const now = await a.credentials.secretOf(id);
    assert.notEqual(now, first);
    assert.equal(now.length, 24);
    assert.equal(await passwordLogsIn(sshd.port, ACCOUNT, now), true, 'the vault\'s password logs in');
    assert.equal(await passwordLogsIn(sshd.port, ACCOUNT, first), false, 'the old one does not');
    const ev = await lastRotation();
    assert.equal(ev.outcome, 'success');
    assert.equal(ev.subject, `credential:${id}`);
    assert.deepEqual(ev.detail, { trigger: 'manual', executor: 'ssh-passwd', stage: 'committed' });
    assert.ok(!JSON.stringify(ev).includes(now) && !JSON.stringify(ev).includes(first), 'no secret in the event');
    // And again, from the rotated one.
    await a.rotation.rotate(ADMIN, id);
    const third = await a.credentials.secretOf(id);
    assert.notEqual(third, now);
    assert.equal(await passwordLogsIn(sshd.port, ACCOUNT, third), true);
    assert.equal(await passwordLogsIn(sshd.port, ACCOUNT, now), false);
    // Every secret it held, with when it was in force: one current, each earlier one ending where the next begins.
    const versions = await a.credentials.versions(id);
    assert.deepEqual(versions.map((v) => [v.version, v.source, v.by]), [[3, 'rotation', 'admin'], [2, 'rotation', 'admin'], [1, 'create', 'admin']]);
    assert.equal(versions[0]!.validUntil, null);
    assert.equal(versions[1]!.validUntil, versions[0]!.validFrom);
    assert.equal(versions[2]!.validUntil, versions[1]!.validFrom);
    assert.deepEqual(await a.credentials.currentSecret(id), { secret: third, version: 3 });
    assert.ok(!JSON.stringify(versions).includes(third), 'no secret in the list');
  });

  test('a target that refuses the change leaves the vault and the target on the old password, and says why', async () => {
    const id = (await a.credentials.createCredential(ADMIN, { deviceId, username: STUBBORN, secret: stubbornFirst })).id;
    await assert.rejects(a.rotation.rotate(ADMIN, id), (e: Error & { code?: string; details?: Record<string, unknown> }) => e.code === 'ROTATION_FAILED' && e.details?.reason === 'change-refused');
    assert.equal(await a.credentials.secretOf(id), stubbornFirst);
    assert.equal(await passwordLogsIn(sshd.port, STUBBORN, stubbornFirst), true);
    const ev = await lastRotation();
    assert.equal(ev.outcome, 'failure');
    assert.equal(ev.detail.stage, 'change');
    assert.match(String(ev.detail.said), /wait longer/i, `the target's own words: ${ev.detail.said}`);
  });

  test('a vaulted password that no longer works is told apart (reconciliation\'s case); nothing changes', async () => {
    const id = (await a.credentials.createCredential(ADMIN, { deviceId, username: STUBBORN, secret: 'Not-The-Password-1' })).id;
    await assert.rejects(a.rotation.rotate(ADMIN, id), (e: Error & { details?: Record<string, unknown> }) => e.details?.reason === 'current-password-refused');
    assert.equal(await a.credentials.secretOf(id), 'Not-The-Password-1');
    assert.equal(await passwordLogsIn(sshd.port, STUBBORN, stubbornFirst), true);
  });

  test('a host key that changed since it was pinned refuses the rotation before any password is sent', async () => {
    const other = (await a.devices.createDevice(ADMIN, { hostname: 'lin02', address: '127.0.0.1', connectivity: `SSH:${sshd.port}`, type: 'Linux' })).id;
    assert.equal(await a.hostKeys.checkHostKey(other, 'ssh', 'SHA256:AnEarlierKeyOfThisDevice0000000000000000000'), 'pinned');
    const id = (await a.credentials.createCredential(ADMIN, { deviceId: other, username: ACCOUNT, secret: 'Whatever-1234567' })).id;
    await assert.rejects(a.rotation.rotate(ADMIN, id), (e: Error & { details?: Record<string, unknown> }) => e.details?.reason === 'host-key-mismatch');
  });

  test('what no executor handles is refused with the reason: no SSH on the device, an unreadable SSH key, a disabled credential', async () => {
    const rdpOnly = (await a.devices.createDevice(ADMIN, { hostname: 'win01', address: '127.0.0.1', connectivity: 'RDP:3389', type: 'Windows' })).id;
    const onRdp = (await a.credentials.createCredential(ADMIN, { deviceId: rdpOnly, username: 'Administrator', secret: 'Win-Passw0rd-1' })).id;
    await assert.rejects(a.rotation.rotate(ADMIN, onRdp), /offers no SSH/);
    const disabled = (await a.credentials.createCredential(ADMIN, { deviceId, username: ACCOUNT, secret: 'x-Passw0rd-123' })).id;
    await a.credentials.setCredentialStatus(ADMIN, disabled, 'disabled');
    await assert.rejects(a.rotation.rotate(ADMIN, disabled), /disabled credential/);
    const key = (await a.credentials.createCredential(ADMIN, { deviceId, username: ACCOUNT, secret: '-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n', secretKind: 'ssh-key' })).id;
    // A key ssh2 cannot read is not sent anywhere: refused before any connection, the vault unchanged.
    await assert.rejects(a.rotation.rotate(ADMIN, key), (e: Error & { details?: Record<string, unknown> }) => e.details?.reason === 'current-key-refused');
    await assert.rejects(a.rotation.rotate(ADMIN, 999_999), (e: Error & { code?: string }) => e.code === 'NOT_FOUND');
  });

  test('status control: the periodic check logs in with each flagged credential, stores the verdict, and alerts once when it turns', async () => {
    const good = (await a.credentials.createCredential(ADMIN, { deviceId, username: STUBBORN, secret: stubbornFirst, statusControl: true })).id;
    const stale = (await a.credentials.createCredential(ADMIN, { deviceId, username: STUBBORN, secret: 'Stale-Passw0rd-99', statusControl: true })).id;
    const unflagged = (await a.credentials.createCredential(ADMIN, { deviceId, username: STUBBORN, secret: 'Also-Stale-Passw0rd-1' })).id;
    const before = (await a.store.repos.auditEvents.query({ type: 'credential.status_check', limit: 100 })).length;
    const run = await a.rotation.checkAll();
    assert.ok(run.checked >= 2 && run.failing >= 1, JSON.stringify(run));
    assert.equal((await a.credentials.credential(good)).passwordStatus.state, 'working');
    const failing = (await a.credentials.credential(stale)).passwordStatus;
    assert.equal(failing.state, 'failing');
    assert.equal(failing.detail, 'the vaulted password does not log in');
    assert.ok(failing.checkedAt);
    assert.equal((await a.credentials.credential(unflagged)).passwordStatus.state, 'unchecked', 'status control off: not checked');
    const events = await a.store.repos.auditEvents.query({ type: 'credential.status_check', limit: 100 });
    const mine = events.filter((e) => e.subject === `credential:${stale}`);
    assert.equal(mine.length, 1);
    assert.deepEqual([mine[0]!.outcome, mine[0]!.actor, JSON.parse(mine[0]!.detail).previous], ['failure', 'system', 'unchecked']);
    // The next run finds nothing new to say: the verdicts stand, no second alert.
    await a.rotation.checkAll();
    const again = await a.store.repos.auditEvents.query({ type: 'credential.status_check', limit: 100 });
    assert.equal(again.length, events.length, `no event for an unchanged verdict (${before} before the first run)`);
    // An administrator's check is audited every time, and a rotation's login counts as a check.
    const v = await a.rotation.checkStatus(stale, ADMIN);
    assert.equal(v.state, 'failing');
    const [latest] = await a.store.repos.auditEvents.query({ type: 'credential.status_check', limit: 1 });
    assert.equal(latest!.actor, 'admin');
    assert.ok(a.jobs().some((j) => j.name === 'credential-status'), 'a job of the appliance (once per appliance, by its lease)');
  });

  test('password templates: the device type\'s shapes the new password, a credential\'s own wins, bad ones are refused', async () => {
    const id = (await a.credentials.createCredential(ADMIN, { deviceId, username: ACCOUNT, secret: await a.credentials.secretOf(1) })).id;
    assert.deepEqual((await a.rotation.effectiveTemplate(id)).from, 'default');
    await a.rotation.setDeviceTypeTemplate(ADMIN, 'LINUX', { length: 40, symbols: '' });
    assert.equal((await a.rotation.effectiveTemplate(id)).from, 'device-type', 'matched without case');
    await a.rotation.rotate(ADMIN, id);
    const typed = await a.credentials.secretOf(id);
    assert.match(typed, /^[A-Za-z0-9]{40}$/);
    assert.equal(await passwordLogsIn(sshd.port, ACCOUNT, typed), true);
    await a.rotation.setCredentialTemplate(ADMIN, id, { length: 20, symbols: '#%', exclude: 'lIO01' });
    await a.rotation.rotate(ADMIN, id);
    const own = await a.credentials.secretOf(id);
    assert.equal(own.length, 20);
    assert.match(own, /^[A-Za-z2-9#%]+$/);
    assert.doesNotMatch(own, /[lIO01]/);
    assert.match(own, /[#%]/, 'each class present');
    assert.equal(await passwordLogsIn(sshd.port, ACCOUNT, own), true);
    await assert.rejects(a.rotation.setCredentialTemplate(ADMIN, id, { length: 8 }), /12 to 256/);
    await assert.rejects(a.rotation.setCredentialTemplate(ADMIN, id, { lower: false, upper: false, digits: false, symbols: '' }), /allows no character/);
    await assert.rejects(a.rotation.setDeviceTypeTemplate(ADMIN, 'Linux', { symbols: 'a b' }), /printable/);
    await assert.rejects(a.rotation.setDeviceTypeTemplate(ADMIN, 'Linux', { colour: 'red' }), /unknown template field/);
    const [ev] = await a.store.repos.auditEvents.query({ type: 'credential.password_template', limit: 1 });
    assert.deepEqual([ev!.subject, JSON.parse(ev!.detail)], [`credential:${id}`, { scope: 'credential', removed: false }]);
    await a.rotation.setCredentialTemplate(ADMIN, id, null);
    await a.rotation.setDeviceTypeTemplate(ADMIN, 'linux', null);
    assert.equal((await a.rotation.effectiveTemplate(id)).from, 'default');
    assert.deepEqual(await a.rotation.deviceTypeTemplates(), []);
    // The next test starts from credential 1, the account's first: it holds the password in force again.
    await a.credentials.updateCredential(ADMIN, 1, { secret: own });
  });

  test('on demand through the API (credentials.manage) and orbit, the same audited rotation', async () => {
    const id = (await a.credentials.createCredential(ADMIN, { deviceId, username: ACCOUNT, secret: await a.credentials.secretOf(1) })).id;
    const d = await startWebDaemon(home);
    try {
      const admin = new ApiClient(d);
      await admin.loginAndChange('admin', home.oneTimePassword, strongPassword());
      const r = await admin.call('POST', `/api/v1/credentials/${id}/rotate`);
      assert.equal(r.status, 200, r.body);
      assert.equal(r.json.rotated, true);
      assert.equal(r.json.executor, 'ssh-passwd');
      const viaApi = await a.credentials.secretOf(id);
      assert.equal(await passwordLogsIn(sshd.port, ACCOUNT, viaApi), true);
      const versions = await admin.call('GET', `/api/v1/credentials/${id}/versions`);
      assert.equal(versions.status, 200, versions.body);
      assert.deepEqual(versions.json.versions.map((v: { version: number; source: string }) => [v.version, v.source]), [[2, 'rotation'], [1, 'create']]);
      const checked = await admin.call('POST', `/api/v1/credentials/${id}/check`);
      assert.equal(checked.status, 200, checked.body);
      assert.equal(checked.json.state, 'working');
      assert.equal((await admin.call('GET', `/api/v1/credentials/${id}`)).json.credential.passwordStatus.state, 'working');
      // Templates through the API: a device type's, the effective one of a credential, a bad one refused.
      const put = await admin.call('PUT', '/api/v1/password-templates/Linux', { length: 30 });
      assert.equal(put.status, 200, put.body);
      assert.equal(put.json.template.length, 30);
      assert.deepEqual((await admin.call('GET', '/api/v1/password-templates')).json.templates.map((t: { deviceType: string }) => t.deviceType), ['linux']);
      const eff = await admin.call('GET', `/api/v1/credentials/${id}/password-template`);
      assert.deepEqual([eff.status, eff.json.from, eff.json.template.length], [200, 'device-type', 30]);
      assert.equal((await admin.call('PUT', `/api/v1/credentials/${id}/password-template`, { length: 5 })).status, 400);
      assert.equal((await admin.call('DELETE', '/api/v1/password-templates/Linux')).status, 200);
      // An auditor may not.
      const made = await admin.call('POST', '/api/v1/users', { username: 'aud1', fullName: 'Aud', email: 'aud1@example.test', profile: 'auditor' });
      const auditor = new ApiClient(d);
      await auditor.loginAndChange('aud1', made.json.oneTimePassword, strongPassword());
      assert.equal((await auditor.call('POST', `/api/v1/credentials/${id}/rotate`)).status, 403);
      // A failure is a 502 with the reason, the old password kept.
      const stubborn = (await a.credentials.createCredential(ADMIN, { deviceId, username: STUBBORN, secret: stubbornFirst })).id;
      const refused = await admin.call('POST', `/api/v1/credentials/${stubborn}/rotate`);
      assert.equal(refused.status, 502, refused.body);
      assert.equal(refused.json.error, 'ROTATION_FAILED');
      assert.equal(refused.json.details.reason, 'change-refused');
    } finally {
      await d.stop();
    }
    const o = await runOrbit(home.home, ['credential', 'rotate', String(id)]);
    assert.equal(o.code, 0, o.stderr);
    assert.match(o.stdout, new RegExp(`credential ${id} rotated \\(ssh-passwd\\)`));
    const viaOrbit = await a.credentials.secretOf(id);
    assert.equal(await passwordLogsIn(sshd.port, ACCOUNT, viaOrbit), true);
    const bad = await runOrbit(home.home, ['credential', 'rotate', 'x1']);
    assert.equal(bad.code, 2, bad.stderr);
    const help = await runOrbit(home.home, ['credential', 'rotate', '--help']);
    assert.match(help.stdout, /proved\s+by\s+a\s+login/);
  });
});
