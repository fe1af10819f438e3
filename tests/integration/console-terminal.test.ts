// The console's HTML5 terminal in Chromium: a privileged user opens it from "My access" to a real sshd target,
// types a command and reads its output in xterm.js (drawn under the console's strict CSP: its <style> elements
// get the page's nonce, and no CSP violation is reported), sees a blocked command cancelled, is asked for a
// reason where the group wants one, leaves the terminal by keyboard, and is told in their language when an
// administrator ends the session. The session is the terminal proxy's kind: live, recorded, searchable.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { englishLeftovers, seriousViolations, startConsoleLab, waitUntil, type ConsoleLab } from '../helpers/console-browser.js';
import { proxyLab, type ProxyLab } from '../helpers/proxy-lab.js';
import { closedRecording } from '../helpers/terminal-proxy.js';

const TARGET_USER = 'wconsterm';

/** What xterm.js shows now (its DOM renderer's rows). */
const screen = (page: Page) => page.evaluate<string>(`document.querySelector('#terminal .xterm-rows')?.innerText ?? ''`);

async function screenShows(page: Page, re: RegExp, what: string): Promise<void> {
  const end = Date.now() + 15_000;
  for (;;) {
    const text = await screen(page);
    if (re.test(text)) return;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}; the screen shows:\n${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('console: the HTML5 terminal', { timeout: 240_000 }, () => {
  let proxy: ProxyLab;
  let lab: ConsoleLab;
  const cspViolations: string[] = [];

  before(async () => {
    proxy = await proxyLab({
      targetUser: TARGET_USER,
      settings: { timeZone: 'UTC' },
      users: { alice: {}, zofia: {} },
      hosts: ['web01', 'careful01'],
      groups: [{ name: 'web-ops', users: ['alice', 'zofia'], hosts: ['web01'], commandRules: [{ pattern: 'rm\\s+-rf', action: 'block' }] }],
      startProxy: false,
    });
    const careful = proxy.hosts.careful01!;
    await proxy.a.accessGroups.saveGroup({ username: 'admin', ip: '127.0.0.1' }, { name: 'careful', userIds: [proxy.users.alice!.id], deviceIds: [careful.deviceId], credentialIds: [careful.credentialId], reasonRequired: true });
    lab = await startConsoleLab({ home: proxy.home });
  });

  after(async () => {
    await lab?.stop();
    await proxy?.stop();
  });

  const open = async (page: Page, host: 'web01' | 'careful01') => {
    const { deviceId, credentialId } = proxy.hosts[host]!;
    await page.locator('#nav a[href="/console/my-access"]').click();
    await page.locator(`#terminal-${deviceId}-${credentialId}`).click();
    await page.waitForURL(/\/console\/my-access\/terminal\?/);
  };

  test('open from My access, type, read the output; a blocked command is cancelled; the session is live and recorded', async () => {
    const page = await lab.signedIn('alice', proxy.users.alice!.password);
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    await open(page, 'web01');
    await waitUntil(page, `document.querySelector('#terminal-notice')?.dataset.phase === 'open'`);
    assert.equal(await page.locator('#console h1').textContent(), `Terminal: ${TARGET_USER} on web01`);
    assert.equal(await page.locator('#terminal-notice').textContent(), 'Connected. Everything in this session is recorded.');
    await screenShows(page, /\$\s*$/m, 'the prompt');
    // xterm.js has the keyboard: what is typed on the page goes to the shell.
    await page.keyboard.type('echo console-$((6*7))');
    await page.keyboard.press('Enter');
    await screenShows(page, /^console-42\s*$/m, 'the output');
    // Its rows are laid out by its own <style> elements, which the CSP let in by the page's nonce.
    const rowHeight = await page.evaluate<number>(`document.querySelector('#terminal .xterm-rows > div').getBoundingClientRect().height`);
    assert.ok(rowHeight > 8 && rowHeight < 40, `a terminal row is ${rowHeight}px high`);
    const styled = await page.evaluate<number>(`[...document.querySelectorAll('#terminal style')].filter((s) => s.sheet !== null).length`);
    assert.ok(styled >= 2, 'the terminal style elements applied');

    await page.keyboard.type('rm -rf /tmp/nothing-here');
    await page.keyboard.press('Enter');
    await screenShows(page, /warden: command blocked by rule 1/, 'the block message');

    // The session is an ordinary proxied session: in the live list with its user and target.
    const live = await lab.admin.call('GET', '/api/v1/sessions/live');
    const mine = live.json.sessions.find((s: { user: string; device: string }) => s.user === 'alice' && s.device === 'web01');
    assert.ok(mine, JSON.stringify(live.json));

    // Shift+Esc leaves the terminal for the page; Disconnect ends the session.
    await page.keyboard.press('Shift+Escape');
    assert.equal(await page.evaluate<string>(`document.activeElement?.id ?? ''`), 'terminal-disconnect');
    assert.deepEqual(await seriousViolations(page), []);
    await page.keyboard.press('Enter');
    await waitUntil(page, `document.querySelector('#terminal-notice')?.dataset.phase === 'closed'`);
    assert.equal(await page.locator('#terminal-notice').textContent(), 'The session ended.');
    // The last screen stays readable.
    assert.match(await screen(page), /console-42/);
    const rec = await closedRecording(proxy.a, mine.id);
    assert.equal(rec.status, 'complete');
    const found = await lab.admin.call('GET', `/api/v1/sessions?command=${encodeURIComponent('echo console-')}`);
    assert.ok(JSON.stringify(found.json).includes(mine.id), 'the typed command is found by the search');
    assert.deepEqual(cspViolations, []);
  });

  test('a group that wants a reason asks for it before the session opens', async () => {
    const page = await lab.signedIn('alice', proxy.users.alice!.password);
    await open(page, 'careful01');
    await page.locator('#terminal-reason').waitFor({ state: 'visible' });
    assert.equal(await page.evaluate<string>(`document.activeElement?.id ?? ''`), 'terminal-reason', 'the reason field has the focus');
    await page.locator('#terminal-reason').fill('change CHG-77');
    await page.locator('#terminal-reason-submit').click();
    await waitUntil(page, `document.querySelector('#terminal-notice')?.dataset.phase === 'open'`);
    const live = await lab.admin.call('GET', '/api/v1/sessions/live');
    const s = live.json.sessions.find((x: { user: string; device: string }) => x.user === 'alice' && x.device === 'careful01');
    assert.equal((await proxy.a.store.repos.proxySessions.byId(s.id))!.reason, 'change CHG-77');
  });

  test('in Polish: an administrator ends the session and the user is told why, with no English left', async () => {
    const page = await lab.signedIn('zofia', proxy.users.zofia!.password, { locale: 'pl' });
    await open(page, 'web01');
    await waitUntil(page, `document.querySelector('#terminal-notice')?.dataset.phase === 'open'`);
    const texts = [await page.evaluate<string>('document.body.innerText')];
    const live = await lab.admin.call('GET', '/api/v1/sessions/live');
    const s = live.json.sessions.find((x: { user: string }) => x.user === 'zofia');
    assert.equal((await lab.admin.call('POST', `/api/v1/sessions/${s.id}/end`, { reason: 'audit' })).status, 202);
    await waitUntil(page, `document.querySelector('#terminal-notice')?.dataset.phase === 'closed'`);
    assert.equal(await page.locator('#terminal-notice').textContent(), 'Sesję zakończył administrator lub zasada.');
    assert.equal(await page.locator('#terminal-reconnect').textContent(), 'Połącz ponownie');
    texts.push(await page.evaluate<string>('document.body.innerText'));
    assert.deepEqual(englishLeftovers(texts, 'pl'), []);
    // Connect again opens a new session.
    await page.locator('#terminal-reconnect').click();
    await waitUntil(page, `document.querySelector('#terminal-notice')?.dataset.phase === 'open'`);
  });

  test('without a target, or for a profile that opens no sessions, the page says so', async () => {
    const page = await lab.signedIn('admin', lab.adminPassword);
    await page.goto(`${lab.origin}/console/my-access/terminal`);
    await page.locator('#terminal-notice').waitFor();
    assert.equal(await page.locator('#terminal-notice').textContent(), 'Choose a device and an account on My access.');
  });
});
