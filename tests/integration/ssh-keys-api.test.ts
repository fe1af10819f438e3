// SSH public keys over the HTTP API of the real daemon: a user registers, lists and removes their own keys
// (keys made by ssh-keygen), bad lines are refused with a clear reason, duplicates conflict, every change is
// audited; an administrator lists and removes a user's keys; another user can neither see nor remove them.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { initializedHome, strongPassword, tempDir, type InitializedHome } from '../helpers/fixtures.js';
import { ApiClient, startWebDaemon, type RunningDaemon } from '../helpers/web-daemon.js';

describe('SSH keys over the API', () => {
  let home: InitializedHome;
  let d: RunningDaemon;
  let admin: ApiClient;
  const tmp = tempDir('warden-apikeys-');

  function keygen(type: string, bits?: number): { pub: string; priv: string; fingerprint: string } {
    const file = path.join(tmp.dir, `k-${Math.random().toString(36).slice(2)}`);
    execFileSync('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', String(bits)] : []), '-N', '', '-C', 'dave@laptop', '-f', file]);
    const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
    return { pub: readFileSync(`${file}.pub`, 'utf8'), priv: readFileSync(file, 'utf8'), fingerprint };
  }

  before(async () => {
    home = await initializedHome();
    d = await startWebDaemon(home);
    admin = new ApiClient(d);
    await admin.loginAndChange('admin', home.oneTimePassword, strongPassword());
  });
  after(async () => {
    await d?.stop();
    home?.cleanup();
    tmp.cleanup();
  });

  async function user(username: string): Promise<{ id: number; client: ApiClient }> {
    const r = await admin.call('POST', '/api/v1/users', { username, fullName: username, email: `${username}@example.test`, profile: 'privileged-access-user' });
    assert.equal(r.status, 201, r.body);
    const client = new ApiClient(d);
    await client.loginAndChange(username, r.json.oneTimePassword, strongPassword());
    return { id: r.json.user.id, client };
  }

  test('a user adds, lists and removes their keys; refusals say why; an admin lists and removes; others cannot', async () => {
    const dave = await user('dave');
    const eve = await user('eve');
    const ed = keygen('ed25519');
    const added = await dave.client.call('POST', '/api/v1/me/ssh-keys', { key: ed.pub });
    assert.equal(added.status, 201, added.body);
    assert.equal(added.json.key.fingerprint, ed.fingerprint);
    assert.equal(added.json.key.comment, 'dave@laptop');
    assert.equal(added.json.key.publicKey, ed.pub.trim());

    const again = await dave.client.call('POST', '/api/v1/me/ssh-keys', { key: ed.pub });
    assert.equal(again.status, 409);
    const priv = await dave.client.call('POST', '/api/v1/me/ssh-keys', { key: ed.priv });
    assert.equal(priv.status, 400);
    assert.match(priv.json.message, /private key/);
    assert.equal(priv.body.includes(ed.priv.split('\n')[1]!.slice(0, 20)), false, 'nothing of the private key comes back');
    const short = await dave.client.call('POST', '/api/v1/me/ssh-keys', { key: keygen('rsa', 1024).pub });
    assert.equal(short.status, 400);
    assert.match(short.json.message, /2048 bits/);
    const dsa = await dave.client.call('POST', '/api/v1/me/ssh-keys', { key: keygen('dsa').pub });
    assert.match(dsa.json.message, /DSA/);
    assert.equal((await dave.client.call('POST', '/api/v1/me/ssh-keys', { key: 'not a key' })).status, 400);

    const ec = await dave.client.call('POST', '/api/v1/me/ssh-keys', { key: keygen('ecdsa', 256).pub });
    assert.equal(ec.status, 201);
    const mine = await dave.client.call('GET', '/api/v1/me/ssh-keys');
    assert.deepEqual(mine.json.keys.map((k: { algorithm: string }) => k.algorithm), ['ssh-ed25519', 'ecdsa-sha2-nistp256']);

    // Another user sees only their own, and cannot remove dave's (not found, not forbidden: ids do not leak).
    assert.deepEqual((await eve.client.call('GET', '/api/v1/me/ssh-keys')).json.keys, []);
    assert.equal((await eve.client.call('DELETE', `/api/v1/me/ssh-keys/${added.json.key.id}`)).status, 404);
    assert.equal((await eve.client.call('GET', `/api/v1/users/${dave.id}/ssh-keys`)).status, 403);

    assert.equal((await dave.client.call('DELETE', `/api/v1/me/ssh-keys/${added.json.key.id}`)).status, 204);
    const listed = await admin.call('GET', `/api/v1/users/${dave.id}/ssh-keys`);
    assert.deepEqual(listed.json.keys.map((k: { id: number }) => k.id), [ec.json.key.id]);
    assert.equal((await admin.call('DELETE', `/api/v1/users/${dave.id}/ssh-keys/${ec.json.key.id}`)).status, 204);
    assert.deepEqual((await dave.client.call('GET', '/api/v1/me/ssh-keys')).json.keys, []);

    const audit = await admin.call('GET', '/api/v1/audit?subject=dave&limit=50');
    const types = (audit.json.events as { type: string; actor: string }[]).filter((e) => e.type.startsWith('user.ssh_key')).map((e) => `${e.type}:${e.actor}`);
    assert.deepEqual(types.sort(), ['user.ssh_key_add:dave', 'user.ssh_key_add:dave', 'user.ssh_key_remove:admin', 'user.ssh_key_remove:dave']);
  });
});
