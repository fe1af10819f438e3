// The vault and access policy over the web daemon's API: administrators manage devices (and import CSV),
// credentials, groups and protected files; users see what they may reach and ask for more; approvers
// decide from their inbox; password view is permission-, policy- and reason-gated.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { InitializedHome } from '../helpers/fixtures.js';
import { ApiClient, type RunningDaemon, daemonWithAdmin, signInAccounts } from '../helpers/web-daemon.js';

describe('access API', () => {
  let home: InitializedHome;
  let d: RunningDaemon;
  let admin: ApiClient;
  const clients: Record<string, ApiClient> = {};
  const ids: Record<string, number> = {};

  before(async () => {
    ({ home, d, admin } = await daemonWithAdmin());
    await signInAccounts(admin, d, [['ops', 'privileged-access-user'], ['lead', 'administrator'], ['viewer', 'password-viewer'], ['audit', 'auditor']] as const, clients, ids);
  });
  after(async () => {
    await d?.stop();
    home?.cleanup();
  });

  test('devices: create, import CSV with a per-row report, read as auditor, refuse bad input', async () => {
    const created = await admin.call('POST', '/api/v1/devices', { hostname: 'app01', address: '127.0.2.10', vendor: 'Lenovo', site: 'Recife', connectivity: 'SSH:22' });
    assert.equal(created.status, 201, created.body);
    ids.app01 = created.json.device.id;
    const imported = await admin.call('POST', '/api/v1/devices/import', { csv: 'hostname,address,connectivity\napp02,127.0.2.11,SSH:22\napp03,bogus,SSH:22\n' });
    assert.equal(imported.status, 200, imported.body);
    assert.equal(imported.json.imported, 1);
    assert.deepEqual(imported.json.rows.map((r: { ok: boolean }) => r.ok), [true, false]);
    assert.equal((await clients.audit!.call('GET', '/api/v1/devices')).json.devices.length, 2);
    assert.equal((await clients.audit!.call('POST', '/api/v1/devices', { hostname: 'x', address: '127.0.2.99' })).status, 403);
    assert.equal((await admin.call('POST', '/api/v1/devices', { hostname: 'app09', address: '127.0.2.12', owner: 'me' })).status, 400);
    assert.equal((await admin.call('GET', '/api/v1/devices/abc')).status, 400);
    assert.equal((await admin.call('GET', '/api/v1/devices/99999')).status, 404);
  });

  test('credentials are created without ever echoing the secret', async () => {
    const r = await admin.call('POST', '/api/v1/credentials', { deviceId: ids.app01, username: 'root', secret: 'T0p-Secret-Root', kind: 'local-privileged' });
    assert.equal(r.status, 201, r.body);
    assert.equal(r.body.includes('T0p-Secret-Root'), false);
    ids.cred = r.json.credential.id;
    const device = await admin.call('GET', `/api/v1/devices/${ids.app01}`);
    assert.equal(device.json.credentials.length, 1);
    assert.equal(device.body.includes('T0p-Secret-Root'), false);
  });

  test('request, inbox, approve: the decision moves from approval-required to allowed', async () => {
    const g = await admin.call('POST', '/api/v1/access-groups', {
      name: 'app-ops',
      userIds: [ids.ops],
      deviceIds: [ids.app01],
      credentialIds: [ids.cred],
      approvalRequired: true,
      approverIds: [ids.lead],
      timeWindows: [],
    });
    assert.equal(g.status, 201, g.body);
    const mine = await clients.ops!.call('GET', '/api/v1/my/devices');
    assert.deepEqual(mine.json.devices.map((x: { hostname: string }) => x.hostname), ['app01']);
    const q = `/api/v1/my/decision?device=${ids.app01}&credential=${ids.cred}&purpose=ssh`;
    assert.equal((await clients.ops!.call('GET', q)).json.decision.outcome, 'approval-required');
    const req = await clients.ops!.call('POST', '/api/v1/access-requests', { deviceId: ids.app01, credentialId: ids.cred, reason: 'deploy 2.4.1' });
    assert.equal(req.status, 201, req.body);
    const inbox = await clients.lead!.call('GET', '/api/v1/access-requests/inbox');
    assert.deepEqual(inbox.json.requests.map((r: { id: number }) => r.id), [req.json.request.id]);
    assert.equal((await clients.ops!.call('POST', `/api/v1/access-requests/${req.json.request.id}/approve`, {})).status, 403);
    const ok = await clients.lead!.call('POST', `/api/v1/access-requests/${req.json.request.id}/approve`, { comment: 'go' });
    assert.equal(ok.json.request.status, 'approved');
    assert.equal((await clients.ops!.call('GET', q)).json.decision.outcome, 'allowed');
  });

  test('password view: the profile, the policy and the reason all gate it', async () => {
    await admin.call('POST', '/api/v1/access-groups', { name: 'viewers', sessionAllowed: false, passwordViewAllowed: true, reasonRequired: true, userIds: [ids.viewer], deviceIds: [ids.app01], credentialIds: [ids.cred] });
    assert.equal((await clients.ops!.call('POST', `/api/v1/credentials/${ids.cred}/view`, { reason: 'x' })).status, 403, 'profile without passwords.view');
    assert.equal((await clients.viewer!.call('POST', `/api/v1/credentials/${ids.cred}/view`, {})).status, 400, 'reason required');
    const seen = await clients.viewer!.call('POST', `/api/v1/credentials/${ids.cred}/view`, { reason: 'incident 4711' });
    assert.equal(seen.status, 200, seen.body);
    assert.deepEqual(seen.json, { secret: 'T0p-Secret-Root', part: 'whole' });
    assert.equal(seen.headers['cache-control'], 'no-store');
  });

  test('protected files: upload sealed with an owner, download by the owning device’s group, audited with a reason', async () => {
    const content = Buffer.from('certificate bundle ✓');
    const up = await admin.call('POST', '/api/v1/protected', { name: 'CA bundle', kind: 'certificate', filename: 'bundle.pem', mediaType: 'application/x-pem-file', deviceId: ids.app01, contentBase64: content.toString('base64') });
    assert.equal(up.status, 201, up.body);
    const down = await clients.viewer!.call('POST', `/api/v1/protected/${up.json.id}/download`, { reason: 'renewal' });
    assert.equal(down.status, 200);
    assert.equal(down.body, content.toString('utf8'));
    assert.match(String(down.headers['content-disposition']), /filename="bundle.pem"/);
    assert.equal((await clients.viewer!.call('POST', `/api/v1/protected/${up.json.id}/download`, {})).status, 400);
  });

  test('auditors read the audit trail and its verdict; others may not', async () => {
    const r = await clients.audit!.call('GET', '/api/v1/audit?type=access.approve&limit=5');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.events[0].actor, 'lead');
    // The rows keep their fields and gain the catalogue's: `code` stays the reason code, `eventCode` names the type.
    assert.deepEqual(Object.keys(r.json.events[0]).sort(), ['actor', 'actorIp', 'at', 'code', 'detail', 'eventCode', 'hash', 'outcome', 'seq', 'severity', 'subject', 'type']);
    assert.equal(r.json.events[0].eventCode, 'W3001');
    assert.equal(r.json.events[0].severity, 'low');
    const catalogue = await clients.audit!.call('GET', '/api/v1/audit/event-types');
    assert.equal(catalogue.status, 200, catalogue.body);
    const emergency = (catalogue.json.eventTypes as { type: string; code: string; severity: string; detail: Record<string, string> }[]).find((t) => t.type === 'access.emergency');
    assert.equal(emergency?.code, 'W3003');
    assert.equal(emergency?.severity, 'high');
    assert.equal(emergency?.detail.credentialId, 'number');
    assert.equal((await clients.ops!.call('GET', '/api/v1/audit/event-types')).status, 403);
    assert.equal((await clients.audit!.call('GET', '/api/v1/audit/verify')).json.verdict.ok, true);
    assert.equal((await clients.ops!.call('GET', '/api/v1/audit')).status, 403);
    assert.equal((await clients.audit!.call('GET', '/api/v1/audit?since=never')).status, 400);
  });
});
