// A person's first login, in Debian's headless Chromium driven by playwright-core: the login page, the
// forced password change, the landing in the web console — and a wrong password showing only the generic message.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser } from 'playwright-core';
import { initializedHome, strongPassword, type InitializedHome } from '../helpers/fixtures.js';
import { startWebDaemon, type RunningDaemon } from '../helpers/web-daemon.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../helpers/chromium.js';


describe('login page in Chromium', () => {
  let home: InitializedHome;
  let d: RunningDaemon;
  let browser: Browser;

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

  test('first login: password, forced change, landing in the console, sign out', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US' });
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${d.httpPort}/`);
    assert.equal(new URL(page.url()).protocol, 'https:', 'plain HTTP redirected to HTTPS');

    await page.locator('#username').fill('admin');
    await page.locator('#password').fill('Wrong-Password-1');
    await page.locator('#login-submit').click();
    await page.locator('#login-error').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#login-error').textContent(), 'Invalid user credentials');

    await page.locator('#password').fill(home.oneTimePassword);
    await page.locator('#login-submit').click();
    await page.locator('#view-change').waitFor({ state: 'visible' });

    const next = strongPassword();
    await page.locator('#current-password').fill(home.oneTimePassword);
    await page.locator('#new-password').fill('too-simple');
    await page.locator('#confirm-password').fill('too-simple');
    await page.locator('#change-submit').click();
    await page.locator('#change-error').waitFor({ state: 'visible' });
    assert.match((await page.locator('#change-error').textContent()) ?? '', /at least 12 characters/);

    await page.locator('#current-password').fill(home.oneTimePassword);
    await page.locator('#new-password').fill(next);
    await page.locator('#confirm-password').fill(next);
    await page.locator('#change-submit').click();
    await page.locator('#view-home').waitFor({ state: 'visible' });
    await page.locator('#welcome').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#welcome').textContent(), 'Welcome, Administrator');
    // The console's landing: its own address, the profile by its name in the page's language.
    assert.equal(new URL(page.url()).pathname, '/console');
    assert.equal(await page.locator('#profile').textContent(), 'Administrator');
    assert.equal(await page.locator('#view-login').isVisible(), false);

    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === '__Host-warden-session');
    assert.ok(session);
    assert.equal(session.httpOnly, true);
    assert.equal(session.secure, true);
    assert.equal(session.sameSite, 'Strict');

    // A reload keeps the session; sign-out ends it.
    await page.reload();
    await page.locator('#view-home').waitFor({ state: 'visible' });
    await page.locator('#welcome').waitFor({ state: 'visible' });
    await page.locator('#logout').click();
    await page.locator('#view-login').waitFor({ state: 'visible' });
    await page.reload();
    await page.locator('#view-login').waitFor({ state: 'visible' });
    await context.close();
  });

  test('the page speaks the browser\'s language', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'ru-RU' });
    const page = await context.newPage();
    await page.goto(`https://127.0.0.1:${d.httpsPort}/`);
    await page.locator('#view-login').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#view-login h1').textContent(), 'Вход');
    assert.equal(await page.locator('html').getAttribute('lang'), 'ru');
    await page.locator('#username').fill('nobody');
    await page.locator('#password').fill('Wrong-Password-1');
    await page.locator('#login-submit').click();
    await page.locator('#login-error').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#login-error').textContent(), 'Неверные учётные данные пользователя');
    await context.close();
  });
});
