// The web daemon as a real process over real HTTPS: redirect, TLS versions, login, forced change,
// CSRF, lockout, single session, IP denylist and binding, bad input, reload and drain.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { initializedHome, strongPassword, type InitializedHome } from '../helpers/fixtures.js';
import { ApiClient, httpGet, httpsRequest, startWebDaemon, type RunningDaemon } from '../helpers/web-daemon.js';
import { Store } from '../../appliance/store/index.js';
import { Appliance } from '../../appliance/appliance.js';
import { loadConfig } from '../../appliance/config/index.js';
import { createSelfSignedTlsCertificate } from '../../appliance/pki/index.js';

function tlsHandshake(port: number, options: tls.ConnectionOptions): Promise<{ protocol: string | null; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () => {
      const r = { protocol: s.getProtocol(), fingerprint: s.getPeerCertificate().fingerprint256 };
      s.end();
      resolve(r);
    });
    s.on('error', reject);
  });
}

describe('web daemon over HTTPS', () => {
  let home: InitializedHome;
  let d: RunningDaemon;
  let admin: ApiClient;
  let adminPassword: string;
  let store: Store;

  before(async () => {
    home = await initializedHome();
    d = await startWebDaemon(home);
    admin = new ApiClient(d);
    adminPassword = strongPassword();
    await admin.loginAndChange('admin', home.oneTimePassword, adminPassword);
    store = await Store.open({ sqlitePath: path.join(home.home, 'warden.db') });
    // Every case here fails logins from 127.0.0.1: the per-address throttle is tested on its own address below.
    assert.equal((await admin.call('PUT', '/api/v1/settings', { loginThrottle: { maxFailures: 10_000 } })).status, 200);
  });
  after(async () => {
    await store?.close();
    await d?.stop();
    home?.cleanup();
  });

  async function auditRows(type: string, subject?: string) {
    return store.repos.auditEvents.query({ type, limit: 50, ...(subject ? { subject } : {}) });
  }

  async function newUser(profile = 'privileged-access-user'): Promise<{ username: string; id: number; password: string }> {
    const username = `u${Math.random().toString(36).slice(2, 9)}`;
    const r = await admin.call('POST', '/api/v1/users', { username, fullName: 'Test', email: `${username}@example.test`, profile });
    assert.equal(r.status, 201, r.body);
    const password = strongPassword();
    await new ApiClient(d).loginAndChange(username, r.json.oneTimePassword, password);
    return { username, id: r.json.user.id, password };
  }

  describe('transport', () => {
    test('plain HTTP only redirects to HTTPS, keeping the path', async () => {
      for (const method of ['GET', 'POST', 'HEAD']) {
        const r = await httpGet(d.httpPort, '/api/v1/users?x=1', method);
        assert.equal(r.status, 301);
        assert.equal(r.location, `https://127.0.0.1:${d.httpsPort}/api/v1/users?x=1`);
      }
    });

    test('a hostile Host header cannot turn the redirect elsewhere', async () => {
      const r = await new Promise<{ location?: string }>((resolve, reject) => {
        const sock = net.connect(d.httpPort, '127.0.0.1', () => sock.write('GET / HTTP/1.1\r\nHost: evil.example/@x\r\nConnection: close\r\n\r\n'));
        let data = '';
        sock.on('data', (c: Buffer) => (data += c));
        sock.on('end', () => resolve({ location: /location: (\S+)/i.exec(data)?.[1] }));
        sock.on('error', reject);
      });
      assert.equal(r.location, `https://127.0.0.1:${d.httpsPort}/`);
    });

    test('TLS 1.0 and 1.1 are refused even by a client willing to speak them', async () => {
      for (const v of ['TLSv1', 'TLSv1.1'] as const) {
        await assert.rejects(tlsHandshake(d.httpsPort, { minVersion: v, maxVersion: v, ciphers: 'DEFAULT@SECLEVEL=0' }), Error, v);
      }
    });

    test('TLS 1.2 and 1.3 are accepted', async () => {
      assert.equal((await tlsHandshake(d.httpsPort, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' })).protocol, 'TLSv1.2');
      assert.equal((await tlsHandshake(d.httpsPort, { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' })).protocol, 'TLSv1.3');
    });

    test('TLS 1.2 without forward secrecy is refused', async () => {
      await assert.rejects(tlsHandshake(d.httpsPort, { maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA:AES256-GCM-SHA384' }));
    });

    test('responses carry HSTS and the page a strict CSP', async () => {
      const r = await httpsRequest(d, { path: '/' });
      assert.equal(r.status, 200);
      assert.match(String(r.headers['strict-transport-security']), /max-age=\d+/);
      assert.match(String(r.headers['content-security-policy']), /script-src 'self'/);
      assert.equal(r.headers['x-frame-options'], 'DENY');
    });
  });

  describe('login', () => {
    test('the session cookie is HttpOnly, Secure, SameSite=Strict and host-only', async () => {
      const c = new ApiClient(d);
      const r = await c.login('admin', adminPassword);
      assert.equal(r.status, 200);
      const cookie = r.headers['set-cookie']![0]!;
      assert.match(cookie, /^__Host-warden-session=/);
      assert.match(cookie, /HttpOnly/i);
      assert.match(cookie, /Secure/i);
      assert.match(cookie, /SameSite=Strict/i);
      assert.match(cookie, /Path=\//);
      assert.doesNotMatch(cookie, /Domain=/i);
      // Logging in again as admin from this client replaced the suite's admin session: take it back.
      admin = c;
    });

    test('wrong password, unknown user and locked account answer exactly the same', async () => {
      const u = await newUser();
      const wrong = await new ApiClient(d).login(u.username, 'Wrong-Password-1');
      const unknown = await new ApiClient(d).login('no-such-user', 'Wrong-Password-1');
      for (let i = 0; i < 4; i++) await new ApiClient(d).login(u.username, 'Wrong-Password-1');
      const locked = await new ApiClient(d).login(u.username, u.password);
      for (const r of [wrong, unknown, locked]) {
        assert.equal(r.status, 401);
        assert.deepEqual(r.json, { error: 'AUTH_INVALID', message: 'Invalid user credentials' });
      }
      const codes = (await auditRows('auth.login', u.username)).map((r) => r.code);
      assert.ok(codes.includes('AUTH_BAD_PASSWORD'));
      assert.ok(codes.includes('AUTH_LOCKED'));
      assert.equal((await auditRows('auth.login', 'no-such-user'))[0]?.code, 'AUTH_UNKNOWN_USER');
    });

    test('25 wrong passwords sent at once with the right one among them: never a working session on a locked account', async () => {
      const u = await newUser();
      // Each guess from its own loopback address: this is the account's lockout, not the address throttle.
      const clients = Array.from({ length: 26 }, (_, i) => new ApiClient(d, `127.0.9.${i + 1}`));
      const before = Math.max(0, ...(await auditRows('auth.login', u.username)).map((e) => Number(e.seq)));
      const results = await Promise.all(clients.map((c, i) => c.login(u.username, i === 13 ? u.password : `Wrong-Guess-${i}-x`)));
      assert.ok(results.every((r) => r.status === 200 || (r.status === 401 && r.json.message === 'Invalid user credentials')));
      const judged = (await auditRows('auth.login', u.username)).filter((e) => Number(e.seq) > before && (e.code === 'AUTH_BAD_PASSWORD' || e.outcome === 'success')).length;
      assert.ok(judged <= 5, `${judged} guesses reached the password check`);
      const view = await admin.call('GET', `/api/v1/users/${u.id}`);
      const winner = clients[13]!;
      if (view.json.user.locked) {
        // Locked: whatever the right password got, it is not a working session now.
        assert.notEqual((await winner.call('GET', '/api/v1/me')).status, 200);
      } else {
        assert.equal(results[13]!.status, 200);
        assert.equal((await winner.call('GET', '/api/v1/me')).status, 200);
      }
    });

    test('an administrator unlocks a locked account through the API', async () => {
      const u = await newUser();
      for (let i = 0; i < 5; i++) await new ApiClient(d).login(u.username, 'Wrong-Password-1');
      assert.equal((await new ApiClient(d).login(u.username, u.password)).status, 401);
      const view = await admin.call('GET', `/api/v1/users/${u.id}`);
      assert.equal(view.json.user.locked, true);
      assert.equal((await admin.call('POST', `/api/v1/users/${u.id}/unlock`)).status, 200);
      assert.equal((await new ApiClient(d).login(u.username, u.password)).status, 200);
    });

    test('until the first-login change, only the change is allowed', async () => {
      const username = `first${Math.random().toString(36).slice(2, 7)}`;
      const created = await admin.call('POST', '/api/v1/users', { username, fullName: 'First Login', profile: 'auditor' });
      const c = new ApiClient(d);
      const r = await c.login(username, created.json.oneTimePassword);
      assert.equal(r.json.passwordChangeRequired, true);
      const blocked = await c.call('GET', '/api/v1/users');
      assert.equal(blocked.status, 403);
      assert.equal(blocked.json.error, 'AUTH_PASSWORD_CHANGE_REQUIRED');
      const weak = await c.call('POST', '/api/v1/me/password', { currentPassword: created.json.oneTimePassword, newPassword: 'short' });
      assert.equal(weak.status, 422);
      assert.equal(weak.json.error, 'PASSWORD_TOO_SHORT');
      const ok = await c.call('POST', '/api/v1/me/password', { currentPassword: created.json.oneTimePassword, newPassword: strongPassword() });
      assert.equal(ok.status, 204);
      assert.equal((await c.call('GET', '/api/v1/users')).status, 200);
    });

    test('state changes without the CSRF token, or from another origin, are refused', async () => {
      const u = await newUser('administrator');
      const c = new ApiClient(d);
      await c.login(u.username, u.password);
      const token = c.csrf;
      c.csrf = '';
      const missing = await c.call('POST', '/api/v1/users', { username: 'csrf-victim', fullName: 'x', profile: 'auditor' });
      assert.equal(missing.status, 403);
      c.csrf = 'forged';
      assert.equal((await c.call('POST', '/api/v1/users', { username: 'csrf-victim', fullName: 'x', profile: 'auditor' })).status, 403);
      c.csrf = token;
      const crossOrigin = await c.call('POST', '/api/v1/users', { username: 'csrf-victim', fullName: 'x', profile: 'auditor' }, { origin: 'https://evil.example' });
      assert.equal(crossOrigin.status, 403);
      assert.equal(await store.repos.users.byUsername('csrf-victim'), undefined);
      assert.equal((await c.call('POST', '/api/v1/users', { username: 'csrf-ok', fullName: 'x', profile: 'auditor' })).status, 201);
    });

    test('a new login ends the session of the previous one', async () => {
      const u = await newUser();
      const a = new ApiClient(d);
      const b = new ApiClient(d);
      await a.login(u.username, u.password);
      assert.equal((await a.call('GET', '/api/v1/me')).status, 200);
      await b.login(u.username, u.password);
      assert.equal((await a.call('GET', '/api/v1/me')).status, 401);
      assert.equal((await b.call('GET', '/api/v1/me')).status, 200);
    });

    test('logout ends the session', async () => {
      const u = await newUser();
      const c = new ApiClient(d);
      await c.login(u.username, u.password);
      const cookie = c.cookie;
      assert.equal((await c.call('POST', '/api/v1/auth/logout')).status, 204);
      c.cookie = cookie;
      assert.equal((await c.call('GET', '/api/v1/me')).status, 401);
    });

    test('a session cookie replayed from another address is refused', async () => {
      const u = await newUser();
      const c = new ApiClient(d);
      await c.login(u.username, u.password);
      const thief = new ApiClient(d, '127.0.0.3');
      thief.cookie = c.cookie;
      assert.equal((await thief.call('GET', '/api/v1/me')).status, 401);
      const [row] = await auditRows('session.end', u.username);
      assert.equal(row?.code, 'AUTH_SESSION_IP_CHANGED');
    });

    test('a profile without the permission gets 403', async () => {
      const u = await newUser('auditor');
      const c = new ApiClient(d);
      await c.login(u.username, u.password);
      assert.equal((await c.call('GET', '/api/v1/users')).status, 200);
      const r = await c.call('POST', '/api/v1/users', { username: 'nope', fullName: 'x', profile: 'auditor' });
      assert.equal(r.status, 403);
      assert.equal((await c.call('PUT', '/api/v1/settings', { lockout: { maxAttempts: 100 } })).status, 403);
    });

    test('password spraying from one address: blocked after the limit, even with a right password, generic answer, audited', async () => {
      assert.equal((await admin.call('PUT', '/api/v1/settings', { loginThrottle: { maxFailures: 10 } })).status, 200);
      await new Promise((res) => setTimeout(res, 1100)); // the daemon re-reads settings at most once a second
      const from = (username: string, password: string) =>
        httpsRequest(d, { path: '/api/v1/auth/login', method: 'POST', localAddress: '127.0.0.3', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
      for (let i = 0; i < 10; i++) assert.equal((await from(`sprayed${i}`, 'Winter2026!')).status, 401);
      const right = await from('admin', adminPassword);
      assert.equal(right.status, 401);
      assert.deepEqual(right.json, { error: 'AUTH_INVALID', message: 'Invalid user credentials' });
      assert.equal((await auditRows('auth.throttle', 'ip:127.0.0.3'))[0]?.code, 'AUTH_THROTTLED');
      assert.equal((await admin.call('PUT', '/api/v1/settings', { loginThrottle: { maxFailures: 10_000 } })).status, 200);
    });

    test('a denylisted address is refused everything; others are not', async () => {
      const r = await admin.call('PUT', '/api/v1/settings', { ipDenylist: ['127.0.0.2/32'] });
      assert.equal(r.status, 200, r.body);
      await new Promise((res) => setTimeout(res, 1100)); // the daemon re-reads settings at most once a second
      const denied = await httpsRequest(d, { path: '/api/v1/auth/login', method: 'POST', localAddress: '127.0.0.2', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: adminPassword }) });
      assert.equal(denied.status, 403);
      assert.equal(denied.json.message, 'Invalid user credentials');
      assert.equal((await httpsRequest(d, { path: '/', localAddress: '127.0.0.2' })).status, 403);
      assert.equal((await httpsRequest(d, { path: '/healthz', localAddress: '127.0.0.4' })).status, 200);
      assert.equal((await admin.call('PUT', '/api/v1/settings', { ipDenylist: [] })).status, 200);
    });
  });

  describe('bad input', () => {
    async function usersCount() {
      return store.repos.users.count();
    }
    const raw = (body: string | Buffer, contentType = 'application/json') => ({
      method: 'POST',
      path: '/api/v1/users',
      headers: { 'content-type': contentType, cookie: admin.cookie, 'x-csrf-token': admin.csrf },
      body,
    });

    const cases: [string, () => { body: string | Buffer; type?: string }, number][] = [
      ['garbage JSON', () => ({ body: '{"username": "x", fullName' }), 400],
      ['an empty body', () => ({ body: '' }), 400],
      ['a JSON array', () => ({ body: '[1,2,3]' }), 400],
      ['unknown fields', () => ({ body: JSON.stringify({ username: 'unk', fullName: 'x', profile: 'auditor', isAdmin: true }) }), 400],
      ['a wrong type', () => ({ body: JSON.stringify({ username: 12, fullName: 'x', profile: 'auditor' }) }), 400],
      ['a prototype-pollution key', () => ({ body: '{"username":"pp","fullName":"x","profile":"auditor","__proto__":{"admin":true}}' }), 400],
      ['SQL metacharacters in the user name', () => ({ body: JSON.stringify({ username: "x'; DROP TABLE users;--", fullName: 'x', profile: 'auditor' }) }), 400],
      ['invalid UTF-8 in a text field', () => ({ body: Buffer.concat([Buffer.from('{"username":"utf","fullName":"ab'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('","profile":"auditor"}')]) }), 400],
      ['an overlong UTF-8 encoding', () => ({ body: Buffer.concat([Buffer.from('{"username":"utf2","fullName":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('","profile":"auditor"}')]) }), 400],
      ['a control character in a name', () => ({ body: JSON.stringify({ username: 'ctl', fullName: 'a\u0000b', profile: 'auditor' }) }), 400],
      ['an oversized body', () => ({ body: JSON.stringify({ username: 'big', fullName: 'x'.repeat(200_000), profile: 'auditor' }) }), 413],
      ['a form post instead of JSON', () => ({ body: 'username=form&fullName=x&profile=auditor', type: 'application/x-www-form-urlencoded' }), 415],
      ['plain text', () => ({ body: 'hello', type: 'text/plain' }), 415],
    ];
    for (const [what, make, status] of cases) {
      test(`${what} → ${status}, nothing stored, the daemon keeps running`, async () => {
        const before = await usersCount();
        const { body, type } = make();
        const r = await httpsRequest(d, raw(body, type));
        assert.equal(r.status, status, r.body);
        assert.ok(r.json && typeof r.json.error === 'string' && typeof r.json.message === 'string', `a JSON error body: ${r.body}`);
        assert.equal(await usersCount(), before);
        assert.equal((await httpsRequest(d, { path: '/healthz' })).status, 200);
      });
    }

    for (const p of ['/assets/..%2f..%2f..%2fetc%2fpasswd', '/assets/../../../etc/passwd', '/assets/%2e%2e/package.json', '/assets/app.js%00.txt', '/../../etc/passwd', '/api/v1/users/..%2f..%2fsettings']) {
      test(`path traversal ${p} finds nothing`, async () => {
        const r = await httpsRequest(d, { path: p, headers: { cookie: admin.cookie } });
        assert.ok([400, 404].includes(r.status), `${p}: ${r.status}`);
        assert.doesNotMatch(r.body, /root:|"name": "warden"/);
      });
    }

    test('an invalid user id is a 400, not a crash', async () => {
      for (const id of ['0', '-1', 'abc', '1e3', '99999999999', "1'or'1"]) {
        const r = await admin.call('GET', `/api/v1/users/${encodeURIComponent(id)}`);
        assert.equal(r.status, 400, id);
      }
      assert.equal((await admin.call('GET', '/api/v1/users/999999')).status, 404);
    });

    test('names in Cyrillic, CJK and Arabic survive the API round trip', async () => {
      for (const [username, fullName] of [['пётр', 'Пётр Чайковский'], ['李小龙', '李小龍 Bruce Lee'], ['محمد', 'محمد الخوارزمي']]) {
        const r = await admin.call('POST', '/api/v1/users', { username, fullName, profile: 'auditor', email: 'x@example.test' });
        assert.equal(r.status, 201, r.body);
        const back = await admin.call('GET', `/api/v1/users/${r.json.user.id}`);
        assert.equal(back.json.user.username, username);
        assert.equal(back.json.user.fullName, fullName);
      }
    });

    test('settings refuse unknown keys and out-of-range values', async () => {
      assert.equal((await admin.call('PUT', '/api/v1/settings', { lockout: { maxAttempts: 0 } })).status, 400);
      assert.equal((await admin.call('PUT', '/api/v1/settings', { surprise: true })).status, 400);
      assert.equal((await admin.call('GET', '/api/v1/settings')).json.settings.lockout.maxAttempts, 5);
    });
  });

  describe('lifecycle', () => {
    test('SIGHUP swaps the TLS certificate on the live server', async () => {
      const before = await tlsHandshake(d.httpsPort, {});
      const pair = await createSelfSignedTlsCertificate({ commonName: 'renewed.example', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], days: 30 });
      writeFileSync(path.join(home.home, 'tls', 'web.crt'), pair.certPem);
      writeFileSync(path.join(home.home, 'tls', 'web.key'), pair.keyPem);
      d.proc.kill('SIGHUP');
      const expected = new X509Certificate(pair.certPem).fingerprint256;
      let after = before;
      for (let i = 0; i < 50 && after.fingerprint !== expected; i++) {
        await new Promise((r) => setTimeout(r, 100));
        after = await tlsHandshake(d.httpsPort, {});
      }
      assert.notEqual(after.fingerprint, before.fingerprint);
      assert.equal(after.fingerprint, expected);
      d.ca = Buffer.from(pair.certPem);
      assert.equal((await httpsRequest(d, { path: '/healthz' })).status, 200);
    });

    test('SIGTERM drains and exits 0, leaving an intact audit trail', async () => {
      const code = await d.stop();
      assert.equal(code, 0, d.output());
      assert.match(d.output(), /"message":"stopped"/);
      // The daemon anchored its head at shutdown: the chain and the anchor outside the database agree.
      const a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
      const verdict = await a.audit.verify().finally(() => a.close());
      assert.equal(verdict.ok, true, JSON.stringify(verdict));
      assert.ok(verdict.rows > 30);
      assert.doesNotMatch(d.output(), new RegExp(adminPassword.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'no password in the daemon log');
    });
  });
});
