// The web console in Debian's Chromium (playwright-core) against the real web daemon: the first administrator
// signs in and lands in the console, creates users (the one-time password shown once, copied), filters the
// server-paged list, disables/enables, resets a password; the audit page shows those events, the chain's
// verdict and a CSV download. The same walk in German leaves no English console text on the way. Navigation
// follows the profile (an auditor reads, a privileged-access user sees neither page, and the API refuses it
// anyway); the keyboard alone reaches the navigation and the create form; axe-core finds no serious violation.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { initializedHome, strongPassword, type InitializedHome } from '../helpers/fixtures.js';
import { ApiClient, startWebDaemon, type RunningDaemon } from '../helpers/web-daemon.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../helpers/chromium.js';
import { englishLeftovers, seriousViolations, waitUntil } from '../helpers/console-browser.js';
import { CATALOGUE } from '../../appliance/i18n/catalogue.js';
import { permissionsOf } from '../../appliance/access/index.js';
import { NAV, allowed } from '../../daemons/web/console/nav.js';

/**
 * The navigation a profile must see, in `lang`: every page whose permission the profile has (the profile table
 * is the server's), in the console's order, and none other. Includes a page only the profile's permissions open.
 */
function navFor(profile: string, lang: string): string[] {
  const words = CATALOGUE[lang]! as Record<string, string>;
  return NAV.filter((n) => allowed(n, permissionsOf(profile))).map((n) => words[n.label]!);
}

