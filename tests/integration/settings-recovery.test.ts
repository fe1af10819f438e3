// The IP denylist cannot lock the administrators out of the web, and the console has a way back: the API
// refuses a denylist covering the caller (or a whole address family), and `orbit settings set` clears a
// denylist that locks everyone out, audited, after which login works again.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { initializedHome, strongPassword, type InitializedHome } from '../helpers/fixtures.js';
import { ApiClient, httpsRequest, startWebDaemon, type RunningDaemon } from '../helpers/web-daemon.js';
import { runOrbit } from '../helpers/orbit.js';
import { Store } from '../../appliance/store/index.js';

const settingsCache = () => new Promise((r) => setTimeout(r, 1100)); // the daemon re-reads settings at most once a second

describe('IP denylist lockout and the console way back', () => {
  let home: InitializedHome;
  let d: RunningDaemon;
  let admin: ApiClient;
  let password: string;
  let store: Store;

  before(async () => {
    home = await initializedHome();
    d = await startWebDaemon(home);
    admin = new ApiClient(d);
    password = strongPassword();
    await admin.loginAndChange('admin', home.oneTimePassword, password);
    store = await Store.open({ sqlitePath: path.join(home.home, 'warden.db') });
  });
  after(async () => {
    await store?.close();
    await d?.stop();
    home?.cleanup();
  });

  const orbit = (args: string[]) => runOrbit(home.home, args);

  const lockouts: [string, string[]][] = [
    ['every IPv4 address', ['0.0.0.0/0']],
    ['every address', ['::/0']],
    ['every IPv4 address written as IPv4-mapped IPv6', ['::ffff:0:0/96']],
    ["the caller's network", ['198.51.100.0/24', '127.0.0.0/8']],
    ["the caller's own address", ['127.0.0.1']],
    ["the caller's address in IPv4-mapped IPv6 form", ['::ffff:127.0.0.1/128']],
  ];
  for (const [what, list] of lockouts) {
    test(`a denylist covering ${what} is refused with 400 and nothing changes`, async () => {
      const r = await admin.call('PUT', '/api/v1/settings', { ipDenylist: list });
      assert.equal(r.status, 400, r.body);
      assert.equal(r.json.error, 'INPUT_INVALID');
      assert.match(r.json.message, /lock (you|everyone) out/);
      assert.deepEqual((await admin.call('GET', '/api/v1/settings')).json.settings.ipDenylist, []);
    });
  }

  test('a denylist that does not cover the caller is saved', async () => {
    const r = await admin.call('PUT', '/api/v1/settings', { ipDenylist: ['127.0.0.2/32', '198.51.100.0/24', '2001:db8:bad::/48'] });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.json.settings.ipDenylist, ['127.0.0.2/32', '198.51.100.0/24', '2001:db8:bad::/48']);
    assert.equal((await admin.call('GET', '/api/v1/settings')).status, 200, 'the caller still reaches the API');
    assert.equal((await admin.call('PUT', '/api/v1/settings', { ipDenylist: [] })).status, 200);
  });

  test('orbit settings set clears a denylist that locks everyone out; login works again; the change is audited', async () => {
    // A state the API no longer produces (left by an older version, or a restored database).
    await store.repos.settings.put('ipDenylist', JSON.stringify(['0.0.0.0/0', '::/0']), 'legacy', Date.now());
    await settingsCache();
    const login = () => httpsRequest(d, { path: '/api/v1/auth/login', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) });
    assert.equal((await login()).status, 403, 'everyone is locked out of the web');

    const shown = await orbit(['settings', 'show', 'ipDenylist']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(JSON.parse(shown.stdout), ['0.0.0.0/0', '::/0']);

    const set = await orbit(['settings', 'set', 'ipDenylist', '']);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^ipDenylist = \[\]$/m);
    await settingsCache();
    assert.equal((await login()).status, 200, 'login works again');

    const [row] = await store.repos.auditEvents.query({ type: 'settings.change', limit: 1 });
    assert.ok(row, 'a settings.change event');
    assert.match(row.actor ?? '', /^orbit/);
    assert.equal(row.actor_ip, null);
    assert.equal(row.subject, 'ipDenylist');
    assert.deepEqual(JSON.parse(row.detail).changes, { ipDenylist: [] });
    const verify = await orbit(['audit', 'verify']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  });

  test('orbit settings show prints every key; --json the whole object', async () => {
    const text = await orbit(['settings', 'show']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^lockout\.maxAttempts = 5$/m);
    assert.match(text.stdout, /^ipDenylist = \[\]$/m);
    const json = await orbit(['settings', 'show', '--json']);
    assert.equal(JSON.parse(json.stdout).settings.lockout.maxAttempts, 5);
  });

  test('orbit settings set: the friendly list form, the JSON form, and the same validation as the API', async () => {
    const list = await orbit(['settings', 'set', 'ipDenylist', '198.51.100.0/24, 2001:db8:bad::/48']);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(JSON.parse((await orbit(['settings', 'show', 'ipDenylist'])).stdout), ['198.51.100.0/24', '2001:db8:bad::/48']);
    const json = await orbit(['settings', 'set', 'ipDenylist', '["192.0.2.0/24"]', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout).settings.ipDenylist, ['192.0.2.0/24']);

    const everyone = await orbit(['settings', 'set', 'ipDenylist', '0.0.0.0/0']);
    assert.equal(everyone.code, 1, 'refused by validation');
    assert.match(everyone.stderr, /lock everyone out/);
    const range = await orbit(['settings', 'set', 'lockout.maxAttempts', '0']);
    assert.equal(range.code, 1);
    assert.match(range.stderr, /lockout\.maxAttempts/);
    assert.deepEqual(JSON.parse((await orbit(['settings', 'show', 'ipDenylist'])).stdout), ['192.0.2.0/24'], 'nothing changed');

    for (const usage of [['settings', 'set', 'colour', 'blue'], ['settings', 'set', 'lockout.maxAttempts', 'five'], ['settings', 'set', 'mfa.forceCertificateForAll', 'yes'], ['settings', 'set', 'ipDenylist'], ['settings', 'show', 'nope']]) {
      const r = await orbit(usage);
      assert.equal(r.code, 2, `${usage.join(' ')}: ${r.stderr}`);
    }
    assert.equal((await orbit(['settings', 'set', 'ipDenylist', '[]'])).code, 0);
  });
});
