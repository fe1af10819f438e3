// Rotation through a change account, reconciliation, and the rotation queue, on a real sshd with real local
// accounts and a real sudo: a privileged account of the same device sets the password with chpasswd (sudo asking
// its own password, or a NOPASSWD rule as narrow as `/usr/sbin/chpasswd`), without the account's current
// password; a password changed behind the vault's back is reconciled (drift recorded), by hand or after status
// control found it failing; a proxied session that ends through the real terminal proxy, a password view (after
// its grace) and the schedule each queue a rotation that the rotation job runs. Refusals leave the vault alone.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { passwordLogsIn } from '../helpers/sshd.js';
import { generatePassword } from '../../appliance/rotation/index.js';
import { proxyLab, type ProxyLab } from '../helpers/proxy-lab.js';
import { ensureTargetAccount, runClient } from '../helpers/terminal-proxy.js';
import { runOrbit } from '../helpers/orbit.js';
import { ApiClient, startWebDaemon } from '../helpers/web-daemon.js';
import { strongPassword } from '../helpers/fixtures.js';

const ADMIN = { username: 'admin', ip: '127.0.0.1' };
const TARGET = 'wreconcile';
const SUDOER = 'wchanger';
const SUDOER_NOPASSWD = 'wchangernp';
const NO_SUDO = 'wchangerno';
const SUDOERS_FILE = '/etc/sudoers.d/warden-test-rotation';

/** Change an account's password on the target as its administrator would, behind the vault's back. */
function setBehindTheVault(user: string, password: string): void {
  execFileSync('chpasswd', { input: `${user}:${password}\n` });
}

