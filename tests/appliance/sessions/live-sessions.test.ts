// Live control, across processes, on a real appliance (SoftHSM token): the open sessions listed from the
// store with their bytes so far, an end requested here reaching the process that holds the session within
// a second, and the sessions of a process that died (SIGKILL) swept as interrupted.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Appliance } from '../../../appliance/index.js';
import { loadConfig } from '../../../appliance/config/index.js';
import type { ProxySession } from '../../../appliance/sessions/index.js';
import { initializedHome, strongPassword, type InitializedHome } from '../../helpers/fixtures.js';

const admin = { username: 'admin', ip: '127.0.0.1' };
const boss = { username: 'boss', ip: '127.0.0.1', profile: 'administrator' };
const CHILD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'helpers', 'live-session-child.js');

/** A process holding one session (see live-session-child.ts): its id once admitted, and what it prints. */
interface Holder {
  proc: ChildProcess;
  sessionId: string;
  output: () => string;
  /** Resolves when the child prints a line matching `re`. */
  waitFor: (re: RegExp, ms: number) => Promise<RegExpExecArray>;
}

async function holder(home: string, ids: { user: number; device: number; credential: number }, leaseMs: number): Promise<Holder> {
  const proc = spawn(process.execPath, [CHILD, home, String(ids.user), String(ids.device), String(ids.credential), String(leaseMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters: (() => void)[] = [];
  const feed = (d: Buffer) => {
    out += d;
    for (const w of waiters.splice(0)) w();
  };
  proc.stdout!.on('data', feed);
  proc.stderr!.on('data', feed);
  const waitFor = (re: RegExp, ms: number) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child did not print ${re} within ${ms} ms:\n${out}`)), ms);
      const check = () => {
        const m = re.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m);
        } else waiters.push(check);
      };
      check();
    });
  const m = await waitFor(/admitted ([0-9a-f-]{36})/, 30_000);
  return { proc, sessionId: m[1]!, output: () => out, waitFor };
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('live sessions: listed from the store, ended from anywhere, swept when their process dies', () => {
  let home: InitializedHome;
  let a: Appliance;
  const ids = { user: 0, device: 0, credential: 0, boss: 0, device2: 0, credential2: 0 };
  const children: ChildProcess[] = [];

  before(async () => {
    home = await initializedHome();
    // Short lease and progress period so the test sees them act; production defaults are 15 s and 2 s.
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }), { feedPollMs: 100, sessionLiveness: { progressMs: 100, hostLeaseMs: 900 } });
    ids.user = (await a.users.create(admin, { username: 'ana', fullName: 'Ana', email: 'ana@example.test', profile: 'privileged-access-user', password: strongPassword() })).user.id;
    ids.boss = (await a.users.create(admin, { username: 'boss', fullName: 'Boss', email: 'boss@example.test', profile: 'administrator', password: strongPassword() })).user.id;
    ids.device = (await a.devices.createDevice(admin, { hostname: 'db01', address: '127.0.4.10', connectivity: 'SSH:22' })).id;
    ids.credential = (await a.credentials.createCredential(admin, { deviceId: ids.device, username: 'root', secret: 'T0p-Secret-Root-123' })).id;
    await a.accessGroups.saveGroup(admin, { name: 'dba', userIds: [ids.user], deviceIds: [ids.device], credentialIds: [ids.credential] });
    ids.device2 = (await a.devices.createDevice(admin, { hostname: 'db02', address: '127.0.4.11', connectivity: 'SSH:22' })).id;
    ids.credential2 = (await a.credentials.createCredential(admin, { deviceId: ids.device2, username: 'root', secret: 'T0p-Secret-Root-456' })).id;
    await a.accessGroups.saveGroup(admin, { name: 'gated', userIds: [ids.user], deviceIds: [ids.device2], credentialIds: [ids.credential2], approvalRequired: true, approverIds: [ids.boss], approvalsNeeded: 1 });
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await a?.close();
    home?.cleanup();
  });

  const admit = async (): Promise<ProxySession> => {
    const r = await a.sessions.open({ userId: ids.user, deviceId: ids.device, credentialId: ids.credential, protocol: 'ssh', source: '127.0.0.77' });
    assert.ok(r.admitted, JSON.stringify(r));
    return r.session;
  };

  test('an admitted session is listed with who, where, from where, since when, its bytes so far and its recording; closed, it is gone', async () => {
    const s = await admit();
    const recording = await a.recordings.start(s, { cols: 80, rows: 24, term: 'xterm' });
    try {
      s.progress(1500, 70_000);
      const view = await until('the progress in the list', async () => (await a.sessions.liveSessions(boss)).find((v) => v.id === s.id && v.bytesOut === 70_000));
      assert.deepEqual(
        { user: view.user, device: view.device, credential: view.credential, source: view.source, protocol: view.protocol, bytesIn: view.bytesIn, recordingId: view.recordingId, responsive: view.responsive },
        { user: 'ana', device: 'db01', credential: 'root', source: '127.0.0.77', protocol: 'ssh', bytesIn: 1500, recordingId: recording.id, responsive: true },
      );
      assert.ok(Math.abs(Date.parse(view.startedAt) - Date.now()) < 60_000);
      assert.ok(view.progressAt !== null && Date.parse(view.progressAt) >= Date.parse(view.startedAt));
      // Auditors list; a privileged-access user does not.
      assert.ok((await a.sessions.liveSessions({ profile: 'auditor' })).some((v) => v.id === s.id));
      await assert.rejects(a.sessions.liveSessions({ profile: 'privileged-access-user' }), /AUTH_FORBIDDEN|permission/);
      assert.deepEqual(await a.sessions.openCounts(), { ssh: 1 });
      // Kept alive by its heartbeat well past the lease: a live process's sessions are never swept.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await a.sessions.sweepInterrupted(), 0);
      assert.equal((await a.store.repos.proxySessions.byId(s.id))!.status, 'open');
    } finally {
      await recording.close();
      await s.close({ reason: 'client-exit', bytesIn: 1600, bytesOut: 71_000 });
    }
    assert.equal((await a.sessions.liveSessions(boss)).length, 0);
    const row = (await a.store.repos.proxySessions.byId(s.id))!;
    assert.deepEqual([row.status, Number(row.bytes_out)], ['closed', 71_000], 'the close has the last word on the bytes');
  });

  test('an end requested here reaches the session held by another process within a second', async () => {
    const h = await holder(home.home, ids, 15_000);
    children.push(h.proc);
    const view = await until('the child\'s session with its bytes', async () => (await a.sessions.liveSessions(boss)).find((v) => v.id === h.sessionId && v.bytesOut === 98_765));
    assert.equal(view.source, '127.0.0.66');
    assert.equal(view.responsive, true);
    await assert.rejects(a.sessions.requestEnd({ username: 'aud', ip: null, profile: 'auditor' }, h.sessionId), /access.manage/);
    const asked = Date.now();
    await a.sessions.requestEnd(boss, h.sessionId, 'suspicious activity');
    await h.waitFor(/ended suspicious activity/, 1000);
    const heardIn = Date.now() - asked;
    assert.ok(heardIn < 1000, `heard after ${heardIn} ms`);
    await until('the child closing its row', async () => (await a.store.repos.proxySessions.byId(h.sessionId))!.status === 'closed');
  });

  test('the sessions of a process killed with SIGKILL are marked interrupted once its lease lapses, with an event', async () => {
    const h = await holder(home.home, ids, 600);
    children.push(h.proc);
    await until('the child\'s bytes', async () => (await a.sessions.liveSessions(boss)).find((v) => v.id === h.sessionId && v.bytesIn === 4321));
    const mine = await admit();
    try {
      assert.equal(await a.sessions.sweepInterrupted(), 0, 'nothing is swept while its process renews its lease');
      h.proc.kill('SIGKILL');
      await until('the child flagged unresponsive', async () => (await a.sessions.liveSessions(boss)).find((v) => v.id === h.sessionId && !v.responsive), 3000);
      // The appliance's sweep job does it (its first run comes one 5 s interval after it is registered).
      const jobs = a.startJobs({ tickMs: 100 });
      try {
        await until('the sweep job marking it interrupted', async () => (await a.store.repos.proxySessions.byId(h.sessionId))!.status === 'interrupted', 12_000);
      } finally {
        await jobs.stop();
      }
      const row = (await a.store.repos.proxySessions.byId(h.sessionId))!;
      assert.deepEqual([row.status, row.end_reason, Number(row.bytes_in), Number(row.bytes_out)], ['interrupted', 'process-gone', 4321, 98_765]);
      assert.ok(row.ended_at !== null);
      const events = await a.store.repos.auditEvents.query({ type: 'session.interrupted', subject: `session:${h.sessionId}`, limit: 5 });
      assert.equal(events.length, 1);
      assert.equal(JSON.parse(events[0]!.detail).bytesOut, 98_765);
      assert.deepEqual((await a.sessions.liveSessions(boss)).map((v) => v.id), [mine.id], 'this process\'s session stays');
      assert.equal(await a.sessions.sweepInterrupted(), 0, 'swept once');
    } finally {
      await mine.close({ reason: 'test' });
    }
  });

  test('a process declared dead while it still runs (paused past its lease) ends its own sessions', async () => {
    const s = await admit();
    const ended = new Promise<string>((resolve) => s.onEndRequested(resolve));
    // A sweep that sees the lease lapsed, as after a pause of the process longer than the lease.
    assert.equal(await a.sessions.sweepInterrupted(Date.now() + 60_000), 1);
    const reason = await Promise.race([ended, new Promise<string>((r) => setTimeout(() => r('not within 2 s'), 2000))]);
    assert.equal(reason, 'interrupted');
    await s.close({ reason: 'interrupted' });
    assert.equal((await a.store.repos.proxySessions.byId(s.id))!.status, 'interrupted', 'the sweep\'s verdict stands');
    // The process goes on under a new lease: a new session is held and kept.
    const next = await admit();
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(await a.sessions.sweepInterrupted(), 0);
    await next.close({ reason: 'test' });
    assert.equal((await a.store.repos.proxySessions.byId(next.id))!.status, 'closed');
  });

  test('a session on a grant ends when the grant ends, to within a second, without waiting for the expiry job', async () => {
    const endsAt = Date.now() + 1500;
    const req = await a.accessRequests.requestAccess({ username: 'ana', ip: '127.0.0.77', userId: ids.user }, { deviceId: ids.device2, credentialId: ids.credential2, reason: 'hotfix', endsAt: new Date(endsAt).toISOString() });
    await a.accessRequests.decideRequest({ username: 'boss', ip: '127.0.0.1', userId: ids.boss }, req.id, 'approve');
    const r = await a.sessions.open({ userId: ids.user, deviceId: ids.device2, credentialId: ids.credential2, protocol: 'ssh', source: '127.0.0.77' });
    assert.ok(r.admitted);
    const s = r.session;
    // Timers and the feed are unref'd (a daemon's sockets hold its loop open): this test holds it.
    const keep = setInterval(() => undefined, 1000);
    const heard = await new Promise<{ reason: string; at: number }>((resolve, reject) => {
      setTimeout(() => reject(new Error('the session did not end within 4 s')), 4000).unref();
      s.onEndRequested((reason) => resolve({ reason, at: Date.now() }));
    }).finally(() => clearInterval(keep));
    assert.equal(heard.reason, 'grant-expired');
    // No job runs in this test (nothing announces grant.expired): the session's own deadline ended it.
    assert.ok(heard.at >= endsAt - 20 && heard.at - endsAt < 1000, `ended ${heard.at - endsAt} ms after the grant`);
    await s.close({ reason: 'grant-expired' });
  });

  test('disabling the user ends their session within a second', async () => {
    const s = await admit();
    const heard = new Promise<{ reason: string; at: number }>((resolve) => s.onEndRequested((reason) => resolve({ reason, at: Date.now() })));
    const keep = setInterval(() => undefined, 1000);
    const asked = Date.now();
    await a.users.setStatus(admin, ids.user, 'disabled');
    try {
      const { reason, at } = await heard;
      assert.equal(reason, 'user-disabled');
      assert.ok(at - asked < 1000, `ended ${at - asked} ms after the change`);
    } finally {
      clearInterval(keep);
      await a.users.setStatus(admin, ids.user, 'active');
      await s.close({ reason: 'user-disabled' });
    }
  });

  test('an end requested while the session is still being admitted (its secret unsealing) reaches it once admitted', async () => {
    // The token made slow (held until the end request was heard): the row is committed, the handle not yet made.
    const original = a.credentials.secretBytesOf.bind(a.credentials);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    a.credentials.secretBytesOf = async (id: number) => {
      await held;
      return original(id);
    };
    try {
      const opening = a.sessions.open({ userId: ids.user, deviceId: ids.device, credentialId: ids.credential, protocol: 'ssh', source: '127.0.0.77' });
      const row = await until('the admitted row', async () => (await a.store.repos.proxySessions.list({ userId: ids.user, status: 'open', limit: 5 }))[0]);
      await a.sessions.requestEnd(boss, row.id, 'stop right there');
      await new Promise((r) => setTimeout(r, 400)); // the feed (polled every 100 ms) delivers it meanwhile
      release();
      const r = await opening;
      assert.ok(r.admitted);
      const reason = await Promise.race([new Promise<string>((resolve) => r.session.onEndRequested(resolve)), new Promise<string>((resolve) => setTimeout(() => resolve('not heard'), 1000))]);
      assert.equal(reason, 'stop right there');
      await r.session.close({ reason: 'ended-by-admin' });
    } finally {
      a.credentials.secretBytesOf = original;
    }
  });
});
