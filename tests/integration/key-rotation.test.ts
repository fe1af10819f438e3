// orbit backup keys: a new master key and new custodian shares while the web daemon keeps serving;
// every secret re-wrapped, the old key destroyed on the token; old backups need the old shares, new
// backups the new ones.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { TEST_ARGON2_FLAGS, tempDir, strongPassword } from '../helpers/fixtures.js';
import { ApiClient, startWebDaemon, type RunningDaemon } from '../helpers/web-daemon.js';
import { runOrbit } from '../helpers/orbit.js';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';

const orbit = runOrbit;

describe('master key rotation', () => {
  const tmp = tempDir('warden-rotate-');
  const home = path.join(tmp.dir, 'home');
  const f = (name: string) => path.join(tmp.dir, name);
  let d: RunningDaemon;
  let admin: ApiClient;
  let credentialId = 0;

  before(async () => {
    const init = await orbit(home, ['init', '--admin-user', 'admin', '--listen', '127.0.0.1', '--https-port', '0', '--http-port', '0', ...TEST_ARGON2_FLAGS, '--shares-dir', f('old-shares'), '--json']);
    assert.equal(init.code, 0, init.stderr);
    const otp = JSON.parse(init.stdout).oneTimePassword;
    d = await startWebDaemon({ home, configFile: path.join(home, 'warden.json') } as never);
    admin = new ApiClient(d);
    await admin.loginAndChange('admin', otp, strongPassword());
    const dev = await admin.call('POST', '/api/v1/devices', { hostname: 'db01', address: '127.0.0.1', connectivity: 'SSH:22' });
    const cred = await admin.call('POST', '/api/v1/credentials', { deviceId: dev.json.device.id, username: 'root', secret: 'Before-Rotation-1' });
    credentialId = cred.json.credential.id;
    await admin.call('POST', '/api/v1/access-groups', { name: 'admins', sessionAllowed: false, passwordViewAllowed: true, userIds: [1], deviceIds: [dev.json.device.id], credentialIds: [credentialId] });
    assert.equal((await admin.call('POST', `/api/v1/credentials/${credentialId}/view`, { reason: 'before' })).json.secret, 'Before-Rotation-1');
    assert.equal((await orbit(home, ['backup', 'create', f('before.backup')])).code, 0);
  });
  after(async () => {
    await d?.stop();
    tmp.cleanup();
  });

  test('rotation re-wraps every secret; the running daemon keeps decrypting without a restart', async () => {
    const r = await orbit(home, ['backup', 'keys', '--custodians', '2', '--threshold', '2', '--shares-dir', f('new-shares')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /warden-master-v1 → warden-master-v2/);
    assert.match(r.stdout, /\d+ sealed values re-wrapped/);
    const view = await admin.call('POST', `/api/v1/credentials/${credentialId}/view`, { reason: 'after' });
    assert.equal(view.status, 200, view.body);
    assert.equal(view.json.secret, 'Before-Rotation-1');
    const c = await admin.call('POST', '/api/v1/credentials', { deviceId: 1, username: 'after', secret: 'After-Rotation-2' });
    assert.equal(c.status, 201, c.body);
  });

  test('the status is healthy and the audit trail records the rotation', async () => {
    const s = await orbit(home, ['status', '--json']);
    assert.equal(s.code, 0, s.stdout);
    const a = await Appliance.open(loadConfig({ WARDEN_HOME: home }));
    try {
      const [row] = await a.store.repos.auditEvents.query({ type: 'keys.rotate', limit: 1 });
      assert.match(row!.detail, /warden-master-v1/);
      assert.equal(await a.credentials.secretOf(credentialId), 'Before-Rotation-1');
    } finally {
      await a.close();
    }
  });

  test('old backups restore with the old shares, new backups only with the new ones', async () => {
    assert.equal((await orbit(home, ['backup', 'create', f('after.backup')])).code, 0);
    const old = ['--share', path.join(f('old-shares'), 'share-1-of-3.txt'), '--share', path.join(f('old-shares'), 'share-3-of-3.txt')];
    const fresh = ['--share', path.join(f('new-shares'), 'share-1-of-2.txt'), '--share', path.join(f('new-shares'), 'share-2-of-2.txt')];
    const wrong = await orbit(f('r1'), ['backup', 'restore', f('after.backup'), ...old]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /do not rebuild the master key/);
    assert.equal((await orbit(f('r2'), ['backup', 'restore', f('after.backup'), ...fresh])).code, 0);
    assert.equal((await orbit(f('r3'), ['backup', 'restore', f('before.backup'), ...old])).code, 0);
    // The audit key's copy moved to the new master key with everything else: both restores verify the
    // same keyed chain on their new tokens, and the rotated appliance itself still does.
    for (const where of [home, f('r2'), f('r3')]) {
      const v = await orbit(where, ['audit', 'verify']);
      assert.equal(v.code, 0, `${where}: ${v.stdout} ${v.stderr}`);
      assert.match(v.stdout, /intact/);
    }
  });
});