describe('rotation through a change account, reconciliation and the rotation queue (real sshd, real sudo)', { timeout: 180_000 }, () => {
  let lab: ProxyLab;
  const passwords = { sudoer: generatePassword(), nopasswd: generatePassword(), nosudo: generatePassword() };
  let deviceId: number;
  let targetCredential: number;
  const changers: Record<'sudoer' | 'nopasswd' | 'nosudo', number> = { sudoer: 0, nopasswd: 0, nosudo: 0 };

  before(async () => {
    lab = await proxyLab({ targetUser: TARGET, users: { alice: {} }, hosts: ['db01'], groups: [{ name: 'ops', users: ['alice'], hosts: ['db01'] }] });
    ensureTargetAccount(SUDOER, passwords.sudoer);
    ensureTargetAccount(SUDOER_NOPASSWD, passwords.nopasswd);
    ensureTargetAccount(NO_SUDO, passwords.nosudo);
    // As narrow as a security team would grant: chpasswd and nothing else.
    writeFileSync(SUDOERS_FILE, `${SUDOER} ALL=(root) /usr/sbin/chpasswd\n${SUDOER_NOPASSWD} ALL=(root) NOPASSWD: /usr/sbin/chpasswd\n`, { mode: 0o440 });
    execFileSync('visudo', ['-c', '-q', '-f', SUDOERS_FILE]);
    lab.onStop(() => rmSync(SUDOERS_FILE, { force: true }));
    ({ deviceId, credentialId: targetCredential } = lab.hosts.db01!);
    const a = lab.a;
    changers.sudoer = (await a.credentials.createCredential(ADMIN, { deviceId, username: SUDOER, secret: passwords.sudoer, kind: 'local-privileged' })).id;
    changers.nopasswd = (await a.credentials.createCredential(ADMIN, { deviceId, username: SUDOER_NOPASSWD, secret: passwords.nopasswd })).id;
    changers.nosudo = (await a.credentials.createCredential(ADMIN, { deviceId, username: NO_SUDO, secret: passwords.nosudo })).id;
  });

  after(async () => {
    await lab?.stop();
  });

  const lastEvent = async (type: 'credential.rotate' | 'credential.reconcile') => {
    const [ev] = await lab.a.store.repos.auditEvents.query({ type, limit: 1 });
    return { ...ev!, detail: JSON.parse(ev!.detail) as Record<string, unknown> };
  };

  test('a change account validated on the credential: same device, not itself, a credential', async () => {
    const a = lab.a;
    const elsewhere = (await a.devices.createDevice(ADMIN, { hostname: 'db99', address: '127.0.0.99', connectivity: 'SSH:22' })).id;
    const foreign = (await a.credentials.createCredential(ADMIN, { deviceId: elsewhere, username: 'root', secret: 'Other-Passw0rd-12' })).id;
    await assert.rejects(a.credentials.updateCredential(ADMIN, targetCredential, { changeCredentialId: foreign }), /same device/);
    await assert.rejects(a.credentials.updateCredential(ADMIN, targetCredential, { changeCredentialId: targetCredential }), /its own change account/);
    await assert.rejects(a.credentials.updateCredential(ADMIN, targetCredential, { changeCredentialId: 999_999 }), /not a credential/);
    await assert.rejects(a.credentials.updateCredential(ADMIN, targetCredential, { rotationIntervalDays: 0 }), /rotationIntervalDays/);
    const v = await a.credentials.updateCredential(ADMIN, targetCredential, { changeCredentialId: changers.sudoer, rotationIntervalDays: 7 });
    assert.equal(v.changeCredentialId, changers.sudoer);
    assert.equal(v.rotationIntervalDays, 7);
  });

  test('rotation through a sudo change account (sudo asks its password): without the current password; the old one stops working', async () => {
    const a = lab.a;
    await a.credentials.updateCredential(ADMIN, targetCredential, { changeCredentialId: changers.sudoer });
    const before = await a.credentials.secretOf(targetCredential);
    const r = await a.rotation.rotate(ADMIN, targetCredential);
    assert.equal(r.executor, 'ssh-passwd');
    const now = await a.credentials.secretOf(targetCredential);
    assert.notEqual(now, before);
    assert.equal(await passwordLogsIn(lab.sshd.port, TARGET, now), true);
    assert.equal(await passwordLogsIn(lab.sshd.port, TARGET, before), false);
    const ev = await lastEvent('credential.rotate');
    assert.deepEqual(ev.detail, { trigger: 'manual', executor: 'ssh-passwd', changeAccount: changers.sudoer, stage: 'committed' });
    assert.ok(!JSON.stringify(ev).includes(now) && !JSON.stringify(ev).includes(passwords.sudoer), 'no secret in the event');
    // The change account's own password did not change.
    assert.equal(await a.credentials.secretOf(changers.sudoer), passwords.sudoer);
  });

  test('reconciliation: a password changed behind the vault\'s back is set anew through the change account, drift recorded (API and orbit)', async () => {
    const a = lab.a;
    await a.credentials.updateCredential(ADMIN, targetCredential, { changeCredentialId: changers.nopasswd });
    const behind = generatePassword();
    setBehindTheVault(TARGET, behind);
    const stale = await a.credentials.secretOf(targetCredential);
    // A plain rotation cannot help here only when it needs the current password; through the change account
    // it would, but reconciliation is what says the vault had drifted.
    const d = await startWebDaemon(lab.home);
    try {
      const admin = new ApiClient(d);
      await admin.loginAndChange('admin', lab.home.oneTimePassword, strongPassword());
      const r = await admin.call('POST', `/api/v1/credentials/${targetCredential}/reconcile`);
      assert.equal(r.status, 200, r.body);
      assert.equal(r.json.reconciled, true);
      assert.equal(r.json.drift, true);
      const now = await a.credentials.secretOf(targetCredential);
      assert.notEqual(now, stale);
      assert.equal(await passwordLogsIn(lab.sshd.port, TARGET, now), true);
      assert.equal(await passwordLogsIn(lab.sshd.port, TARGET, behind), false, 'the password set behind the vault no longer works');
      const ev = await lastEvent('credential.reconcile');
      assert.equal(ev.outcome, 'success');
      assert.deepEqual(ev.detail, { trigger: 'manual', executor: 'ssh-passwd', changeAccount: changers.nopasswd, stage: 'committed', drift: true });
      const versions = await a.credentials.versions(targetCredential);
      assert.equal(versions[0]!.source, 'reconcile');
      assert.equal((await a.credentials.credential(targetCredential)).passwordStatus.state, 'working');
      // A credential without a change account cannot be reconciled; an auditor may not ask.
      const lone = (await a.credentials.createCredential(ADMIN, { deviceId, username: NO_SUDO, secret: passwords.nosudo })).id;
      const refused = await admin.call('POST', `/api/v1/credentials/${lone}/reconcile`);
      assert.equal(refused.status, 400, refused.body);
      assert.match(refused.json.message, /change account/);
      const queued = await admin.call('GET', `/api/v1/credentials/${targetCredential}/rotation`);
      assert.equal(queued.status, 200, queued.body);
      assert.equal(queued.json.queued, null);
    } finally {
      await d.stop();
    }
    // No drift now: orbit says so.
    const o = await runOrbit(lab.home.home, ['credential', 'reconcile', String(targetCredential)]);
    assert.equal(o.code, 0, o.stderr);
    assert.match(o.stdout, /reconciled \(ssh-passwd\).*still worked/);
    assert.equal(await passwordLogsIn(lab.sshd.port, TARGET, await a.credentials.secretOf(targetCredential)), true);
    assert.match((await runOrbit(lab.home.home, ['credential', 'reconcile', '--help'])).stdout, /change account/);
  });

  test('a change account sudo refuses, or whose password is wrong, changes nothing and says why', async () => {
    const a = lab.a;
    const current = await a.credentials.secretOf(targetCredential);
    await a.credentials.updateCredential(ADMIN, targetCredential, { changeCredentialId: changers.nosudo });
    await assert.rejects(a.rotation.rotate(ADMIN, targetCredential), (e: Error & { details?: Record<string, unknown> }) => e.details?.reason === 'change-refused');
    const ev = await lastEvent('credential.rotate');
    assert.equal(ev.outcome, 'failure');
    assert.match(String(ev.detail.said), /sudo|not allowed|sorry/i, `sudo's own words: ${ev.detail.said}`);
    assert.equal(await a.credentials.secretOf(targetCredential), current);
    assert.equal(await passwordLogsIn(lab.sshd.port, TARGET, current), true);
    // The vault's copy of the change account's password is stale.
    const wrong = (await a.credentials.createCredential(ADMIN, { deviceId, username: SUDOER, secret: 'Not-Its-Passw0rd-1' })).id;
    await a.credentials.updateCredential(ADMIN, targetCredential, { changeCredentialId: wrong });
    await assert.rejects(a.rotation.reconcile(ADMIN, targetCredential), (e: Error & { details?: Record<string, unknown> }) => e.details?.reason === 'change-account-refused');
    assert.equal(await passwordLogsIn(lab.sshd.port, TARGET, current), true);
    await a.credentials.updateCredential(ADMIN, targetCredential, { changeCredentialId: changers.sudoer });
  });

  test('status control finds the password changed behind the vault\'s back; the rotation job reconciles it', async () => {
    const a = lab.a;
    await a.credentials.updateCredential(ADMIN, targetCredential, { changeCredentialId: changers.sudoer, autoChange: true, statusControl: true });
    setBehindTheVault(TARGET, generatePassword());
    const v = await a.rotation.checkStatus(targetCredential);
    assert.equal(v.state, 'failing');
    const q = await a.rotation.queued(targetCredential);
    assert.equal(q?.trigger, 'reconcile');
    const run = await a.rotation.runQueue();
    assert.equal(run.rotated, 1, JSON.stringify(run));
    const ev = await lastEvent('credential.reconcile');
    assert.equal(ev.actor, 'system');
    assert.equal(ev.detail.trigger, 'status-control');
    assert.equal(ev.detail.drift, true);
    assert.match(String(ev.detail.cause), /status control/);
    assert.equal(await passwordLogsIn(lab.sshd.port, TARGET, await a.credentials.secretOf(targetCredential)), true);
    assert.equal(await a.rotation.queued(targetCredential), null);
    assert.ok(a.jobs().some((j) => j.name === 'credential-rotation'), 'the queue is one job of the appliance');
  });

  test('after use: a session through the real terminal proxy ends, and the rotation job changes the password it used', async () => {
    const a = lab.a;
    await a.credentials.updateCredential(ADMIN, targetCredential, { autoChange: true, changeCredentialId: null });
    const used = await a.credentials.secretOf(targetCredential);
    const r = await runClient('ssh', ['-p', String(lab.proxy.port), '-l', `alice:${TARGET}@db01`, '127.0.0.1', 'echo used-once'], lab.users.alice!.password);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /used-once/);
    // The proxy closes its row a moment after the client is gone; the rotation is queued with that.
    let queued = null;
    for (let i = 0; i < 100 && !queued; i++) {
      queued = await a.rotation.queued(targetCredential);
      if (!queued) await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(queued?.trigger, 'after-use');
    assert.match(queued!.reason, /session .* ended/);
    // Off in the settings: the entry is dropped, the password kept.
    await a.settings.update({ rotation: { afterUse: false } }, 'admin', null);
    assert.equal((await a.rotation.runQueue()).dropped, 1);
    assert.equal(await a.credentials.secretOf(targetCredential), used);
    await a.settings.update({ rotation: { afterUse: true } }, 'admin', null);
    const again = await runClient('ssh', ['-p', String(lab.proxy.port), '-l', `alice:${TARGET}@db01`, '127.0.0.1', 'true'], lab.users.alice!.password);
    assert.equal(again.code, 0, again.stderr);
    for (let i = 0; i < 100 && !(await a.rotation.queued(targetCredential)); i++) await new Promise((res) => setTimeout(res, 100));
    const run = await a.rotation.runQueue();
    assert.equal(run.rotated, 1, JSON.stringify(run));
    const now = await a.credentials.secretOf(targetCredential);
    assert.notEqual(now, used);
    assert.equal(await passwordLogsIn(lab.sshd.port, TARGET, now), true);
    assert.equal(await passwordLogsIn(lab.sshd.port, TARGET, used), false, 'the password the session used no longer works');
    const ev = await lastEvent('credential.rotate');
    assert.equal(ev.detail.trigger, 'after-use');
    assert.match(String(ev.detail.cause), /session/);
  });

  test('after a password view: rotated once the viewer\'s grace has passed, not before', async () => {
    const a = lab.a;
    await a.accessGroups.updateSettings(ADMIN, lab.groups.ops!.id, { passwordViewAllowed: true });
    await a.store.repos.users.update(lab.users.alice!.id, { profile: 'privileged-access-and-view-user' });
    const viewed = await a.passwordView.viewPassword({ ...ADMIN, userId: lab.users.alice!.id, username: 'alice' }, targetCredential, 'maintenance');
    assert.equal(viewed.secret, await a.credentials.secretOf(targetCredential));
    assert.equal((await a.rotation.queued(targetCredential))?.trigger, 'after-view');
    await a.settings.update({ rotation: { afterViewMinutes: 0 } }, 'admin', null);
    try {
      const run = await a.rotation.runQueue();
      assert.equal(run.rotated, 1, JSON.stringify(run));
    } finally {
      await a.settings.update({ rotation: { afterViewMinutes: 60 } }, 'admin', null);
    }
    assert.notEqual(await a.credentials.secretOf(targetCredential), viewed.secret);
    assert.equal(await passwordLogsIn(lab.sshd.port, TARGET, viewed.secret), false);
    // With the default grace (60 minutes) a fresh view waits.
    const again = await a.passwordView.viewPassword({ ...ADMIN, userId: lab.users.alice!.id, username: 'alice' }, targetCredential, 'again');
    const run = await a.rotation.runQueue();
    assert.equal(run.rotated, 0);
    const q = await a.rotation.queued(targetCredential);
    assert.equal(q?.trigger, 'after-view');
    assert.ok(Date.parse(q!.dueAt) > Date.now() + 59 * 60_000, 'postponed to the end of the grace');
    assert.equal(await a.credentials.secretOf(targetCredential), again.secret);
    await a.store.transaction((r) => r.credentials.dequeueRotation(targetCredential));
  });

  test('the schedule: a secret older than its interval is queued and rotated; a younger one is not', async () => {
    const a = lab.a;
    await a.credentials.updateCredential(ADMIN, targetCredential, { rotationIntervalDays: 1, changeCredentialId: changers.sudoer });
    assert.equal((await a.rotation.runQueue()).queued, 0, 'rotated moments ago: not due');
    // Make the current version two days old.
    const current = (await a.store.repos.credentials.currentVersion(targetCredential))!;
    await a.store.db.updateTable('credential_versions').set({ valid_from: Date.now() - 2 * 86_400_000 }).where('id', '=', current.id).execute();
    const before = await a.credentials.secretOf(targetCredential);
    const run = await a.rotation.runQueue();
    assert.equal(run.queued, 1, JSON.stringify(run));
    assert.equal(run.rotated, 1, JSON.stringify(run));
    const ev = await lastEvent('credential.rotate');
    assert.equal(ev.detail.trigger, 'schedule');
    assert.match(String(ev.detail.cause), /older than 1 day/);
    const now = await a.credentials.secretOf(targetCredential);
    assert.notEqual(now, before);
    assert.equal(await passwordLogsIn(lab.sshd.port, TARGET, now), true);
    // A credential whose rotation fails stays queued, tried again later, its failure kept.
    await a.credentials.updateCredential(ADMIN, targetCredential, { changeCredentialId: changers.nosudo });
    await a.store.transaction((r) => r.credentials.enqueueRotation({ credential_id: targetCredential, trigger_kind: 'schedule', reason: 'test', due_at: Date.now(), created_at: Date.now() }));
    const failing = await a.rotation.runQueue();
    assert.equal(failing.failed, 1, JSON.stringify(failing));
    const q = await a.rotation.queued(targetCredential);
    assert.equal(q?.attempts, 1);
    assert.match(q!.lastError, /not rotated/);
    assert.ok(Date.parse(q!.dueAt) > Date.now() + 4 * 60_000, 'tried again in five minutes');
    await a.store.transaction((r) => r.credentials.dequeueRotation(targetCredential));
    await a.credentials.updateCredential(ADMIN, targetCredential, { changeCredentialId: changers.sudoer });
  });

  test('an access group\'s schedule applies to its credentials that have none of their own', async () => {
    const a = lab.a;
    await a.credentials.updateCredential(ADMIN, targetCredential, { rotationIntervalDays: null, autoChange: true, changeCredentialId: changers.sudoer });
    await a.settings.update({ rotation: { intervalDays: 0 } }, 'admin', null);
    try {
      const current = (await a.store.repos.credentials.currentVersion(targetCredential))!;
      await a.store.db.updateTable('credential_versions').set({ valid_from: Date.now() - 2 * 86_400_000 }).where('id', '=', current.id).execute();
      assert.equal((await a.rotation.runQueue()).queued, 0, 'no interval of its own, none of its group, none of the appliance');
      await assert.rejects(a.accessGroups.updateSettings(ADMIN, lab.groups.ops!.id, { rotationIntervalDays: 0 }), /rotationIntervalDays/);
      const g = await a.accessGroups.updateSettings(ADMIN, lab.groups.ops!.id, { rotationIntervalDays: 1 });
      assert.equal(g.rotationIntervalDays, 1);
      const run = await a.rotation.runQueue();
      assert.deepEqual([run.queued, run.rotated], [1, 1], JSON.stringify(run));
      const [ev] = await a.store.repos.auditEvents.query({ type: 'credential.rotate', limit: 1 });
      assert.match(String(JSON.parse(ev!.detail).cause), /older than 1 day/);
      assert.equal(await passwordLogsIn(lab.sshd.port, TARGET, await a.credentials.secretOf(targetCredential)), true);
    } finally {
      await a.settings.update({ rotation: { intervalDays: 30 } }, 'admin', null);
      await a.accessGroups.updateSettings(ADMIN, lab.groups.ops!.id, { rotationIntervalDays: null });
    }
  });
});
