// The vault and the access policy on a real appliance (SoftHSM token): devices and CSV import, sealed
// credentials, trust-on-first-use host keys, protected files, access groups, requests and approvals,
// emergency access, grant approval and expiry on the change feed, password view with reason and PCI split.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Appliance } from '../../../appliance/index.js';
import { loadConfig } from '../../../appliance/config/index.js';
import { WardenError, InputError } from '../../../appliance/errors/index.js';
import type { GrantExpired } from '../../../appliance/access/index.js';
import { classifyAuditRow } from '../../../appliance/audit/index.js';
import { initializedHome, strongPassword, type InitializedHome } from '../../helpers/fixtures.js';

const admin = { username: 'admin', ip: '127.0.2.1' };

describe('vault and access policy', () => {
  let home: InitializedHome;
  let a: Appliance;
  const uid: Record<string, number> = {};

  before(async () => {
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
    await a.settings.update({ timeZone: 'UTC' }, 'admin', null);
    for (const [name, profile] of [['ana', 'privileged-access-user'], ['ben', 'privileged-access-and-view-user'], ['cai', 'privileged-access-and-view-user'], ['dee', 'password-viewer'], ['boss', 'administrator'], ['boss2', 'administrator']] as const) {
      uid[name] = (await a.users.create(admin, { username: name, fullName: name, email: `${name}@example.test`, profile, password: strongPassword() })).user.id;
    }
  });
  after(async () => {
    await a?.close();
    home?.cleanup();
  });

  const as = (name: string) => ({ username: name, ip: '127.0.2.9', userId: uid[name]! });

  test('a device is created with its catalogue on first use, and validated', async () => {
    const d = await a.devices.createDevice(admin, { hostname: 'DB01.example.test', address: '::1', vendor: 'Dell', type: 'Server', model: 'R750', site: 'Lisbon', connectivity: 'ssh:22, RDP:3389' });
    assert.equal(d.hostname, 'db01.example.test');
    assert.equal(d.vendor, 'Dell');
    assert.equal(d.connectivity, 'SSH:22,RDP:3389');
    const d2 = await a.devices.createDevice(admin, { hostname: 'db02', address: '127.0.0.2', vendor: 'Dell', connectivity: 'SSH:22' });
    assert.equal(d2.vendor, 'Dell');
    for (const bad of [{ hostname: 'db01.example.test', address: '127.0.0.1' }, { hostname: 'bad host', address: '127.0.0.1' }, { hostname: 'x', address: '999.1.1.1' }, { hostname: 'y', address: '127.0.0.1', connectivity: 'SSH' }, { hostname: 'z', address: '127.0.0.1', color: 'red' }]) {
      await assert.rejects(a.devices.createDevice(admin, bad), WardenError, JSON.stringify(bad));
    }
    const disabled = await a.devices.setDeviceStatus(admin, d2.id, 'disabled');
    assert.equal(disabled.status, 'disabled');
  });

  test('CSV import reports every row; a bad row imports nothing of itself', async () => {
    const csv = [
      'hostname,address,vendor,type,model,site,field1,field2,domain,connectivity',
      'web01,127.1.0.1,HP,Server,DL380,Porto,,,corp.example,SSH:22',
      'web02,not-an-ip,HP,Server,DL380,Porto,,,,SSH:22',
      'web03,127.1.0.3,Cisco,Switch,C9300,Porto,rack 4,,,SSH:22',
      'web01,127.1.0.9,HP,,,,,,,SSH:22',
      '"web04",127.1.0.4,"Huawei, Inc.",Router,,Faro,"quoted, field",,,SSH:2222',
    ].join('\n');
    const r = await a.devices.importDevices(admin, csv);
    assert.equal(r.imported, 3);
    assert.equal(r.failed, 2);
    assert.deepEqual(r.rows.map((x) => [x.row, x.ok]), [[2, true], [3, false], [4, true], [5, false], [6, true]]);
    assert.match(r.rows[1]!.error!, /address/);
    assert.match(r.rows[3]!.error!, /exists/);
    const names = (await a.devices.listDevices()).map((d) => d.hostname);
    assert.ok(!names.includes('web02'));
    assert.equal((await a.devices.listDevices()).find((d) => d.hostname === 'web04')?.vendor, 'Huawei, Inc.');
    await assert.rejects(a.devices.importDevices(admin, 'hostname,address\n"unterminated,127.0.0.1'), InputError);
  });

  test('credential secrets are sealed: not in the database, openable only as their own record', async () => {
    const device = (await a.devices.listDevices()).find((d) => d.hostname === 'web01')!;
    const secret = 'Sup3r-S3cret-Päss';
    const c = await a.credentials.createCredential(admin, { deviceId: device.id, kind: 'local-privileged', username: 'root', secret, labels: ['pci'], autoChange: true });
    assert.equal(c.autoChange, true);
    assert.equal(JSON.stringify(c).includes(secret), false, 'views never carry the secret');
    const row = await a.store.repos.credentials.credential(c.id);
    assert.equal(Buffer.from(row!.secret_sealed, 'base64').includes(Buffer.from(secret)), false);
    assert.equal(await a.credentials.secretOf(c.id), secret);
    // A sealed secret moved to another credential's row does not open there.
    const other = await a.credentials.createCredential(admin, { deviceId: device.id, username: 'backup', secret: 'another-S3cret' });
    await a.store.repos.credentials.updateCredential(other.id, { secret_sealed: row!.secret_sealed });
    await assert.rejects(a.credentials.secretOf(other.id), /KEYS|tampered|context/i);
    await a.credentials.updateCredential(admin, other.id, { secret: 'fixed-S3cret' });
    assert.equal(await a.credentials.secretOf(other.id), 'fixed-S3cret');
    await assert.rejects(a.credentials.createCredential(admin, { deviceId: device.id, username: 'k', secretKind: 'ssh-key', secret: 'not a key' }), InputError);
  });

  test('host keys are pinned on first use; a change is refused until an admin resets it', async () => {
    const device = (await a.devices.listDevices()).find((d) => d.hostname === 'web03')!;
    assert.equal(await a.hostKeys.checkHostKey(device.id, 'ssh', 'SHA256:aaa'), 'pinned');
    assert.equal(await a.hostKeys.checkHostKey(device.id, 'ssh', 'SHA256:aaa'), 'match');
    assert.equal(await a.hostKeys.checkHostKey(device.id, 'ssh', 'SHA256:bbb'), 'mismatch');
    assert.equal(await a.hostKeys.checkHostKey(device.id, 'rdp', 'AB:CD'), 'pinned', 'per protocol');
    assert.equal((await a.hostKeys.hostKeys(device.id)).length, 2);
    assert.equal(await a.hostKeys.resetHostKey(admin, device.id, 'ssh'), true);
    assert.equal(await a.hostKeys.checkHostKey(device.id, 'ssh', 'SHA256:bbb'), 'pinned');
  });

  test('protected files are sealed, belong to a device or group, and every opening is audited with its reason', async () => {
    const device = (await a.devices.listDevices()).find((d) => d.hostname === 'web03')!;
    const content = Buffer.from('-----BEGIN PRIVATE KEY-----\nsecret token material\n');
    await assert.rejects(a.protectedItems.storeProtected(admin, { name: 'VPN token', kind: 'token', filename: 'vpn.key', contentBase64: content.toString('base64') }), InputError, 'an owner is required');
    const { id } = await a.protectedItems.storeProtected(admin, { name: 'VPN token', kind: 'token', filename: 'vpn.key', deviceId: device.id, contentBase64: content.toString('base64') });
    const row = await a.store.repos.protectedItems.protectedItem(id);
    assert.equal(Buffer.from(row!.content_sealed, 'base64').includes(content), false);
    assert.equal(row!.device_id, device.id);
    await assert.rejects(a.protectedItems.openProtected(as('dee'), id, 'renewing the VPN'), /not allowed/, 'no group holds the device');
    await a.accessGroups.saveGroup(admin, { name: 'vpn-readers', sessionAllowed: false, passwordViewAllowed: true, userIds: [uid.dee], deviceIds: [device.id] });
    const opened = await a.protectedItems.openProtected(as('dee'), id, 'renewing the VPN');
    assert.deepEqual(opened.content, content);
    assert.equal(opened.mediaType, 'application/octet-stream');
    const [audit] = await a.store.repos.auditEvents.query({ type: 'vault.protected_view', limit: 1 });
    assert.match(audit!.detail, /renewing the VPN/);
    await assert.rejects(a.protectedItems.openProtected(as('dee'), id, ''), InputError, 'a reason is required');
    await assert.rejects(a.protectedItems.storeProtected(admin, { name: 'x', kind: 'file', filename: '../../etc/passwd', deviceId: device.id, contentBase64: 'AA==' }), InputError);
    await assert.rejects(a.protectedItems.storeProtected(admin, { name: 'y', kind: 'file', deviceId: device.id, mediaType: 'text/plain\u2028', contentBase64: 'AA==' }), /mediaType/);
    assert.deepEqual((await a.protectedItems.listProtected(uid.dee!)).map((i) => [i.name, i.access]), [['VPN token', 'allowed']]);
    assert.deepEqual(await a.protectedItems.listProtected(uid.ana!), [], 'a profile without passwords.view and no group: nothing');
  });

  describe('groups, requests and decisions', () => {
    let device: number;
    let cred: number;
    before(async () => {
      device = (await a.devices.listDevices()).find((d) => d.hostname === 'web01')!.id;
      cred = (await a.credentials.listCredentials({ deviceId: device }))[0]!.id;
    });

    test('without a group: denied; a direct group: allowed; approval group: approval-required', async () => {
      assert.equal((await a.accessDecisions.decide(uid.ana!, device, cred, 'ssh')).rule, 'no-access-group');
      const g = await a.accessGroups.saveGroup(admin, { name: 'ops', userIds: [uid.ana], deviceIds: [device], credentialIds: [cred] });
      assert.equal((await a.accessDecisions.decide(uid.ana!, device, cred, 'ssh')).outcome, 'allowed');
      assert.equal((await a.accessDecisions.decide(uid.ana!, device, cred, 'rdp')).rule, 'device-offers-no-rdp');
      const { id: groupId, ...fields } = g;
      await a.accessGroups.saveGroup(admin, { ...fields, approvalRequired: true, approverIds: [uid.boss, uid.boss2], approvalsNeeded: 2 }, groupId);
      const d = await a.accessDecisions.decide(uid.ana!, device, cred, 'ssh');
      assert.equal(d.outcome, 'approval-required');
      const mine = (await a.accessDecisions.reachable(uid.ana!)).targets.find((t) => t.credential.id === cred);
      assert.equal(mine?.device.id, device);
      assert.equal(mine?.states.ssh?.state, 'needs-approval');
      assert.deepEqual(mine?.protocols, ['ssh']);
    });

    test('a request needs its approvals; nobody approves their own; then access is allowed', async () => {
      const r = await a.accessRequests.requestAccess(as('ana'), { deviceId: device, credentialId: cred, reason: 'patching openssl' });
      assert.equal(r.status, 'pending');
      assert.deepEqual((await a.accessRequests.toDecide(uid.boss!)).map((x) => x.id), [r.id], 'the approver sees it in the app');
      assert.deepEqual(await a.accessRequests.toDecide(uid.ana!), []);
      await assert.rejects(a.accessRequests.decideRequest(as('ana'), r.id, 'approve'), /own request|not an approver/);
      await assert.rejects(a.accessRequests.decideRequest(as('ben'), r.id, 'approve'), /not an approver/);
      assert.equal((await a.accessRequests.decideRequest(as('boss'), r.id, 'approve')).status, 'pending', 'one of two approvals');
      await assert.rejects(a.accessRequests.decideRequest(as('boss'), r.id, 'approve'), /already decided/);
      assert.equal((await a.accessDecisions.decide(uid.ana!, device, cred, 'ssh')).outcome, 'approval-required');
      assert.equal((await a.accessRequests.decideRequest(as('boss2'), r.id, 'approve')).status, 'approved');
      const d = await a.accessDecisions.decide(uid.ana!, device, cred, 'ssh');
      assert.equal(d.outcome, 'allowed');
      assert.match(d.rule, new RegExp(`approved request #${r.id}`));
    });

    test('a denied request grants nothing', async () => {
      const dev = await a.devices.createDevice(admin, { hostname: 'deny01', address: '127.9.0.1', connectivity: 'SSH:22' });
      const c = await a.credentials.createCredential(admin, { deviceId: dev.id, username: 'root', secret: 'S3cret-Deny' });
      await a.accessGroups.saveGroup(admin, { name: 'deny-group', userIds: [uid.ana], deviceIds: [dev.id], credentialIds: [c.id], approvalRequired: true, approverIds: [uid.boss] });
      const r = await a.accessRequests.requestAccess(as('ana'), { deviceId: dev.id, credentialId: c.id, reason: 'just looking' });
      assert.equal((await a.accessRequests.decideRequest(as('boss'), r.id, 'deny', 'no ticket')).status, 'denied');
      assert.equal((await a.accessDecisions.decide(uid.ana!, dev.id, c.id, 'ssh')).outcome, 'approval-required');
    });

    test('an approved grant announces its expiry, and the decision follows', async () => {
      const dev = await a.devices.createDevice(admin, { hostname: 'short01', address: '127.9.0.2', connectivity: 'SSH:22' });
      const c = await a.credentials.createCredential(admin, { deviceId: dev.id, username: 'root', secret: 'S3cret-Short' });
      await a.accessGroups.saveGroup(admin, { name: 'short-group', userIds: [uid.ana], deviceIds: [dev.id], credentialIds: [c.id], approvalRequired: true, approverIds: [uid.boss] });
      const r = await a.accessRequests.requestAccess(as('ana'), { deviceId: dev.id, credentialId: c.id, reason: 'quick fix', endsAt: new Date(Date.now() + 3000).toISOString() });
      // Another process would follow the feed the same way; the grant-expiry job runs here as in a daemon.
      const follower = await a.store.feed.follow({ ref: true });
      const jobs = a.startJobs({ tickMs: 100 });
      try {
        const approved = new Promise<unknown>((resolve) => follower.on('grant.approved', (p) => void (p.requestId === r.id && resolve(p))));
        const expired = new Promise<GrantExpired>((resolve) => follower.on('grant.expired', (p) => void (p.requestId === r.id && resolve(p))));
        await a.accessRequests.decideRequest(as('boss'), r.id, 'approve');
        assert.equal((await a.accessDecisions.decide(uid.ana!, dev.id, c.id, 'ssh')).outcome, 'allowed');
        assert.deepEqual(await approved, { requestId: r.id, userId: uid.ana, deviceId: dev.id, credentialId: c.id, purpose: 'session', startsAt: Date.parse(r.startsAt), endsAt: Date.parse(r.endsAt), emergency: false });
        assert.deepEqual(await expired, { requestId: r.id, userId: uid.ana, deviceId: dev.id, credentialId: c.id });
        assert.ok(Date.now() >= Date.parse(r.endsAt), 'announced once ended, not before');
      } finally {
        await jobs.stop();
        await follower.stop();
      }
      // Announced once, with its audit event, whichever process runs the job next.
      assert.equal(await a.accessRequests.announceExpiredGrants(), 0);
      assert.equal((await a.store.repos.auditEvents.query({ type: 'access.grant_expired', subject: `request:${r.id}`, limit: 5 })).length, 1);
      assert.equal((await a.accessDecisions.decide(uid.ana!, dev.id, c.id, 'ssh')).outcome, 'approval-required');
    });

    test('emergency access skips only the approval of the user’s own group, and raises a high-severity audit event naming it', async () => {
      const dev = await a.devices.createDevice(admin, { hostname: 'glass01', address: '127.9.0.3', connectivity: 'SSH:22' });
      const c = await a.credentials.createCredential(admin, { deviceId: dev.id, username: 'root', secret: 'S3cret-Glass' });
      const g = await a.accessGroups.saveGroup(admin, { name: 'glass-group', userIds: [uid.ana], deviceIds: [dev.id], credentialIds: [c.id], approvalRequired: true, approverIds: [uid.boss] });
      const r = await a.accessRequests.requestAccess(as('ana'), { deviceId: dev.id, credentialId: c.id, reason: 'production is down', emergency: true });
      assert.equal(r.status, 'approved');
      assert.equal(r.emergency, true);
      assert.equal(Date.parse(r.endsAt) - Date.parse(r.startsAt), 60 * 60_000, 'an hour unless asked otherwise');
      const d = await a.accessDecisions.decide(uid.ana!, dev.id, c.id, 'ssh');
      assert.equal(d.outcome, 'allowed');
      assert.equal(d.outcome === 'allowed' && d.emergency, true);
      assert.equal(d.outcome === 'allowed' && d.groupId, g.id);
      const [row] = await a.store.repos.auditEvents.query({ type: 'access.emergency', limit: 1 });
      // High by its type in the catalogue, not by a field the caller wrote into the detail.
      assert.deepEqual(classifyAuditRow(row!), { eventCode: 'W3003', severity: 'high' });
      assert.match(row!.detail, new RegExp(`"groupId":${g.id}`));
      assert.match(row!.detail, /"group":"glass-group"/);
      // Leaving the group ends what the grant gives, though the grant runs on.
      const { id: groupId, ...fields } = await a.accessGroups.group(g.id);
      await a.accessGroups.saveGroup(admin, { ...fields, userIds: [] }, groupId);
      assert.equal((await a.accessDecisions.decide(uid.ana!, dev.id, c.id, 'ssh')).outcome, 'denied');
    });

    test('break-glass is refused (and audited) with no group, outside the window, and never reaches past 7 days', async () => {
      const dev = await a.devices.createDevice(admin, { hostname: 'glass02', address: '127.9.0.5', connectivity: 'SSH:22' });
      const c = await a.credentials.createCredential(admin, { deviceId: dev.id, username: 'root', secret: 'S3cret-Glass-2' });
      // No group: dee (password viewer) holds nothing of glass02.
      await assert.rejects(a.accessRequests.requestAccess(as('dee'), { deviceId: dev.id, credentialId: c.id, purpose: 'password-view', reason: 'production is down', emergency: true }), /denied/);
      await assert.rejects(a.passwordView.viewPassword(as('dee'), c.id, 'production is down'), /not allowed/);
      const [refused] = await a.store.repos.auditEvents.query({ type: 'access.emergency', limit: 1 });
      assert.equal(refused!.outcome, 'failure');
      assert.match(refused!.detail, /no-access-group/);
      // Outside the group's window (UTC, a one-minute slot three days away).
      const day = (new Date().getUTCDay() + 3) % 7;
      await a.accessGroups.saveGroup(admin, { name: 'glass-night', sessionAllowed: false, passwordViewAllowed: true, approvalRequired: true, approverIds: [uid.boss], userIds: [uid.dee], deviceIds: [dev.id], credentialIds: [c.id], timeWindows: [{ days: [day], start: '00:00', end: '00:01' }] });
      await assert.rejects(a.accessRequests.requestAccess(as('dee'), { deviceId: dev.id, credentialId: c.id, purpose: 'password-view', reason: 'production is down', emergency: true }), /outside-time-window/);
      await assert.rejects(a.passwordView.viewPassword(as('dee'), c.id, 'production is down'), /not allowed/);
      // A start six days ahead: the grant is that period (≤ 7 days), not "from now".
      await a.accessGroups.saveGroup(admin, { name: 'glass-any', sessionAllowed: false, passwordViewAllowed: true, approvalRequired: true, approverIds: [uid.boss], userIds: [uid.dee], deviceIds: [dev.id], credentialIds: [c.id] });
      const startsAt = Date.now() + 6 * 86_400_000;
      await assert.rejects(
        a.accessRequests.requestAccess(as('dee'), { deviceId: dev.id, credentialId: c.id, purpose: 'password-view', reason: 'later', emergency: true, startsAt: new Date(startsAt).toISOString(), endsAt: new Date(startsAt + 7 * 86_400_000 + 1).toISOString() }),
        InputError,
      );
      const later = await a.accessRequests.requestAccess(as('dee'), { deviceId: dev.id, credentialId: c.id, purpose: 'password-view', reason: 'later', emergency: true, startsAt: new Date(startsAt).toISOString(), endsAt: new Date(startsAt + 7 * 86_400_000).toISOString() });
      assert.equal(Date.parse(later.startsAt), startsAt);
      assert.equal(Date.parse(later.endsAt) - Date.parse(later.startsAt), 7 * 86_400_000);
      assert.equal((await a.accessDecisions.decide(uid.dee!, dev.id, c.id, 'password-view')).outcome, 'approval-required', 'nothing before the grant begins');
      await assert.rejects(a.passwordView.viewPassword(as('dee'), c.id, 'now'), /approval is required/);
      assert.equal((await a.accessDecisions.decide(uid.dee!, dev.id, c.id, 'password-view', startsAt + 86_400_000)).outcome, 'allowed', 'within it, through glass-any');
    });

    test('password view: reason when required, audited; PCI split gives each user one half, never both', async () => {
      const dev = await a.devices.createDevice(admin, { hostname: 'pci01', address: '127.9.0.4', connectivity: 'SSH:22' });
      const c = await a.credentials.createCredential(admin, { deviceId: dev.id, username: 'sa', secret: 'ABCDEFGHIJ', splitView: true });
      await a.accessGroups.saveGroup(admin, { name: 'pci-viewers', sessionAllowed: false, passwordViewAllowed: true, reasonRequired: true, userIds: [uid.ben, uid.cai, uid.dee], deviceIds: [dev.id], credentialIds: [c.id] });
      await assert.rejects(a.passwordView.viewPassword(as('ana'), c.id, 'x'), /not allowed/);
      await assert.rejects(a.passwordView.viewPassword(as('ben'), c.id, ''), InputError);
      const first = await a.passwordView.viewPassword(as('ben'), c.id, 'quarterly audit');
      const second = await a.passwordView.viewPassword(as('cai'), c.id, 'quarterly audit');
      assert.deepEqual([first, second], [{ secret: 'ABCDE', part: 'first-half' }, { secret: 'FGHIJ', part: 'second-half' }]);
      assert.deepEqual(await a.passwordView.viewPassword(as('ben'), c.id, 'again'), first, 'the same user keeps the same half');
      await assert.rejects(a.passwordView.viewPassword(as('dee'), c.id, 'third person'), /both halves/);
      const views = await a.store.repos.auditEvents.query({ type: 'vault.password_view', limit: 10 });
      assert.ok(views.some((v) => v.actor === 'cai' && /quarterly audit/.test(v.detail)));
      // Each view names the version of the secret it showed; a new secret is the next version.
      assert.ok(views.filter((v) => v.outcome === 'success').every((v) => JSON.parse(v.detail).version === 1), 'the first secret is version 1');
      await a.credentials.updateCredential(admin, c.id, { secret: 'KLMNOPQRST' });
      assert.deepEqual(await a.passwordView.viewPassword(as('ben'), c.id, 'after the change'), { secret: 'KLMNO', part: 'first-half' });
      const [latest] = await a.store.repos.auditEvents.query({ type: 'vault.password_view', limit: 1 });
      assert.equal(JSON.parse(latest!.detail).version, 2);
      assert.deepEqual((await a.credentials.versions(c.id)).map((v) => [v.version, v.source]), [[2, 'update'], [1, 'create']]);
      assert.ok(views.every((v) => !v.detail.includes('ABCDE') && !v.detail.includes('FGHIJ')), 'the secret never reaches the audit trail');
    });

    test('invalid groups are refused', async () => {
      for (const bad of [{ name: '' }, { name: 'g', approvalRequired: true, approverIds: [] }, { name: 'g', timeWindows: [{ days: [9], start: '00:00', end: '01:00' }] }, { name: 'g', userIds: [999999] }, { name: 'ops' }]) {
        await assert.rejects(a.accessGroups.saveGroup(admin, bad), WardenError, JSON.stringify(bad));
      }
    });
  });

  test('the whole story is one intact audit chain', async () => {
    assert.equal((await a.audit.verify()).ok, true);
  });
});