describe('web console in Chromium', () => {
  let home: InitializedHome;
  let d: RunningDaemon;
  let browser: Browser;
  let adminPassword = '';

  before(async () => {
    home = await initializedHome({ adminUsername: 'admin' });
    d = await startWebDaemon(home);
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    await d?.stop();
    home?.cleanup();
  });

  const origin = () => `https://127.0.0.1:${d.httpsPort}`;

  async function newContext(locale: string): Promise<BrowserContext> {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, locale, acceptDownloads: true });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: origin() });
    return context;
  }

  async function signIn(page: Page, username: string, password: string, path = '/'): Promise<void> {
    await page.goto(`${origin()}${path}`);
    await page.locator('#username').fill(username);
    await page.locator('#password').fill(password);
    await page.locator('#login-submit').click();
  }

  /** Wait until the users table shows exactly these user names (the list is re-read after each action). */
  async function listed(page: Page, names: string[]): Promise<void> {
    await waitUntil(page, `JSON.stringify([...document.querySelectorAll('#users tbody tr')].map((r) => r.getAttribute('data-username'))) === ${JSON.stringify(JSON.stringify(names))}`);
  }

  async function createUser(page: Page, u: { username: string; fullName: string; email: string; profile: string }): Promise<string> {
    await page.locator('#new-user').click();
    await page.locator('#new-username').fill(u.username);
    await page.locator('#new-fullname').fill(u.fullName);
    await page.locator('#new-email').fill(u.email);
    await page.locator('#new-profile').selectOption(u.profile);
    await page.locator('#create-submit').click();
    await page.locator('#one-time-password').waitFor({ state: 'visible' });
    const otp = (await page.locator('#one-time-password').textContent()) ?? '';
    assert.ok(otp.length >= 12, 'a one-time password is shown');
    return otp;
  }

  /** The password shown works, and only as a one-time password (it must be changed). */
  async function assertOneTime(username: string, otp: string): Promise<void> {
    const r = await new ApiClient(d).login(username, otp);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.passwordChangeRequired, true);
  }

  async function rowAction(page: Page, username: string, button: string): Promise<void> {
    await page.locator(`#users tr[data-username="${username}"]`).getByRole('button', { name: button, exact: true }).click();
  }

  test('an administrator: first sign-in lands in the console; users created, filtered, disabled, enabled, reset; the audit page shows it all', async () => {
    const context = await newContext('en-US');
    const page = await context.newPage();
    await signIn(page, 'admin', home.oneTimePassword);
    await page.locator('#view-change').waitFor({ state: 'visible' });
    adminPassword = strongPassword();
    await page.locator('#current-password').fill(home.oneTimePassword);
    await page.locator('#new-password').fill(adminPassword);
    await page.locator('#confirm-password').fill(adminPassword);
    await page.locator('#change-submit').click();

    await page.locator('#welcome').waitFor({ state: 'visible' });
    assert.equal(new URL(page.url()).pathname, '/console');
    assert.deepEqual(await page.locator('#nav a').allTextContents(), navFor('administrator', 'en-US'));
    assert.ok(['Home', 'Users', 'Audit trail', 'Settings'].every((x) => navFor('administrator', 'en-US').includes(x)));
    assert.match((await page.locator('#signed-in-as').textContent()) ?? '', /Signed in as Administrator/);
    assert.equal(await page.locator('body > main').isVisible(), false, 'the login views take no room above the console');
    assert.equal(await page.locator('header.bar').isVisible(), false);

    // The bundle is hashed and cached for a year; the shell is not cached at all.
    const script = await page.locator('script[src^="/assets/console-"]').getAttribute('src');
    const asset = await page.request.get(`${origin()}${script}`);
    assert.equal(asset.headers()['cache-control'], 'public, max-age=31536000, immutable');
    const shell = await page.request.get(`${origin()}/console/users`);
    assert.equal(shell.status(), 200);
    assert.equal(shell.headers()['cache-control'], 'no-store');
    // Only the bundle's own script (and WebAssembly compilation, for the session player): no eval, no inline.
    const csp = shell.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval';/);
    // Inline style only with this answer's nonce (the terminal's emulator; pages/terminal.tsx), a new one each time.
    const nonce = /style-src 'self' 'nonce-([A-Za-z0-9+/=]{24})';/.exec(csp)?.[1];
    assert.ok(nonce, csp);
    const again = await page.request.get(`${origin()}/console/users`);
    assert.ok(!(again.headers()['content-security-policy'] ?? '').includes(nonce), 'a fresh nonce per answer');

    await page.locator('#nav a', { hasText: 'Users' }).click();
    await page.waitForURL(`${origin()}/console/users`);
    await listed(page, ['admin']);
    assert.equal(await page.locator('#range').textContent(), '1–1 of 1');
    assert.deepEqual(await page.locator('#users tr[data-username="admin"] button').allTextContents(), ['Reset password'], 'no Disable on your own account');

    const mariaOtp = await createUser(page, { username: 'maria', fullName: 'Maria Silva', email: 'maria@example.test', profile: 'auditor' });
    await page.locator('#copy-password').click();
    await page.locator('#copy-password', { hasText: 'Copied' }).waitFor();
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), mariaOtp, 'the copy button copies the password');
    await page.locator('#one-time-done').click();
    assert.equal(await page.locator('#one-time-password').count(), 0, 'once closed, the password is gone from the page');
    await assertOneTime('maria', mariaOtp);
    await listed(page, ['admin', 'maria']);

    const pedroOtp = await createUser(page, { username: 'pedro', fullName: 'Pedro Alves', email: 'pedro@example.test', profile: 'privileged-access-user' });
    await page.locator('#one-time-done').click();
    await listed(page, ['admin', 'maria', 'pedro']);
    assert.equal(await page.locator('#range').textContent(), '1–3 of 3');

    // The filter goes to the server and into the address; back returns to the whole list.
    await page.locator('#user-q').fill('SILVA');
    await page.locator('#user-filter-submit').click();
    await listed(page, ['maria']);
    assert.equal(new URL(page.url()).search, '?q=SILVA');
    await page.goBack();
    await listed(page, ['admin', 'maria', 'pedro']);

    await rowAction(page, 'maria', 'Disable');
    await page.locator('#users tr[data-username="maria"] td.status', { hasText: 'Disabled' }).waitFor();
    await page.locator('.toast', { hasText: 'User maria disabled.' }).waitFor();
    await page.locator('#user-status').selectOption('disabled');
    await page.locator('#user-filter-submit').click();
    await listed(page, ['maria']);
    await rowAction(page, 'maria', 'Enable');
    await page.locator('.toast', { hasText: 'User maria enabled.' }).waitFor();
    await listed(page, []);
    await page.locator('#user-status').selectOption('');
    await page.locator('#user-filter-submit').click();
    await listed(page, ['admin', 'maria', 'pedro']);

    await rowAction(page, 'pedro', 'Reset password');
    await page.locator('#one-time-password').waitFor({ state: 'visible' });
    const pedroNew = (await page.locator('#one-time-password').textContent()) ?? '';
    assert.notEqual(pedroNew, pedroOtp);
    await assertOneTime('pedro', pedroNew);
    assert.equal((await new ApiClient(d).login('pedro', pedroOtp)).status, 401, 'the old one-time password is dead');
    await page.locator('#one-time-done').click();

    // The audit page: the events just made, a filter, the verdict, the CSV.
    await page.locator('#nav a', { hasText: 'Audit trail' }).click();
    await page.waitForURL(`${origin()}/console/audit`);
    for (const type of ['user.create', 'user.disable', 'user.enable', 'user.reset_password']) {
      await page.locator(`#audit-events tr[data-type="${type}"]`).first().waitFor();
    }
    await page.locator('#audit-type').selectOption('user.disable');
    await page.locator('#audit-actor').fill('admin');
    await page.locator('#audit-filter-submit').click();
    await waitUntil(page, `(() => {
      const rows = [...document.querySelectorAll('#audit-events tbody tr')];
      return rows.length === 1 && rows[0].getAttribute('data-type') === 'user.disable';
    })()`);
    assert.match((await page.locator('#audit-events tbody tr').textContent()) ?? '', /maria/);
    await page.locator('#audit-type').selectOption('user.create');
    await page.locator('#audit-actor').fill('');
    await page.locator('#audit-filter-submit').click();
    await page.locator('#audit-events tr[data-type="user.create"] td.detail', { hasText: '{"profile":"auditor"}' }).waitFor();
    await page.locator('#audit-type').selectOption('user.disable');
    await page.locator('#audit-actor').fill('admin');
    await page.locator('#audit-filter-submit').click();
    await waitUntil(page, `document.querySelectorAll('#audit-events tbody tr').length === 1`);

    await page.locator('#verify-chain').click();
    await page.locator('#chain-verdict', { hasText: 'Chain intact' }).waitFor();
    assert.match((await page.locator('#chain-verdict').textContent()) ?? '', /^Chain intact: \d+ events verified\.$/);

    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#audit-csv').click()]);
    assert.match(download.suggestedFilename(), /^warden-audit-.*\.csv$/);
    const csv = readFileSync((await download.path())!, 'utf8').trim().split('\r\n');
    assert.equal(csv[0]!.split(',')[2], 'type');
    assert.equal(csv.length, 2, 'header and the one filtered row');
    assert.equal(csv[1]!.split(',')[2], 'user.disable');
    assert.equal(csv[1]!.split(',')[8], 'maria');

    // A time range in the future holds nothing; the range travels in the address like the other filters.
    await page.locator('#audit-since').fill('2099-01-01T00:00:00');
    await page.locator('#audit-filter-submit').click();
    await page.locator('#page .empty').waitFor();
    assert.match(new URL(page.url()).searchParams.get('since') ?? '', /^2099-01-01T00:00/);
    assert.equal(await page.locator('#audit-events').count(), 0);

    // Sign out from the console: back to the login, and the console's address no longer opens it.
    await page.locator('#logout').click();
    await page.locator('#view-login').waitFor({ state: 'visible' });
    await page.goto(`${origin()}/console/users`);
    await page.locator('#view-login').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#console').innerHTML(), '');
    await context.close();
  });

  test('a console bundle slower than the sign-in still lands in the console', async () => {
    assert.ok(adminPassword, 'runs after the first sign-in');
    const context = await newContext('en-US');
    const page = await context.newPage();
    await signIn(page, 'admin', adminPassword);
    await page.locator('#welcome').waitFor();
    // Reload with a session and a bundle that arrives long after app.js has asked GET /api/v1/me.
    let delayed = 0;
    await page.route(/\/assets\/console-[A-Za-z0-9]+\.js$/, async (route) => {
      delayed++;
      await new Promise((r) => setTimeout(r, 1500));
      await route.continue();
    });
    await page.reload();
    await page.locator('#welcome').waitFor({ timeout: 10_000 });
    assert.equal(delayed, 1);
    await context.close();
  });

  test('in German: the same walk shows no English console text', async () => {
    assert.ok(adminPassword, 'runs after the first sign-in');
    const context = await newContext('de-DE');
    const page = await context.newPage();
    // A deep link survives the sign-in.
    await signIn(page, 'admin', adminPassword, '/console/users');
    await listed(page, ['admin', 'maria', 'pedro']);
    assert.equal(await page.locator('html').getAttribute('lang'), 'de');
    assert.deepEqual(await page.locator('#nav a').allTextContents(), navFor('administrator', 'de'));

    const texts: string[] = [];
    const look = async () => texts.push(await page.locator('body').innerText());
    await look();
    const otp = await createUser(page, { username: 'klaus', fullName: 'Klaus Weber', email: 'klaus@example.test', profile: 'configurator' });
    await assertOneTime('klaus', otp);
    await look();
    await page.locator('#one-time-done').click();
    await page.locator('#user-q').fill('weber');
    await page.locator('#user-filter-submit').click();
    await listed(page, ['klaus']);
    await rowAction(page, 'klaus', 'Deaktivieren');
    await page.locator('.toast', { hasText: 'Benutzer klaus deaktiviert.' }).waitFor();
    await look();
    await rowAction(page, 'klaus', 'Aktivieren');
    await rowAction(page, 'klaus', 'Passwort zurücksetzen');
    await page.locator('#one-time-password').waitFor({ state: 'visible' });
    await look();
    await page.locator('#one-time-done').click();
    await page.locator('#nav a', { hasText: 'Prüfprotokoll' }).click();
    await page.locator('#audit-events tr[data-type="user.reset_password"]').first().waitFor();
    await page.locator('#verify-chain').click();
    await page.locator('#chain-verdict', { hasText: 'Kette intakt' }).waitFor();
    await look();
    await page.locator('#nav a', { hasText: 'Startseite' }).click();
    await page.locator('#welcome').waitFor();
    await look();

    // Every English console message that German words differently must be absent (see englishLeftovers).
    assert.deepEqual(englishLeftovers(texts, 'de', ['console.', 'home.']), []);
    await context.close();
  });

  test('navigation follows the profile: an auditor reads users and the audit trail; a privileged-access user sees neither, and the API refuses', async () => {
    const admin = new ApiClient(d);
    assert.equal((await admin.login('admin', adminPassword)).status, 200);
    const auditorPassword = strongPassword();
    const reset = await admin.call('POST', `/api/v1/users/${(await admin.call('GET', '/api/v1/users?q=maria')).json.users[0].id}/reset-password`);
    await new ApiClient(d).loginAndChange('maria', reset.json.oneTimePassword, auditorPassword);

    const context = await newContext('en-US');
    const page = await context.newPage();
    await signIn(page, 'maria', auditorPassword);
    await page.locator('#welcome').waitFor();
    assert.deepEqual(await page.locator('#nav a').allTextContents(), navFor('auditor', 'en-US'));
    await page.locator('#nav a', { hasText: 'Users' }).click();
    await listed(page, ['admin', 'klaus', 'maria', 'pedro']);
    assert.equal(await page.locator('#new-user').count(), 0, 'no create without users.manage');
    assert.equal(await page.locator('#users button').count(), 0, 'no row actions without users.manage');
    const refused = await page.evaluate<number>(`(async () => {
      const csrf = (await (await fetch('/api/v1/me')).json()).csrfToken;
      return (await fetch('/api/v1/users', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify({ username: 'sneaky', fullName: 'S', profile: 'administrator' }) })).status;
    })()`);
    assert.equal(refused, 403);
    await page.locator('#nav a', { hasText: 'Audit trail' }).click();
    await page.locator('#audit-events tbody tr').first().waitFor();
    await context.close();

    const pedroPassword = strongPassword();
    const pedroReset = await admin.call('POST', `/api/v1/users/${(await admin.call('GET', '/api/v1/users?q=pedro')).json.users[0].id}/reset-password`);
    await new ApiClient(d).loginAndChange('pedro', pedroReset.json.oneTimePassword, pedroPassword);
    const ctx2 = await newContext('en-US');
    const p2 = await ctx2.newPage();
    await signIn(p2, 'pedro', pedroPassword, '/console/users');
    await p2.locator('#page h1').waitFor();
    assert.deepEqual(await p2.locator('#nav a').allTextContents(), navFor('privileged-access-user', 'en-US'));
    assert.equal((await p2.locator('#nav a').allTextContents()).includes('Users'), false);
    assert.equal(await p2.locator('#page h1').textContent(), 'This page does not exist.');
    assert.equal(await p2.locator('#users').count(), 0);
    const statuses = await p2.evaluate<number[]>(`(async () => [(await fetch('/api/v1/users')).status, (await fetch('/api/v1/audit')).status])()`);
    assert.deepEqual(statuses, [403, 403]);
    await ctx2.close();
  });

  test('the keyboard alone: skip link, navigation, the create form; axe-core finds no serious violation', async () => {
    const context = await newContext('en-US');
    const page = await context.newPage();
    await signIn(page, 'admin', adminPassword);
    await page.locator('#welcome').waitFor();

    const focused = () =>
      page.evaluate<{ tag: string; id: string; text: string; name: string }>(`(() => {
        const el = document.activeElement;
        return { tag: el?.tagName ?? '', id: el?.id ?? '', text: (el?.textContent ?? '').trim(), name: el?.getAttribute('name') ?? '' };
      })()`);
    const blur = () => page.evaluate('document.activeElement?.blur()');
    /** Where the page moves the focus itself (a new page, a form, a panel), give the render its moment. */
    const focusOn = (id: string) => waitUntil(page, `document.activeElement?.id === ${JSON.stringify(id)}`, 5000);
    async function tabTo(match: (f: { tag: string; id: string; text: string; name: string }) => boolean, max = 30): Promise<void> {
      for (let i = 0; i < max; i++) {
        await page.keyboard.press('Tab');
        if (match(await focused())) return;
      }
      assert.fail(`Tab never reached the element (last: ${JSON.stringify(await focused())})`);
    }

    // The page starts from the top: the first Tab is the skip link, which moves the focus to the page area.
    await blur();
    await page.keyboard.press('Tab');
    assert.equal((await focused()).text, 'Skip to content');
    const outline = await page.evaluate('getComputedStyle(document.activeElement).left');
    assert.notEqual(outline, '-9999px', 'the skip link shows itself when focused');
    await page.keyboard.press('Enter');
    await focusOn('page');

    await blur();
    await tabTo((f) => f.tag === 'A' && f.text === 'Users');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${origin()}/console/users`);
    await listed(page, ['admin', 'klaus', 'maria', 'pedro']);
    await waitUntil(page, `document.activeElement?.tagName === 'H1'`, 5000); // a new page moves the focus to its heading

    await tabTo((f) => f.id === 'new-user');
    await page.keyboard.press('Enter');
    await page.locator('#create-user').waitFor();
    await focusOn('new-username'); // the form opens with the focus in its first field
    await page.keyboard.type('tomas');
    await page.keyboard.press('Tab');
    await page.keyboard.type('Tomás Novak');
    await page.keyboard.press('Tab');
    await page.keyboard.type('tomas@example.test');
    await page.keyboard.press('Tab');
    assert.equal((await focused()).id, 'new-profile');
    assert.equal(await page.locator('#new-profile').inputValue(), '', 'no profile is chosen in advance');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    assert.equal(await page.locator('#one-time-password').count(), 0, 'no profile, no account');
    await focusOn('new-profile'); // the browser points at the missing choice
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Tab');
    assert.equal((await focused()).id, 'create-submit');
    await page.keyboard.press('Enter');
    await page.locator('#one-time-password').waitFor({ state: 'visible' });
    await focusOn('one-time-heading'); // the one-time password is announced
    await listed(page, ['admin', 'klaus', 'maria', 'pedro', 'tomas']);
    const tomas = (await new ApiClient(d).login('tomas', (await page.locator('#one-time-password').textContent())!)).json;
    assert.equal(tomas.user.profile, 'configurator', 'two ArrowDowns chose the second profile');

    // The check can fail: an image without a text alternative is a critical violation.
    await page.evaluate(`(() => { const i = document.createElement('img'); i.id = 'axe-probe'; i.src = 'data:image/gif;base64,R0lGODlhAQABAAAAACw='; document.getElementById('page').append(i); })()`);
    assert.ok((await seriousViolations(page)).some((v) => v.startsWith('image-alt') && v.includes('#axe-probe')));
    await page.evaluate(`document.getElementById('axe-probe').remove()`);

    const problems: string[] = [];
    problems.push(...(await seriousViolations(page)).map((p) => `users: ${p}`));
    await page.locator('#one-time-done').click();
    await page.locator('#nav a', { hasText: 'Audit trail' }).click();
    await page.locator('#audit-events tbody tr').first().waitFor();
    await page.locator('#verify-chain').click();
    await page.locator('#chain-verdict', { hasText: 'Chain intact' }).waitFor();
    problems.push(...(await seriousViolations(page)).map((p) => `audit: ${p}`));
    await page.locator('#nav a', { hasText: 'Home' }).click();
    await page.locator('#welcome').waitFor();
    problems.push(...(await seriousViolations(page)).map((p) => `home: ${p}`));
    await page.locator('#logout').click();
    await page.locator('#view-login').waitFor({ state: 'visible' });
    problems.push(...(await seriousViolations(page)).map((p) => `login: ${p}`));
    assert.deepEqual(problems, []);
    await context.close();
  });
});
