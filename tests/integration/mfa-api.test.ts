// The second factor over the HTTP API of the real daemon: TOTP enrolment and codes, the MFA stage gate,
// "force certificate for all users", and the administration of CAs and the usage log.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { initializedHome, strongPassword, type InitializedHome } from '../helpers/fixtures.js';
import { ApiClient, ORBIT_MAIN, startWebDaemon, type RunningDaemon } from '../helpers/web-daemon.js';
import { TotpService } from '../../appliance/auth/index.js';
import { createCa } from '../helpers/pki.js';

describe('second factor over the API', () => {
  let home: InitializedHome;
  let d: RunningDaemon;
  let admin: ApiClient;

  before(async () => {
    home = await initializedHome();
    const root = await createCa('API Root');
    writeFileSync(path.join(home.home, 'root.pem'), root.pem);
    execFileSync(process.execPath, [ORBIT_MAIN, 'ca', 'install', path.join(home.home, 'root.pem')], { env: { ...process.env, WARDEN_HOME: home.home, WARDEN_CONFIG: home.configFile, CI: 'true' } });
    d = await startWebDaemon(home);
    admin = new ApiClient(d);
    await admin.loginAndChange('admin', home.oneTimePassword, strongPassword());
  });
  after(async () => {
    await d?.stop();
    home?.cleanup();
  });

  async function user(username: string, profile = 'auditor', method = 'none') {
    const r = await admin.call('POST', '/api/v1/users', { username, fullName: username, email: `${username}@example.test`, profile });
    assert.equal(r.status, 201, r.body);
    if (method !== 'none') assert.equal((await admin.call('POST', `/api/v1/users/${r.json.user.id}/mfa`, { method })).status, 200);
    return { id: r.json.user.id as number, otp: r.json.oneTimePassword as string };
  }

  test('TOTP: enrol, the MFA gate, a wrong code, the right code, no replay', async () => {
    const u = await user('tina', 'auditor', 'totp');
    const c = new ApiClient(d);
    const login = await c.login('tina', u.otp);
    assert.equal(login.json.mfaRequired, 'totp');
    const gated = await c.call('GET', '/api/v1/users');
    assert.equal(gated.status, 403);
    assert.equal(gated.json.error, 'MFA_REQUIRED');
    const early = await c.call('POST', '/api/v1/me/password', { currentPassword: u.otp, newPassword: strongPassword() });
    assert.equal(early.status, 403, 'no password change before the second factor');

    const enrol = await c.call('GET', '/api/v1/auth/mfa/totp/enrolment');
    assert.equal(enrol.json.enrolled, false);
    assert.match(enrol.json.otpauthUri, /^otpauth:\/\/totp\//);
    const wrong = await c.call('POST', '/api/v1/auth/mfa/totp', { code: '000000' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.message, 'Invalid user credentials');
    const code = await TotpService.codeFor(enrol.json.secret, Date.now());
    assert.equal((await c.call('POST', '/api/v1/auth/mfa/totp', { code })).status, 200);
    assert.equal((await c.call('GET', '/api/v1/me')).json.mfaRequired, null);
    assert.equal((await c.call('GET', '/api/v1/users')).json.error, 'AUTH_PASSWORD_CHANGE_REQUIRED');

    // A second login: enrolment is done (no new secret), and the used code is refused.
    const again = new ApiClient(d);
    await again.login('tina', u.otp);
    assert.deepEqual((await again.call('GET', '/api/v1/auth/mfa/totp/enrolment')).json, { enrolled: true });
    assert.equal((await again.call('POST', '/api/v1/auth/mfa/totp', { code })).status, 401);
  });

  test('the MFA endpoints refuse a session whose factor is another', async () => {
    const u = await user('pavel', 'auditor', 'certificate');
    const c = new ApiClient(d);
    await c.login('pavel', u.otp);
    assert.equal((await c.call('POST', '/api/v1/auth/mfa/totp', { code: '123456' })).status, 401);
    assert.equal((await c.call('POST', '/api/v1/auth/mfa/duo/start')).status, 401);
  });

  test('"force the use of digital certificate for all users" applies to every account', async () => {
    const u = await user('olga');
    assert.equal((await admin.call('PUT', '/api/v1/settings', { mfa: { forceCertificateForAll: true } })).status, 200);
    try {
      await new Promise((r) => setTimeout(r, 1100)); // settings cache
      const c = new ApiClient(d);
      assert.equal((await c.login('olga', u.otp)).json.mfaRequired, 'certificate');
    } finally {
      await admin.call('PUT', '/api/v1/settings', { mfa: { forceCertificateForAll: false } });
    }
  });

  test('CAs: administrators list, show, inactivate and activate; auditors only read', async () => {
    const list = await admin.call('GET', '/api/v1/pki/cas');
    assert.equal(list.json.cas.length, 1);
    const id = list.json.cas[0].id;
    const one = await admin.call('GET', `/api/v1/pki/cas/${id}`);
    assert.match(one.json.ca.pem, /BEGIN CERTIFICATE/);
    assert.equal((await admin.call('POST', `/api/v1/pki/cas/${id}/disable`)).json.ca.active, false);
    assert.equal((await admin.call('POST', `/api/v1/pki/cas/${id}/enable`)).json.ca.active, true);
    const a = await user('audrey');
    const auditor = new ApiClient(d);
    await auditor.loginAndChange('audrey', a.otp, strongPassword());
    assert.equal((await auditor.call('GET', '/api/v1/pki/cas')).status, 200);
    assert.equal((await auditor.call('GET', '/api/v1/certificates/usage')).status, 200);
    assert.equal((await auditor.call('POST', `/api/v1/pki/cas/${id}/disable`)).status, 403);
  });

  test('the usage log refuses a bad date and filters by period', async () => {
    assert.equal((await admin.call('GET', '/api/v1/certificates/usage?since=yesterday')).status, 400);
    const future = new Date(Date.now() + 86_400_000).toISOString();
    assert.deepEqual((await admin.call('GET', `/api/v1/certificates/usage?since=${future}`)).json.usage, []);
    assert.equal((await admin.call('GET', '/api/v1/certificates/usage?user=nobody')).status, 404);
  });
});
