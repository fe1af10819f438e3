// The console's Settings page in Debian's Chromium against the real web daemon: each group saves on its own and
// the server holds what the page showed; a value the server refuses shows the server's reason and changes
// nothing; a Duo provider is checked against a Duo server (the protocol fake) before it is saved, and its secret
// never comes back; an auditor reads the page without a way to change it (and the API refuses); a privileged
// user does not see it; in Russian no English is left; axe-core finds no serious violation.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { startFakeDuo, type FakeDuo } from '../helpers/fake-duo.js';
import { englishLeftovers, seriousViolations, startConsoleLab, waitUntil, type ConsoleLab } from '../helpers/console-browser.js';
import { signInAccounts, type ApiClient } from '../helpers/web-daemon.js';

describe('console: settings', () => {
  let lab: ConsoleLab;
  let duo: FakeDuo;
  const clients: Record<string, ApiClient> = {};
  const ids: Record<string, number> = {};
  const passwords: Record<string, string> = {};

  before(async () => {
    duo = await startFakeDuo('127.0.0.1');
    lab = await startConsoleLab({
      beforeStart: (home) => {
        writeFileSync(path.join(home.home, 'duo-ca.pem'), duo.caPem);
        const config = JSON.parse(readFileSync(home.configFile, 'utf8'));
        config.auth = { ...(config.auth ?? {}), duoCaFile: 'duo-ca.pem', duoTestHosts: [duo.apiHost] };
        writeFileSync(home.configFile, JSON.stringify(config));
      },
    });
    // One active session per account: the browser signs in as admin, so the API reads go through another auditor.
    await signInAccounts(lab.admin, lab.d, [['reader', 'auditor'], ['checker', 'auditor'], ['ops', 'privileged-access-user']] as const, clients, ids, passwords);
  });
  after(async () => {
    await lab?.stop();
    await duo?.close();
  });

  const settings = async () => (await clients.checker!.call('GET', '/api/v1/settings')).json.settings;

  /** Save one group's form; with `toast`, wait for a new notice with that text (earlier ones may still show). */
  async function save(page: Page, group: string, toast?: string): Promise<void> {
    // The notices on screen now are marked; the save's own is a new one (at most four show at once).
    await page.evaluate(`document.querySelectorAll('.toast').forEach((t) => (t.dataset.seen = '1'))`);
    await page.locator(`#save-${group}`).click();
    if (toast) await page.locator('.toast:not([data-seen])', { hasText: toast }).waitFor();
  }

  test('an administrator changes each group on its own; the server keeps exactly what the page showed', async () => {
    const page = await lab.signedIn('admin', lab.adminPassword);
    await page.locator('#nav a', { hasText: 'Settings' }).click();
    await page.waitForURL(`${lab.origin}/console/settings`);
    await page.locator('#passwordPolicy-minLength').waitFor();
    assert.equal(await page.locator('#passwordPolicy-minLength').inputValue(), '12', 'the page shows the server\'s value');

    await page.locator('#passwordPolicy-minLength').fill('14');
    await page.locator('#passwordPolicy-historyCount').fill('8');
    await save(page, 'passwordPolicy', 'Settings saved.');
    assert.deepEqual((await settings()).passwordPolicy, { minLength: 14, minClasses: 3, historyCount: 8, forbidUsername: true });

    // Another group's unsaved edit is not sent with this one.
    await page.locator('#lockout-maxAttempts').fill('9');
    await page.locator('#sessions-idleTimeoutMinutes').fill('20');
    await save(page, 'sessions', 'Settings saved.');
    const after = await settings();
    assert.equal(after.sessions.idleTimeoutMinutes, 20);
    assert.equal(after.lockout.maxAttempts, 5, 'the lockout form was not saved');

    await page.locator('#mfa-forceCertificateForProxy').check();
    await save(page, 'mfa', 'Settings saved.');
    assert.equal((await settings()).mfa.forceCertificateForProxy, true);
    assert.equal(await page.locator('#mfa-forceCertificateForProxy').isChecked(), true, 'redrawn from the answer');

    await page.locator('#ip-denylist').fill('127.0.0.200/32\n\n  127.0.1.0/24  \n');
    await save(page, 'ipDenylist', 'Settings saved.');
    assert.deepEqual((await settings()).ipDenylist, ['127.0.0.200/32', '127.0.1.0/24']);

    await page.locator('#default-language').selectOption('de');
    await page.locator('#time-zone').fill('Europe/Berlin');
    await save(page, 'regional', 'Settings saved.');
    const regional = await settings();
    assert.deepEqual([regional.defaultLanguage, regional.timeZone], ['de', 'Europe/Berlin']);

    await page.locator('#connectivity-interval').fill('30');
    await save(page, 'connectivity', 'Settings saved.');
    assert.equal((await settings()).connectivityIntervalMinutes, 30);

    // The audit trail has each change, by the administrator.
    const events = (await clients.checker!.call('GET', '/api/v1/audit?type=settings.change&limit=20')).json.events as { actor: string; subject: string }[];
    assert.deepEqual(events.map((e) => e.subject).sort(), ['connectivityIntervalMinutes', 'defaultLanguage,timeZone', 'ipDenylist', 'mfa', 'passwordPolicy', 'sessions']);
    assert.ok(events.every((e) => e.actor === 'admin'));
    await page.context().close();
  });

  test("a value the server refuses shows the server's reason and changes nothing", async () => {
    const page = await lab.signedIn('admin', lab.adminPassword, { path: '/console/settings' });
    await page.locator('#time-zone').waitFor();
    const before = await settings();
    await page.locator('#time-zone').fill('Mars/Olympus_Mons');
    await save(page, 'regional');
    await page.locator('#settings-regional [role="alert"]').waitFor();
    assert.equal(await page.locator('#settings-regional [role="alert"]').textContent(), '“Time zone of access windows”: this value is not accepted. Nothing was saved.');
    assert.equal(await page.locator('#time-zone').getAttribute('aria-invalid'), 'true');
    await page.locator('#ip-denylist').fill('not an address');
    await save(page, 'ipDenylist');
    const alert = page.locator('#settings-ipDenylist [role="alert"]');
    await alert.waitFor();
    const notCidr = (await alert.textContent()) ?? '';
    // The denylist may not shut out the administrator making the change: another reason, also shown.
    await page.locator('#ip-denylist').fill('127.0.0.0/8');
    await save(page, 'ipDenylist');
    await waitUntil(page, `(document.querySelector('#settings-ipDenylist [role="alert"]')?.textContent ?? ${JSON.stringify(notCidr)}) !== ${JSON.stringify(notCidr)}`);
    assert.match(notCidr, /^“Addresses and networks refused at login/);
    assert.equal(await alert.textContent(), 'The entry 127.0.0.0/8 covers your own address 127.0.0.1: saving it would lock you out. Nothing was saved.');
    assert.deepEqual(await settings(), before);
    await page.context().close();
  });

  test('a Duo provider is checked with Duo before it is saved; its secret never comes back to the page', async () => {
    const page = await lab.signedIn('admin', lab.adminPassword, { path: '/console/settings' });
    await page.locator('#duo-add').click();
    await page.locator('#duo-name').fill('Corporate Duo');
    await page.locator('#duo-api-host').fill('api-00000000.example.test');
    await page.locator('#duo-client-id').fill(duo.clientId);
    await page.locator('#duo-client-secret').fill(duo.clientSecret);
    await page.locator('#duo-save').click();
    await page.locator('#duo-provider-error').waitFor();
    assert.equal(await page.locator('#duo-provider-error').textContent(), '“API host name”: this value is not accepted. Nothing was saved.');
    assert.deepEqual((await clients.checker!.call('GET', '/api/v1/mfa/providers')).json.providers, []);

    await page.locator('#duo-api-host').fill(duo.apiHost);
    await page.locator('#duo-save').click();
    await page.locator('.toast', { hasText: 'Duo provider Corporate Duo saved.' }).waitFor();
    await page.locator('#duo-list tr[data-name="Corporate Duo"]').waitFor();
    assert.equal(await page.locator('#duo-list tr[data-name="Corporate Duo"] td').nth(2).textContent(), 'In use');
    assert.equal((await page.content()).includes(duo.clientSecret), false, 'the secret is not in the page');

    // Edit without a new secret keeps the stored one (Duo's check passes with it), and turns it off.
    await page.locator('#duo-list tr[data-name="Corporate Duo"]').getByRole('button', { name: 'Edit' }).click();
    assert.equal(await page.locator('#duo-client-secret').inputValue(), '');
    await page.locator('#duo-enabled').uncheck();
    await page.locator('#duo-save').click();
    await page.locator('#duo-list tr[data-name="Corporate Duo"] td', { hasText: 'Not in use' }).waitFor();
    const [stored] = (await clients.checker!.call('GET', '/api/v1/mfa/providers')).json.providers;
    assert.deepEqual([stored.name, stored.enabled, stored.clientSecretSet], ['Corporate Duo', false, true]);
    assert.deepEqual(await seriousViolations(page), []);
    await page.context().close();
  });

  test('an auditor reads the settings without a way to change them, and the API refuses; a privileged user does not see the page', async () => {
    const page = await lab.signedIn('reader', passwords.reader!, { path: '/console/settings' });
    await page.locator('#settings-read-only').waitFor();
    await page.locator('#passwordPolicy-minLength').waitFor();
    assert.equal(await page.locator('#passwordPolicy-minLength').isDisabled(), true);
    assert.equal(await page.locator('button[id^="save-"]').count(), 0);
    assert.equal(await page.locator('#duo-add').count(), 0);
    // (The browser's sign-in ended reader's API session: one session per account; checker is an auditor too.)
    assert.equal((await clients.checker!.call('PUT', '/api/v1/settings', { lockout: { maxAttempts: 3 } })).status, 403);
    await page.context().close();

    assert.equal((await clients.ops!.call('GET', '/api/v1/settings')).status, 403);
    const ops = await lab.signedIn('ops', passwords.ops!);
    assert.equal(await ops.locator('#nav a', { hasText: 'Settings' }).count(), 0);
    await ops.goto(`${lab.origin}/console/settings`);
    await ops.locator('#page h1').waitFor();
    assert.equal(await ops.locator('#passwordPolicy-minLength').count(), 0, 'a deep link shows no settings');
    await ops.context().close();
  });

  test('in Russian the page has no English left; axe-core finds no serious violation', async () => {
    const page = await lab.signedIn('admin', lab.adminPassword, { locale: 'ru-RU', path: '/console/settings' });
    await page.locator('#passwordPolicy-minLength').waitFor();
    await page.locator('#duo-providers h2').waitFor();
    const texts = [await page.locator('body').innerText()];
    await page.locator('#passwordPolicy-minLength').fill('15');
    await save(page, 'passwordPolicy', 'Настройки сохранены.');
    texts.push(await page.locator('body').innerText());
    assert.deepEqual(englishLeftovers(texts, 'ru', ['console.settings.', 'console.nav.']), []);
    assert.deepEqual(await seriousViolations(page), []);
    await page.context().close();
  });
});
