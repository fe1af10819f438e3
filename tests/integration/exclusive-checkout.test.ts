// Exclusive checkout, "shared access, not simultaneous", with two users, a real terminal proxy and a real sshd:
// a password view takes an exclusive credential for the checkout time and a session for as long as it lasts;
// the other user is refused with who holds it and until when, by the view and by the proxy alike; check-in (by
// the holder, when the session ends, when the time runs out) gives it back and rotates it, whatever autoChange
// says; two users taking it at once cannot both get it.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { passwordLogsIn } from '../helpers/sshd.js';
import { proxyLab, type ProxyLab } from '../helpers/proxy-lab.js';
import { runClient } from '../helpers/terminal-proxy.js';
import { ApiClient, startWebDaemon } from '../helpers/web-daemon.js';
import { strongPassword } from '../helpers/fixtures.js';

const TARGET = 'wexclusive';
const ADMIN = { username: 'admin', ip: '127.0.0.1' };

describe('exclusive checkout (two users, real terminal proxy, real sshd)', { timeout: 180_000 }, () => {
  let lab: ProxyLab;
  let credentialId: number;
  const who = (name: 'alice' | 'bob') => ({ username: name, ip: '127.0.0.1', userId: lab.users[name]!.id });

  before(async () => {
    lab = await proxyLab({ targetUser: TARGET, users: { alice: {}, bob: {} }, hosts: ['db01'], groups: [{ name: 'ops', users: ['alice', 'bob'], hosts: ['db01'] }] });
    const a = lab.a;
    credentialId = lab.hosts.db01!.credentialId;
    await a.accessGroups.updateSettings(ADMIN, lab.groups.ops!.id, { passwordViewAllowed: true });
    for (const u of ['alice', 'bob'] as const) await a.store.repos.users.update(lab.users[u]!.id, { profile: 'privileged-access-and-view-user' });
    const v = await a.credentials.updateCredential(ADMIN, credentialId, { exclusive: true });
    assert.equal(v.exclusive, true);
  });

  after(async () => {
    await lab?.stop();
  });

  const ssh = (user: 'alice' | 'bob', command: string) => runClient('ssh', ['-p', String(lab.proxy.port), '-l', `${user}:${TARGET}@db01`, '127.0.0.1', command], lab.users[user]!.password);

  test('a view takes it: the other user\'s view and session are refused with who and until when', async () => {
    const a = lab.a;
    const viewed = await a.passwordView.viewPassword(who('alice'), credentialId, 'maintenance');
    assert.equal(viewed.secret, lab.targetPassword);
    const hold = await a.rotation.checkoutOf(credentialId);
    assert.equal(hold?.holder, 'alice');
    assert.ok(hold?.until && Date.parse(hold.until) > Date.now() + 59 * 60_000, 'held for the checkout time (60 minutes)');
    await assert.rejects(a.passwordView.viewPassword(who('bob'), credentialId, 'me too'), (e: Error & { code?: string; details?: Record<string, unknown> }) => e.code === 'CONFLICT' && e.details?.holder === 'alice' && e.details?.until === hold!.until);
    // The same user may look again; the hold is theirs.
    await a.passwordView.viewPassword(who('alice'), credentialId, 'again');
    const refused = await ssh('bob', 'echo never');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr + refused.stdout.toString(), /in use by alice until \d{4}-\d\d-\d\d \d\d:\d\d UTC \(shared access, not simultaneous\)/);
    const [ev] = await a.store.repos.auditEvents.query({ type: 'credential.checkout', limit: 1 });
    assert.deepEqual([ev!.actor, ev!.outcome, JSON.parse(ev!.detail).holder], ['bob', 'failure', 'alice']);
  });

  test('check-in by the holder gives it back and rotates it (autoChange off); the old password stops working', async () => {
    const a = lab.a;
    await assert.rejects(a.rotation.checkin(who('bob'), credentialId), (e: Error & { code?: string }) => e.code === 'NOT_FOUND', 'only the holder checks in');
    const r = await a.rotation.checkin(who('alice'), credentialId);
    assert.deepEqual(r, { checkedIn: true, rotationQueued: true });
    assert.equal(await a.rotation.checkoutOf(credentialId), null);
    const run = await a.rotation.runQueue();
    assert.equal(run.rotated, 1, JSON.stringify(run));
    const now = await a.credentials.secretOf(credentialId);
    assert.notEqual(now, lab.targetPassword);
    assert.equal(await passwordLogsIn(lab.sshd.port, TARGET, now), true);
    assert.equal(await passwordLogsIn(lab.sshd.port, TARGET, lab.targetPassword), false, 'what alice saw no longer works');
    const [rot] = await a.store.repos.auditEvents.query({ type: 'credential.rotate', limit: 1 });
    assert.deepEqual([JSON.parse(rot!.detail).trigger, JSON.parse(rot!.detail).cause], ['check-in', 'checked in by alice']);
  });

  test('a session holds it while it lasts: the other user\'s view is refused; its end checks it in and rotates it', async () => {
    const a = lab.a;
    const before = await a.credentials.secretOf(credentialId);
    const running = ssh('bob', 'sleep 4; echo bob-was-here');
    let hold = null;
    for (let i = 0; i < 100 && !hold; i++) {
      hold = await a.rotation.checkoutOf(credentialId);
      if (!hold) await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual([hold?.holder, hold?.purpose, hold?.until], ['bob', 'session', null]);
    await assert.rejects(a.passwordView.viewPassword(who('alice'), credentialId, 'now'), /bob holds this credential for the length of their session/);
    const done = await running;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout.toString(), /bob-was-here/);
    for (let i = 0; i < 100 && (await a.rotation.checkoutOf(credentialId)); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await a.rotation.checkoutOf(credentialId), null, 'checked in when the session ended');
    assert.equal((await a.rotation.queued(credentialId))?.trigger, 'check-in');
    assert.equal((await a.rotation.runQueue()).rotated, 1);
    assert.notEqual(await a.credentials.secretOf(credentialId), before);
    const [ci] = await a.store.repos.auditEvents.query({ type: 'credential.checkin', limit: 1 });
    assert.match(JSON.parse(ci!.detail).how, /session .* ended/);
  });

  test('a view\'s hold runs out: the rotation job checks it in and rotates; an administrator can force a check-in (API)', async () => {
    const a = lab.a;
    await a.passwordView.viewPassword(who('alice'), credentialId, 'short');
    await a.store.db.updateTable('credential_checkouts').set({ expires_at: Date.now() - 1000 }).where('credential_id', '=', credentialId).execute();
    const seen = await a.credentials.secretOf(credentialId);
    assert.equal((await a.rotation.runQueue()).rotated, 1);
    assert.equal(await a.rotation.checkoutOf(credentialId), null);
    assert.notEqual(await a.credentials.secretOf(credentialId), seen);
    // Forced by an administrator over the API; the holder sees the hold gone.
    await a.passwordView.viewPassword(who('bob'), credentialId, 'again');
    const d = await startWebDaemon(lab.home);
    try {
      const admin = new ApiClient(d);
      await admin.loginAndChange('admin', lab.home.oneTimePassword, strongPassword());
      const held = await admin.call('GET', `/api/v1/credentials/${credentialId}/checkout`);
      assert.equal(held.status, 200, held.body);
      assert.equal(held.json.checkout.holder, 'bob');
      const forced = await admin.call('POST', `/api/v1/credentials/${credentialId}/checkin`);
      assert.equal(forced.status, 200, forced.body);
      assert.equal(forced.json.checkedIn, true);
      assert.equal((await admin.call('GET', `/api/v1/credentials/${credentialId}/checkout`)).json.checkout, null);
      const [ci] = await a.store.repos.auditEvents.query({ type: 'credential.checkin', limit: 1 });
      assert.deepEqual([ci!.actor, JSON.parse(ci!.detail).how], ['admin', 'by admin']);
    } finally {
      await d.stop();
    }
    await a.store.transaction((r) => r.credentials.dequeueRotation(credentialId));
  });

  test('two users taking it at the same moment: exactly one gets it', async () => {
    const a = lab.a;
    const results = await Promise.allSettled([a.passwordView.viewPassword(who('alice'), credentialId, 'race'), a.passwordView.viewPassword(who('bob'), credentialId, 'race')]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const winner = results[0]!.status === 'fulfilled' ? 'alice' : 'bob';
    assert.equal((await a.rotation.checkoutOf(credentialId))?.holder, winner);
  });
});
