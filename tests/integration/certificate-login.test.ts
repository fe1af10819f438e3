// Certificate login with real clients against the real web daemon: Debian Chromium presenting A1
// certificates through playwright-core (bind, refuse another, revoke, re-bind), OpenSSL's s_client reading
// the CA names the server advertises (and the live swap when orbit inactivates a CA), and Duo through the
// browser with the real SDK against a Duo-protocol server on another site.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { initializedHome, strongPassword, type InitializedHome } from '../helpers/fixtures.js';
import { ApiClient, ORBIT_MAIN, startWebDaemon, type RunningDaemon } from '../helpers/web-daemon.js';
import { advertisedCaNames, createCa, issueLeaf, keyPem, type Issued } from '../helpers/pki.js';
import { startFakeDuo, type FakeDuo } from '../helpers/fake-duo.js';
import { Store } from '../../appliance/store/index.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../helpers/chromium.js';

function orbit(home: InitializedHome, ...args: string[]): string {
  return execFileSync(process.execPath, [ORBIT_MAIN, ...args], { env: { ...process.env, WARDEN_HOME: home.home, WARDEN_CONFIG: home.configFile, CI: 'true' }, encoding: 'utf8' });
}

describe('certificate login with real clients', () => {
  let home: InitializedHome;
  let d: RunningDaemon;
  let browser: Browser;
  let admin: ApiClient;
  let root: Issued;
  let inter: Issued;
  let duo: FakeDuo;
  const files = (name: string) => path.join(home.home, name);

  before(async () => {
    home = await initializedHome();
    root = await createCa('Browser Test Root');
    inter = await createCa('Browser Test Issuing', { parent: root });
    writeFileSync(files('chain.pem'), root.pem + inter.pem);
    assert.match(orbit(home, 'ca', 'install', files('chain.pem')), /installed CA 2: CN=Browser Test Issuing/);
    duo = await startFakeDuo('localhost');
    writeFileSync(files('duo-ca.pem'), duo.caPem);
    const config = JSON.parse(readFileSync(home.configFile, 'utf8'));
    config.auth = { ...(config.auth ?? {}), duoCaFile: 'duo-ca.pem', duoTestHosts: [duo.apiHost] };
    writeFileSync(home.configFile, JSON.stringify(config));
    d = await startWebDaemon(home);
    admin = new ApiClient(d);
    await admin.loginAndChange('admin', home.oneTimePassword, strongPassword());
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    await d?.stop();
    await duo?.close();
    home?.cleanup();
  });

  async function createUser(username: string, method: string): Promise<{ id: number; otp: string }> {
    const r = await admin.call('POST', '/api/v1/users', { username, fullName: username, email: `${username}@example.test`, profile: 'privileged-access-user' });
    assert.equal(r.status, 201, r.body);
    const m = await admin.call('POST', `/api/v1/users/${r.json.user.id}/mfa`, { method });
    assert.equal(m.status, 200, m.body);
    return { id: r.json.user.id, otp: r.json.oneTimePassword };
  }

  async function withCertificate(leaf: Issued): Promise<BrowserContext> {
    const certPath = files(`${leaf.serial}.crt`);
    const keyPath = files(`${leaf.serial}.key`);
    writeFileSync(certPath, leaf.pem);
    writeFileSync(keyPath, await keyPem(leaf.keys));
    return browser.newContext({ ignoreHTTPSErrors: true, clientCertificates: [{ origin: `https://127.0.0.1:${d.httpsPort}`, certPath, keyPath }] });
  }

  async function passwordStep(context: BrowserContext, username: string, password: string) {
    const page = await context.newPage();
    await page.goto(`https://127.0.0.1:${d.httpsPort}/`);
    await page.locator('#username').fill(username);
    await page.locator('#password').fill(password);
    await page.locator('#login-submit').click();
    return page;
  }

  test('the server advertises the active trusted CAs in its certificate request', async () => {
    const names = await advertisedCaNames(d.httpsPort);
    assert.ok(names.some((n) => n.includes('Browser Test Root')), names.join('\n'));
    assert.ok(names.some((n) => n.includes('Browser Test Issuing')), names.join('\n'));
  });

  test('first login binds the certificate; another certificate of the same user fails; revoke, then re-bind', async () => {
    const { id, otp } = await createUser('anna', 'certificate');
    const first = await issueLeaf(inter, { commonName: 'anna', email: 'anna@example.test' });
    const second = await issueLeaf(inter, { commonName: 'anna', email: 'anna@example.test' });
    const password = strongPassword();

    // First login: password, certificate (binds), forced password change, landing.
    let ctx = await withCertificate(first);
    let page = await passwordStep(ctx, 'anna', otp);
    await page.locator('#view-mfa-certificate').waitFor({ state: 'visible' });
    await page.locator('#certificate-submit').click();
    await page.locator('#view-change').waitFor({ state: 'visible' });
    await page.locator('#current-password').fill(otp);
    await page.locator('#new-password').fill(password);
    await page.locator('#confirm-password').fill(password);
    await page.locator('#change-submit').click();
    await page.locator('#view-home').waitFor({ state: 'visible' });
    await ctx.close();
    let bindings = (await admin.call('GET', '/api/v1/certificates?user=anna')).json.certificates;
    assert.equal(bindings.length, 1);
    assert.equal(bindings[0].status, 'bound');

    // Another certificate, same user, same CA: the generic message only.
    ctx = await withCertificate(second);
    page = await passwordStep(ctx, 'anna', password);
    await page.locator('#view-mfa-certificate').waitFor({ state: 'visible' });
    await page.locator('#certificate-submit').click();
    await page.locator('#certificate-error').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#certificate-error').textContent(), 'Invalid user credentials');
    await ctx.close();
    const usage = (await admin.call('GET', '/api/v1/certificates/usage?user=anna')).json.usage;
    assert.equal(usage[0].event, 'failure');
    assert.equal(usage[0].code, 'CERT_NOT_BOUND_CERT');

    // The administrator revokes the binding; the account stays active; the second certificate binds.
    const revoked = await admin.call('POST', `/api/v1/certificates/${bindings[0].id}/revoke`);
    assert.equal(revoked.status, 200, revoked.body);
    assert.equal((await admin.call('GET', `/api/v1/users/${id}`)).json.user.status, 'active');
    ctx = await withCertificate(second);
    page = await passwordStep(ctx, 'anna', password);
    await page.locator('#certificate-submit').click();
    await page.locator('#view-home').waitFor({ state: 'visible' });
    await ctx.close();
    bindings = (await admin.call('GET', '/api/v1/certificates?user=anna&status=bound')).json.certificates;
    assert.equal(bindings.length, 1);
    assert.equal(bindings[0].serial.toLowerCase().replace(/^0+/, ''), second.serial.replace(/^0+/, ''));

    const csv = await admin.call('GET', '/api/v1/certificates/usage?user=anna&format=csv');
    assert.equal(csv.status, 200);
    assert.match(String(csv.headers['content-type']), /text\/csv/);
    for (const e of ['bind', 'use', 'failure', 'revoke']) assert.match(csv.body, new RegExp(`,${e},anna,`));
  });

  test('without a certificate the certificate step fails with the generic message', async () => {
    const { otp } = await createUser('boris', 'certificate');
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await passwordStep(ctx, 'boris', otp);
    await page.locator('#certificate-submit').click();
    await page.locator('#certificate-error').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#certificate-error').textContent(), 'Invalid user credentials');
    await ctx.close();
    const store = await Store.open({ sqlitePath: path.join(home.home, 'warden.db') });
    try {
      const [row] = await store.repos.auditEvents.query({ type: 'auth.mfa', subject: 'boris', limit: 1 });
      assert.equal(row?.code, 'CERT_MISSING');
    } finally {
      await store.close();
    }
  });

  test('orbit ca disable stops the CA on the live server, without a restart, and its active intermediate is no longer advertised', async () => {
    const { otp } = await createUser('clara', 'certificate');
    const leaf = await issueLeaf(inter, { commonName: 'clara', email: 'clara@example.test' });
    orbit(home, 'ca', 'disable', '1');
    try {
      // The CertificateRequest drops the root within the daemon's two-second watch, and with it the
      // intermediate it issued (still active itself, but nothing it issued would be accepted).
      let names: string[] = [];
      for (let i = 0; i < 40; i++) {
        names = await advertisedCaNames(d.httpsPort);
        if (!names.some((n) => n.includes('Browser Test Root'))) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(!names.some((n) => n.includes('Browser Test Root')), names.join('\n'));
      assert.ok(!names.some((n) => n.includes('Browser Test Issuing')), `the intermediate of a disabled root is advertised:\n${names.join('\n')}`);
      assert.deepEqual(names, [], 'nothing else is advertised either');
      const ctx = await withCertificate(leaf);
      const page = await passwordStep(ctx, 'clara', otp);
      await page.locator('#certificate-submit').click();
      await page.locator('#certificate-error').waitFor({ state: 'visible' });
      await ctx.close();
      const usage = (await admin.call('GET', '/api/v1/certificates/usage?user=clara')).json.usage;
      assert.equal(usage[0].code, 'CERT_CA_INACTIVE');
    } finally {
      orbit(home, 'ca', 'enable', '1');
    }
    // Enabled again: both are advertised again.
    let names: string[] = [];
    for (let i = 0; i < 40; i++) {
      names = await advertisedCaNames(d.httpsPort);
      if (names.some((n) => n.includes('Browser Test Root')) && names.some((n) => n.includes('Browser Test Issuing'))) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(names.some((n) => n.includes('Browser Test Root')) && names.some((n) => n.includes('Browser Test Issuing')), names.join('\n'));
  });

  test('Duo through the browser: the callback completes the login (cookie switched to SameSite=Lax)', async () => {
    const saved = await admin.call('POST', '/api/v1/mfa/providers', { name: 'Duo', enabled: true, apiHost: duo.apiHost, clientId: duo.clientId, clientSecret: duo.clientSecret });
    assert.equal(saved.status, 201, saved.body);
    assert.equal(saved.json.sessionCookieSameSite, 'Lax');
    assert.equal(saved.json.sameSiteChanged, true);
    const { otp } = await createUser('dmitri', 'duo');
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await passwordStep(ctx, 'dmitri', otp);
    await page.locator('#view-mfa-duo').waitFor({ state: 'visible' });
    const cookie = (await ctx.cookies()).find((c) => c.name === '__Host-warden-session');
    assert.equal(cookie?.sameSite, 'Lax');
    await page.locator('#duo-submit').click();
    await page.locator('#view-change').waitFor({ state: 'visible' });
    assert.equal(new URL(page.url()).host, `127.0.0.1:${d.httpsPort}`);
    assert.ok(duo.requests.includes('GET /oauth/v1/authorize') && duo.requests.includes('POST /oauth/v1/token'));
    await ctx.close();

    duo.decisions.set('dmitri', 'deny');
    const denied = await browser.newContext({ ignoreHTTPSErrors: true });
    const p2 = await passwordStep(denied, 'dmitri', otp);
    await p2.locator('#duo-submit').click();
    await p2.locator('#login-error').waitFor({ state: 'visible' });
    assert.equal(await p2.locator('#login-error').textContent(), 'Invalid user credentials');
    await denied.close();
  });
});
