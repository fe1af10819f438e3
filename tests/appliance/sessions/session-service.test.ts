// One admission path for every protocol, on a real appliance (SoftHSM token): what a user may reach now and
// in what state, and SessionService.open — admitted with its row, event and secret, or a typed refusal.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Appliance } from '../../../appliance/index.js';
import { loadConfig } from '../../../appliance/config/index.js';
import { initializedHome, ManualClock, strongPassword, type InitializedHome } from '../../helpers/fixtures.js';

const admin = { username: 'admin', ip: '127.0.0.1' };

describe('sessions: one admission path', () => {
  let home: InitializedHome;
  let a: Appliance;
  // Sunday 2026-11-22 09:00 UTC.
  const clock = new ManualClock();
  const uid: Record<string, number> = {};
  const dev: Record<string, number> = {};
  const cred: Record<string, number> = {};
  const secrets: Record<string, string> = {};

  before(async () => {
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }), { clock: clock.read });
    await a.settings.update({ timeZone: 'UTC' }, 'admin', null);
    for (const [name, profile] of [['ana', 'privileged-access-user'], ['outsider', 'privileged-access-user'], ['boss', 'administrator']] as const) {
      uid[name] = (await a.users.create(admin, { username: name, fullName: name, email: `${name}@example.test`, profile, password: strongPassword() })).user.id;
    }
    const devices = [
      ['srv-direct', '127.0.0.11', 'SSH:22'],
      ['srv-approval', '127.0.0.12', 'SSH:2222,RDP:3389'],
      ['srv-reason', '127.0.0.13', 'SSH:22'],
      ['srv-window', '127.0.0.14', 'SSH:22'],
      ['srv-hidden', '127.0.0.15', 'SSH:22'],
    ] as const;
    for (const [hostname, address, connectivity] of devices) {
      dev[hostname] = (await a.devices.createDevice(admin, { hostname, address, connectivity })).id;
      const username = hostname === 'srv-direct' ? 'svc_app' : 'root';
      secrets[hostname] = `S3cret-${hostname}-${'y'.repeat(12)}`;
      cred[hostname] = (await a.credentials.createCredential(admin, { deviceId: dev[hostname]!, username, secret: secrets[hostname] })).id;
    }
    // A look-alike for the LIKE escaping: "svc_" must not match "svcXapp".
    cred['srv-direct-x'] = (await a.credentials.createCredential(admin, { deviceId: dev['srv-direct']!, username: 'svcXapp', secret: 'Another-S3cret-value' })).id;
    const group = (name: string, host: string, extra: Record<string, unknown> = {}) =>
      a.accessGroups.saveGroup(admin, { name, userIds: [uid.ana], deviceIds: [dev[host]], credentialIds: [cred[host], ...(host === 'srv-direct' ? [cred['srv-direct-x']] : [])], ...extra });
    await group('direct', 'srv-direct');
    await group('approval', 'srv-approval', { approvalRequired: true, approverIds: [uid.boss], approvalsNeeded: 1 });
    await group('reason', 'srv-reason', { reasonRequired: true });
    await group('window', 'srv-window', { timeWindows: [{ days: [1], start: '08:00', end: '18:00' }] });
  });
  after(async () => {
    await a?.close();
    home?.cleanup();
  });

  /** Change one group by name, keeping everything else it has. */
  async function updateGroup(name: string, patch: (g: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
    const { id, ...fields } = (await a.accessGroups.groups()).find((g) => g.name === name)!;
    await a.accessGroups.saveGroup(admin, { ...fields, ...patch(fields as Record<string, unknown>) }, id);
  }

  describe('what may I reach now', () => {
    test('exactly the covered targets, by host name, with their state per purpose', async () => {
      const { targets, more } = await a.accessDecisions.reachable(uid.ana!);
      assert.equal(more, false);
      const seen = targets.map((t) => [t.device.hostname, t.credential.username, t.protocols.join('+'), t.states.ssh?.state, t.states.rdp?.state ?? '-']);
      assert.deepEqual(seen, [
        ['srv-approval', 'root', 'ssh+rdp', 'needs-approval', 'needs-approval'],
        ['srv-direct', 'svcXapp', 'ssh', 'allowed', '-'],
        ['srv-direct', 'svc_app', 'ssh', 'allowed', '-'],
        ['srv-reason', 'root', 'ssh', 'reason-required', '-'],
        ['srv-window', 'root', 'ssh', 'outside-window', '-'],
      ]);
      // This profile views no passwords: the state says so rather than hiding the target.
      assert.equal(targets[0]!.states['password-view']?.state, 'unavailable');
      assert.deepEqual((await a.accessDecisions.reachable(uid.outsider!)).targets, []);
    });

    test('filtered by text, literally (LIKE wildcards are escaped), and paged', async () => {
      const names = async (text: string) => (await a.accessDecisions.reachable(uid.ana!, { text })).targets.map((t) => `${t.credential.username}@${t.device.hostname}`);
      assert.deepEqual(await names('svc_'), ['svc_app@srv-direct']);
      assert.deepEqual(await names('%'), []);
      assert.deepEqual(await names('127.0.0.13'), ['root@srv-reason']);
      assert.deepEqual(await names('WINDOW'), ['root@srv-window']);
      const first = await a.accessDecisions.reachable(uid.ana!, { limit: 2 });
      const second = await a.accessDecisions.reachable(uid.ana!, { limit: 2, offset: 2 });
      const third = await a.accessDecisions.reachable(uid.ana!, { limit: 2, offset: 4 });
      assert.deepEqual([first.more, second.more, third.more], [true, true, false]);
      assert.equal(new Set([...first.targets, ...second.targets, ...third.targets].map((t) => t.credential.id)).size, 5);
    });
  });

  describe('SessionService.open', () => {
    const open = (name: string, host: string, extra: { reason?: string; protocol?: 'ssh' | 'rdp'; credentialId?: number; deviceId?: number } = {}) =>
      a.sessions.open({ userId: uid[name]!, deviceId: extra.deviceId ?? dev[host]!, credentialId: extra.credentialId ?? cred[host]!, protocol: extra.protocol ?? 'ssh', source: '127.0.0.77', ...(extra.reason ? { reason: extra.reason } : {}) });

    test('admitted: one row and one start event, the target with its port, the secret as bytes; closed once', async () => {
      const before = (await a.store.repos.auditEvents.query({ type: 'session.start', limit: 100 })).length;
      const r = await open('ana', 'srv-direct');
      assert.equal(r.admitted, true);
      if (!r.admitted) return;
      const s = r.session;
      assert.deepEqual({ ...s.target }, { deviceId: dev['srv-direct'], hostname: 'srv-direct', address: '127.0.0.11', port: 22, credentialId: cred['srv-direct'], username: 'svc_app', domain: '', secretKind: 'password' });
      assert.equal(s.secret.toString('utf8'), secrets['srv-direct']);
      const row = (await a.store.repos.proxySessions.byId(s.id))!;
      assert.equal(row.status, 'open');
      assert.equal(row.source_ip, '127.0.0.77');
      assert.match(row.rule, /group direct/);
      const starts = await a.store.repos.auditEvents.query({ type: 'session.start', limit: 100 });
      assert.equal(starts.length, before + 1);
      assert.equal(JSON.parse(starts[0]!.detail).session, s.id);

      await s.close({ reason: 'client-exit', bytesIn: 1200, bytesOut: 34_000, exitStatus: 0 });
      await s.close({ reason: 'again' });
      const closed = (await a.store.repos.proxySessions.byId(s.id))!;
      assert.deepEqual([closed.status, closed.end_reason, Number(closed.bytes_out), closed.exit_status], ['closed', 'client-exit', 34_000, 0]);
      assert.equal((await a.store.repos.auditEvents.query({ type: 'session.end', subject: `session:${s.id}`, limit: 10 })).length, 1);
      assert.ok(s.secret.every((b) => b === 0), 'the secret is zeroed when the session closes');
    });

    test('the port is the one the device offers for the protocol', async () => {
      await updateGroup('approval', () => ({ approvalRequired: false }));
      const ssh = await open('ana', 'srv-approval');
      const rdp = await open('ana', 'srv-approval', { protocol: 'rdp' });
      assert.ok(ssh.admitted && rdp.admitted);
      if (ssh.admitted && rdp.admitted) {
        assert.deepEqual([ssh.session.target.port, rdp.session.target.port], [2222, 3389]);
        await ssh.session.close({ reason: 'test' });
        await rdp.session.close({ reason: 'test' });
      }
      await updateGroup('approval', () => ({ approvalRequired: true }));
    });

    test('needs approval: a typed refusal; once approved, admitted through that grant', async () => {
      const r = await open('ana', 'srv-approval');
      assert.equal(r.admitted, false);
      if (r.admitted) return;
      assert.equal(r.refusal.kind, 'needs-approval');
      assert.equal(r.refusal.kind === 'needs-approval' && r.refusal.approvalsNeeded, 1);
      const req = await a.accessRequests.requestAccess({ username: 'ana', ip: '127.0.0.77', userId: uid.ana! }, { deviceId: dev['srv-approval'], credentialId: cred['srv-approval'], reason: 'patch night' });
      await a.accessRequests.decideRequest({ username: 'boss', ip: '127.0.0.1', userId: uid.boss! }, req.id, 'approve');
      const ok = await open('ana', 'srv-approval');
      assert.equal(ok.admitted, true);
      if (ok.admitted) {
        assert.equal((await a.store.repos.proxySessions.byId(ok.session.id))!.grant_id, req.id);
        await ok.session.close({ reason: 'test' });
      }
    });

    test('a reason is required where the group says so', async () => {
      const r = await open('ana', 'srv-reason');
      assert.deepEqual(r.admitted === false && r.refusal, { kind: 'reason-required' });
      await assert.rejects(open('ana', 'srv-reason', { reason: 'ticket\u001b[2J 4711' }), /control characters/);
      const ok = await open('ana', 'srv-reason', { reason: 'ticket 4711' });
      assert.equal(ok.admitted, true);
      if (ok.admitted) {
        assert.equal((await a.store.repos.proxySessions.byId(ok.session.id))!.reason, 'ticket 4711');
        await ok.session.close({ reason: 'test' });
      }
    });

    test('outside the window, outside the groups, or ids that do not exist: the same plain denial; the rule is audited', async () => {
      const answers = [
        await open('ana', 'srv-window'),
        await open('ana', 'srv-hidden'),
        await open('outsider', 'srv-direct'),
        await open('ana', 'srv-direct', { deviceId: 999_999, credentialId: 999_998 }),
        await open('ana', 'srv-direct', { credentialId: cred['srv-reason'] }),
      ];
      for (const r of answers) assert.deepEqual(r, { admitted: false, refusal: { kind: 'denied' } });
      const refused = await a.store.repos.auditEvents.query({ type: 'session.refused', limit: 20 });
      assert.ok(refused.some((e) => /outside-time-window/.test(JSON.parse(e.detail).rule)));
      assert.ok(refused.some((e) => /no-access-group/.test(JSON.parse(e.detail).rule)));
    });

    test('with "force certificate for proxy sessions", no signed-in certificate session means no proxy session', async () => {
      await a.settings.update({ mfa: { forceCertificateForProxy: true } }, 'admin', null);
      clock.advance(2000); // past the settings cache
      try {
        const r = await open('ana', 'srv-direct');
        assert.equal(r.admitted === false && r.refusal.kind, 'certificate-required');
      } finally {
        await a.settings.update({ mfa: { forceCertificateForProxy: false } }, 'admin', null);
        clock.advance(2000);
      }
    });

    test('the target host key is pinned on first use, then must match', async () => {
      const r = await open('ana', 'srv-direct');
      assert.ok(r.admitted);
      if (!r.admitted) return;
      assert.equal(await r.session.checkHostKey('SHA256:first'), 'pinned');
      assert.equal(await r.session.checkHostKey('SHA256:first'), 'match');
      assert.equal(await r.session.checkHostKey('SHA256:other'), 'mismatch');
      await r.session.close({ reason: 'host-key-mismatch' });
    });

    test('no secret, no session: a sealed value that fails to open ends the admitted row and throws (fail closed)', async () => {
      const broken = (await a.credentials.createCredential(admin, { deviceId: dev['srv-direct']!, username: 'broken', secret: 'Will-be-broken-1' })).id;
      await updateGroup('direct', (g) => ({ credentialIds: [...(g.credentialIds as number[]), broken] }));
      await a.store.db.updateTable('credentials').set({ secret_sealed: Buffer.from('garbage').toString('base64') }).where('id', '=', broken).execute();
      await assert.rejects(open('ana', 'srv-direct', { credentialId: broken }), /KEYS_|sealed|token/i);
      const rows = await a.store.repos.proxySessions.list({ userId: uid.ana!, limit: 50 });
      const row = rows.find((x) => x.credential_id === broken)!;
      assert.deepEqual([row.status, row.end_reason], ['closed', 'vault-unavailable']);
    });
  });

  describe('ending live sessions, decided anywhere, heard through the change feed', () => {
    const heard = (session: { onEndRequested(l: (reason: string) => void): void }) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no end request heard within 3 s')), 3000);
        session.onEndRequested((reason) => {
          clearTimeout(timer);
          resolve(reason);
        });
      });
    const admitted = async (host: string, extra: { reason?: string } = {}) => {
      const r = await a.sessions.open({ userId: uid.ana!, deviceId: dev[host]!, credentialId: cred[host]!, protocol: 'ssh', source: '127.0.0.77', ...extra });
      assert.ok(r.admitted, JSON.stringify(r));
      return r.session;
    };

    test('an administrator ends a session: announced with its audit event, heard by the process that holds it', async () => {
      const s = await admitted('srv-direct');
      const reason = heard(s);
      await assert.rejects(a.sessions.requestEnd({ username: 'ana', ip: '127.0.0.77', profile: 'privileged-access-user' }, s.id), /access.manage/);
      await a.sessions.requestEnd({ username: 'boss', ip: '127.0.0.1', profile: 'administrator' }, s.id, 'suspicious commands');
      assert.equal(await reason, 'suspicious commands');
      assert.equal((await a.store.repos.auditEvents.query({ type: 'session.end_requested', subject: `session:${s.id}`, limit: 1 })).length, 1);
      await s.close({ reason: 'ended-by-admin' });
      await assert.rejects(a.sessions.requestEnd({ username: 'boss', ip: '127.0.0.1', profile: 'administrator' }, s.id), /not found/);
    });

    test('an end requested by another process reaches the process that holds the session', async () => {
      const s = await admitted('srv-direct');
      const reason = heard(s);
      const child = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'helpers', 'end-session-child.js');
      const out = await new Promise<string>((resolve, reject) => {
        execFile(process.execPath, [child, home.home, s.id], { timeout: 30_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message} ${stderr}`)) : resolve(stdout)));
      });
      assert.match(out, /requested/);
      assert.equal(await reason, 'ended from another process');
      await s.close({ reason: 'ended-by-admin' });
    });

    test('disabling the user ends their live sessions', async () => {
      const s = await admitted('srv-reason', { reason: 'ticket 99' });
      const reason = heard(s);
      await a.users.setStatus(admin, uid.ana!, 'disabled');
      try {
        assert.equal(await reason, 'user-disabled');
      } finally {
        await a.users.setStatus(admin, uid.ana!, 'active');
        await s.close({ reason: 'user-disabled' });
      }
    });

    test('the expiry of the grant a session rests on ends it', async () => {
      // Past every earlier grant (7 days at most), so this one is the only one.
      clock.advance(8 * 86_400_000);
      await a.accessRequests.announceExpiredGrants(clock.now);
      const req = await a.accessRequests.requestAccess({ username: 'ana', ip: '127.0.0.77', userId: uid.ana! }, { deviceId: dev['srv-approval'], credentialId: cred['srv-approval'], reason: 'short job', endsAt: new Date(clock.now + 10 * 60_000).toISOString() });
      await a.accessRequests.decideRequest({ username: 'boss', ip: '127.0.0.1', userId: uid.boss! }, req.id, 'approve');
      const s = await admitted('srv-approval');
      assert.equal(s.grantId, req.id);
      const reason = heard(s);
      await a.accessRequests.announceExpiredGrants(clock.now);
      clock.advance(11 * 60_000);
      await a.accessRequests.announceExpiredGrants(clock.now);
      assert.equal(await reason, 'grant-expired');
      await s.close({ reason: 'grant-expired' });
    });
  });
});
