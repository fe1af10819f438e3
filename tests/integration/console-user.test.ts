// One user's page in the console, in Debian's Chromium against the real web daemon: from the users list to the
// page; the second factor set (the server holds it, TOTP can be reset); a certificate bound to the account
// revoked (the account stays active); an SSH key the user registered removed; an auditor reads the page with no
// way to change it; in German no English is left; axe-core finds no serious violation.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createCa, insertBinding, issueLeaf } from '../helpers/pki.js';
import { tempDir } from '../helpers/fixtures.js';
import { englishLeftovers, seriousViolations, startConsoleLab, type ConsoleLab } from '../helpers/console-browser.js';
import { signInAccounts, type ApiClient } from '../helpers/web-daemon.js';

describe('console: one user', () => {
  let lab: ConsoleLab;
  const clients: Record<string, ApiClient> = {};
  const ids: Record<string, number> = {};
  const passwords: Record<string, string> = {};
  let fingerprint = '';

  before(async () => {
    lab = await startConsoleLab();
    // One active session per account: the browser signs in as admin and reader; API reads go through checker.
    await signInAccounts(lab.admin, lab.d, [['anna', 'privileged-access-user'], ['reader', 'auditor'], ['checker', 'auditor']] as const, clients, ids, passwords);
    // anna registers an SSH key of her own.
    const dir = tempDir();
    try {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'anna@laptop', '-f', path.join(dir.dir, 'id')]);
      const r = await clients.anna!.call('POST', '/api/v1/me/ssh-keys', { key: readFileSync(path.join(dir.dir, 'id.pub'), 'utf8') });
      assert.equal(r.status, 201, r.body);
      fingerprint = r.json.key.fingerprint;
    } finally {
      dir.cleanup();
    }
    // A certificate bound to anna, written as a certificate login writes it (the login is certificate-login.test's).
    const ca = await createCa('User Page CA');
    const leaf = await issueLeaf(ca, { commonName: 'anna', email: 'anna@example.test' });
    await insertBinding(path.join(lab.home.home, 'warden.db'), { userId: ids.anna!, leaf, issuer: ca, fingerprint: 'user-page-fp', subject: 'CN=anna, O=Warden Test', email: 'anna@example.test' });
  });
  after(async () => lab?.stop());

  const anna = async () => (await clients.checker!.call('GET', `/api/v1/users/${ids.anna}`)).json.user;

  test('an administrator opens a user from the list, sets the second factor, resets TOTP, revokes the certificate, removes the SSH key', async () => {
    const page = await lab.signedIn('admin', lab.adminPassword, { path: '/console/users' });
    await page.locator('#users a', { hasText: 'anna' }).click();
    await page.waitForURL(`${lab.origin}/console/users/${ids.anna}`);
    assert.equal(await page.locator('#page h1').textContent(), 'anna');
    assert.equal(await page.locator('#mfa-none').isChecked(), true);

    await page.locator('#mfa-totp').check();
    await page.locator('#mfa-save').click();
    await page.locator('.toast', { hasText: 'Second factor of anna saved.' }).waitFor();
    assert.equal((await anna()).mfaMethod, 'totp');
    await page.locator('#totp-reset').click();
    await page.locator('.toast', { hasText: 'anna enrols a new authenticator at the next login.' }).waitFor();
    const resets = (await clients.checker!.call('GET', '/api/v1/audit?subject=anna&limit=20')).json.events as { type: string; actor: string }[];
    assert.ok(resets.some((e) => e.type === 'user.totp_reset' && e.actor === 'admin'), JSON.stringify(resets.map((e) => e.type)));

    await page.locator('#user-certificates #binding-list tr[data-status="bound"]').getByRole('button', { name: 'Revoke' }).click();
    assert.match((await page.locator('#user-certificates #revoke-text').textContent()) ?? '', /The account stays active/);
    await page.locator('#user-certificates #revoke-yes').click();
    await page.locator('#user-certificates #binding-list tr[data-status="revoked"]').waitFor();
    assert.equal((await anna()).status, 'active', 'revoking a certificate never disables the account');

    await page.locator(`#ssh-keys tr[data-fingerprint="${fingerprint}"]`).getByRole('button', { name: 'Remove' }).click();
    await page.locator('#user-ssh-keys .empty').waitFor();
    assert.deepEqual((await clients.checker!.call('GET', `/api/v1/users/${ids.anna}/ssh-keys`)).json.keys, []);
    assert.deepEqual(await seriousViolations(page), []);
    await page.context().close();
  });

  test('an auditor reads a user page with no way to change it; an unknown id says so', async () => {
    const page = await lab.signedIn('reader', passwords.reader!, { path: `/console/users/${ids.anna}` });
    await page.locator('#second-factor').waitFor();
    assert.equal(await page.locator('#mfa-totp').isDisabled(), true);
    assert.equal(await page.locator('#mfa-save').count(), 0);
    await page.locator('#user-certificates #binding-list').waitFor();
    assert.equal(await page.locator('#user-certificates #binding-list button').count(), 0, 'an auditor reads certificates but may not revoke');
    assert.equal(await page.locator('#user-ssh-keys button').count(), 0);
    assert.equal((await clients.checker!.call('POST', `/api/v1/users/${ids.anna}/mfa`, { method: 'none' })).status, 403);
    await page.goto(`${lab.origin}/console/users/999999`);
    await page.locator('#page h1', { hasText: 'There is no such user.' }).waitFor();
    await page.context().close();
  });

  test('in German the page has no English left', async () => {
    const page = await lab.signedIn('admin', lab.adminPassword, { locale: 'de-DE', path: `/console/users/${ids.anna}` });
    await page.locator('#user-certificates #binding-list').waitFor();
    await page.locator('#user-ssh-keys .empty').waitFor();
    assert.deepEqual(englishLeftovers([await page.locator('body').innerText()], 'de', ['console.user.', 'console.users.', 'console.certificates.']), []);
    await page.context().close();
  });
});
