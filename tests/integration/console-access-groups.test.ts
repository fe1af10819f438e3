// The console's Access groups pages in Chromium against the real web daemon: an administrator creates a group,
// adds a privileged-access user, a device and a credential through the pickers (which search the server),
// sets Mon–Fri 08–18 in the days × hours grid (mouse drag and keyboard) and the API stores exactly that
// window, orders command rules and asks the tester about `rm -rf /` (blocked, by the rule named) and `ls`
// (allowed). The grid works with the keyboard alone; part of the walk in German leaves no English; axe-core
// finds no serious violation; a profile without access.manage sees no Access groups and the API refuses it.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { englishLeftovers, seriousViolations, startConsoleLab, type ConsoleLab } from '../helpers/console-browser.js';
import { signInAccounts, type ApiClient } from '../helpers/web-daemon.js';

describe('console: access groups', () => {
  let lab: ConsoleLab;
  const clients: Record<string, ApiClient> = {};
  const ids: Record<string, number> = {};
  const passwords: Record<string, string> = {};

  before(async () => {
    lab = await startConsoleLab();
    await signInAccounts(lab.admin, lab.d, [['ops1', 'privileged-access-user'], ['auditor1', 'auditor'], ['checker', 'administrator']] as const, clients, ids, passwords);
    const dev = await lab.admin.call('POST', '/api/v1/devices', { hostname: 'app01', address: '127.0.4.1', connectivity: 'SSH:22' });
    assert.equal(dev.status, 201, dev.body);
    ids.app01 = dev.json.device.id;
    const cred = await lab.admin.call('POST', '/api/v1/credentials', { deviceId: ids.app01, username: 'root', secret: 'Root-S3cret-Pass', kind: 'local-privileged' });
    assert.equal(cred.status, 201, cred.body);
    ids.root = cred.json.credential.id;
  });
  after(async () => {
    await lab?.stop();
  });

  /** The API as an administrator who never signs in through the browser (a sign-in ends the user's other sessions). */
  const api = () => clients.checker!;

  const cell = (page: Page, row: number, hour: number) => page.locator(`#week-grid [data-cell="${row}-${hour}"]`);
  const focused = (page: Page) => page.evaluate<string | null>(`document.activeElement && document.activeElement.getAttribute('data-cell')`);
  /** The grid's marked cells as "day-hour" (day 0 = Sunday, as the API counts). */
  const marked = (page: Page) =>
    page.evaluate<string[]>(`[...document.querySelectorAll('#week-grid td[aria-selected="true"]')].map((c) => c.getAttribute('data-day') + '-' + c.getAttribute('data-hour'))`);
  const expectedCells = (days: number[], from: number, to: number) => days.flatMap((d) => Array.from({ length: to - from }, (_, i) => `${d}-${from + i}`)).sort();

  async function createGroup(page: Page, name: string): Promise<number> {
    await page.locator('#new-group').click();
    await page.locator('#new-group-name').fill(name);
    await page.locator('#create-group-submit').click();
    await page.waitForURL(/\/console\/access-groups\/\d+$/);
    await page.locator('#group-heading', { hasText: name }).waitFor();
    return Number(new URL(page.url()).pathname.split('/').pop());
  }

  async function pick(page: Page, kind: string, text: string, name: string): Promise<void> {
    await page.locator(`#pick-${kind}`).fill(text);
    await page.locator(`#pick-${kind}-results li[data-name="${name}"] button`).click();
    await page.locator(`#members-${kind}-list tr[data-name="${name}"]`).waitFor();
  }

  async function addRule(page: Page, pattern: string, action: string): Promise<void> {
    await page.locator('#rule-pattern').fill(pattern);
    await page.locator('#rule-action').selectOption(action);
    await page.locator('#rule-add-submit').click();
  }

  async function testCommand(page: Page, command: string): Promise<{ action: string; position: string; text: string }> {
    await page.locator('#tester-command').fill(command);
    const shown = page.locator('#tester-result .verdict-line');
    const before = (await shown.count()) === 0 ? 0 : Number(await shown.getAttribute('data-run'));
    await page.locator('#tester-submit').click();
    const line = page.locator(`#tester-result .verdict-line[data-run="${before + 1}"]`);
    await line.waitFor();
    return { action: (await line.getAttribute('data-action')) ?? '', position: (await line.getAttribute('data-position')) ?? '', text: (await line.textContent()) ?? '' };
  }

  test('an administrator builds a group: members, a device, a credential, Mon–Fri 08–18, ordered command rules and the tester', async () => {
    const page = await lab.signedIn('admin', lab.adminPassword);
    assert.ok((await page.locator('#nav a').allTextContents()).includes('Access groups'));
    await page.locator('#nav a', { hasText: 'Access groups' }).click();
    await page.waitForURL(`${lab.origin}/console/access-groups`);
    await page.locator('#page .empty').waitFor();

    const groupId = await createGroup(page, 'ops-prod');
    await page.locator('.toast', { hasText: 'Access group ops-prod created.' }).waitFor();

    // The pickers search the server: the user, the device and the credential made through the API.
    await pick(page, 'users', 'ops', 'ops1');
    await pick(page, 'devices', 'app0', 'app01');
    await pick(page, 'credentials', 'root', 'root');
    let whole = (await api().call('GET', `/api/v1/access-groups/${groupId}`)).json.group;
    assert.deepEqual([whole.userIds, whole.deviceIds, whole.credentialIds], [[ids.ops1], [ids.app01], [ids.root]]);

    // A new group has no windows (any time): every hour shows marked, in the appliance's time zone.
    const summary = (await api().call('GET', `/api/v1/access-groups/${groupId}/summary`)).json;
    assert.match((await page.locator('#window-help').textContent()) ?? '', new RegExp(summary.timeZone.replace('/', '\\/')));
    assert.equal((await marked(page)).length, 168);
    await page.locator('#window-clear').click();
    assert.equal((await marked(page)).length, 0);

    // Monday (row 0) by dragging the mouse over 08:00–17:00; Tuesday to Friday with the keyboard.
    await cell(page, 0, 8).hover();
    await page.mouse.down();
    for (let h = 9; h <= 17; h++) await cell(page, 0, h).hover();
    await page.mouse.up();
    assert.deepEqual((await marked(page)).sort(), expectedCells([1], 8, 18));
    await cell(page, 0, 17).focus();
    for (let row = 1; row <= 4; row++) {
      await page.keyboard.press('ArrowDown');
      // Snake along the row: right to left on odd rows, back again on even ones.
      const hours = row % 2 === 1 ? [17, 16, 15, 14, 13, 12, 11, 10, 9, 8] : [8, 9, 10, 11, 12, 13, 14, 15, 16, 17];
      for (const [i, h] of hours.entries()) {
        if (i > 0) await page.keyboard.press(row % 2 === 1 ? 'ArrowLeft' : 'ArrowRight');
        assert.equal(await focused(page), `${row}-${h}`);
        await page.keyboard.press('Space');
      }
    }
    assert.deepEqual((await marked(page)).sort(), expectedCells([1, 2, 3, 4, 5], 8, 18));
    await page.locator('#window-summary', { hasText: '50 hours a week' }).waitFor();
    // The same block in one drag: from Monday 08:00 to Friday 17:00, the rectangle between.
    await page.locator('#window-clear').click();
    await cell(page, 0, 8).hover();
    await page.mouse.down();
    await cell(page, 2, 12).hover();
    await cell(page, 4, 17).hover();
    await page.mouse.up();
    assert.deepEqual((await marked(page)).sort(), expectedCells([1, 2, 3, 4, 5], 8, 18));
    await page.locator('#window-save').click();
    await page.locator('.toast', { hasText: 'Time windows saved.' }).waitFor();
    const stored = (await api().call('GET', `/api/v1/access-groups/${groupId}`)).json.group;
    assert.deepEqual(stored.timeWindows, [{ days: [1, 2, 3, 4, 5], start: '08:00', end: '18:00' }], 'the API stores what the grid shows');
    assert.deepEqual([stored.userIds, stored.deviceIds], [[ids.ops1], [ids.app01]], 'saving the windows leaves the members');

    // Read back after a reload: the grid shows the stored window.
    await page.reload();
    await page.locator('#week-grid').waitFor();
    assert.deepEqual((await marked(page)).sort(), expectedCells([1, 2, 3, 4, 5], 8, 18));

    // Settings: a reason is required.
    await page.locator('#group-reasonRequired').check();
    await page.locator('#settings-save').click();
    await page.locator('.toast', { hasText: 'Settings of ops-prod saved.' }).waitFor();
    assert.equal((await api().call('GET', `/api/v1/access-groups/${groupId}`)).json.group.reasonRequired, true);

    // Command rules: added in one order, the block rule moved first, saved as ordered.
    await addRule(page, '^ls\\b', 'allow');
    await addRule(page, '^rm\\s+-rf\\s+/', 'block');
    assert.deepEqual(await page.locator('#rules-list tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-pattern'))), ['^ls\\b', '^rm\\s+-rf\\s+/']);
    await page.locator('#rule-1-up').click();
    assert.deepEqual(await page.locator('#rules-list tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-pattern'))), ['^rm\\s+-rf\\s+/', '^ls\\b']);
    await page.locator('#rules-save').click();
    await page.locator('.toast', { hasText: 'Command rules saved.' }).waitFor();
    const rules = (await api().call('GET', `/api/v1/access-groups/${groupId}/command-rules`)).json.commandRules;
    assert.deepEqual(rules, { groupId, mode: 'rules', rules: [{ pattern: '^rm\\s+-rf\\s+/', action: 'block' }, { pattern: '^ls\\b', action: 'allow' }] });

    // The tester: the proxy's own judgement, naming the rule that decided.
    const rm = await testCommand(page, 'rm -rf /');
    assert.deepEqual([rm.action, rm.position], ['block', '1']);
    assert.match(rm.text, /blocked by rule 1 \(\^rm\\s\+-rf\\s\+\/\)/);
    const ls = await testCommand(page, 'ls');
    assert.deepEqual([ls.action, ls.position], ['allow', '2']);
    assert.match(ls.text, /allowed by rule 2/);
    const other = await testCommand(page, 'uptime');
    assert.deepEqual([other.action, other.position], ['allow', '']);
    assert.match(other.text, /no rule matches it/);
    // A removed rule changes the draft's verdict before anything is saved.
    await page.locator('#rule-0-remove').click();
    assert.equal((await testCommand(page, 'rm -rf /')).action, 'allow');

    assert.deepEqual(await seriousViolations(page), []);

    // Members are removed one at a time.
    await page.locator('#members-devices-list tr[data-name="app01"] button').click();
    await page.locator('#members-devices .empty').waitFor();
    assert.deepEqual((await api().call('GET', `/api/v1/access-groups/${groupId}`)).json.group.deviceIds, []);

    // A group that does not exist is said so.
    await page.goto(`${lab.origin}/console/access-groups/999999`);
    await page.locator('#page h1', { hasText: 'This page does not exist.' }).waitFor();
    await page.goBack();
    await page.locator('#group-heading').waitFor();

    // The list: the group with its counts and conditions.
    await page.locator('.crumbs a').click();
    await page.waitForURL(`${lab.origin}/console/access-groups`);
    const row = page.locator('#groups tr[data-group="ops-prod"]');
    await row.waitFor();
    assert.deepEqual(await row.locator('td.num').allTextContents(), ['1', '0', '1', '0']);
    assert.match((await row.textContent()) ?? '', /1 time windows.*Reason required/);
    assert.equal(await page.locator('#range').textContent(), '1–1 of 1');
    await page.locator('#group-q').fill('nothing-like-it');
    await page.locator('#group-filter-submit').click();
    await page.locator('#page .empty').waitFor();
    assert.equal(new URL(page.url()).search, '?q=nothing-like-it');
    assert.deepEqual(await seriousViolations(page), []);
  });

  test('in German, the grid with the keyboard alone, the tester, and no English left on the way', async () => {
    const page = await lab.signedIn('admin', lab.adminPassword, { locale: 'de', path: '/console/access-groups' });
    const texts: string[] = [];
    const seen = async () => texts.push(await page.locator('body').innerText());
    await page.locator('#new-group').waitFor();
    await seen();
    const groupId = await createGroup(page, 'betrieb');
    await page.locator('.toast', { hasText: 'Zugriffsgruppe betrieb angelegt.' }).waitFor();
    await seen();

    // Keyboard only: Tab into the grid reaches one cell; arrows move; Space toggles; Home and End.
    await page.locator('#window-clear').focus();
    await page.keyboard.press('Enter');
    assert.equal((await marked(page)).length, 0);
    await cell(page, 0, 0).focus();
    assert.equal(await page.locator('#week-grid [tabindex="0"]').count(), 1, 'the grid is one Tab stop');
    await page.keyboard.press('ArrowDown');
    assert.equal(await focused(page), '1-0');
    await page.keyboard.press('End');
    assert.equal(await focused(page), '1-23');
    await page.keyboard.press('Home');
    for (let i = 0; i < 9; i++) await page.keyboard.press('ArrowRight');
    assert.equal(await focused(page), '1-9');
    await page.keyboard.press('Space');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Space');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    assert.equal(await focused(page), '0-10', 'the top row stops the focus');
    await page.keyboard.press('Space');
    await page.keyboard.press('Space');
    assert.deepEqual((await marked(page)).sort(), ['2-10', '2-9'], 'Tuesday 09–11 (Space twice toggles back)');
    assert.equal(await cell(page, 1, 9).getAttribute('aria-selected'), 'true');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.locator('.toast', { hasText: 'Zeitfenster gespeichert.' }).waitFor();
    assert.deepEqual((await api().call('GET', `/api/v1/access-groups/${groupId}`)).json.group.timeWindows, [{ days: [2], start: '09:00', end: '11:00' }]);
    await seen();

    // A run to midnight is stored in the API's overnight form and read back as the same hours.
    await cell(page, 6, 23).click();
    await page.locator('#window-save').click();
    const windows = async () => (await api().call('GET', `/api/v1/access-groups/${groupId}`)).json.group.timeWindows as unknown[];
    for (let i = 0; i < 100 && (await windows()).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await windows(), [
      { days: [2], start: '09:00', end: '11:00' },
      { days: [0], start: '23:00', end: '00:00' },
    ]);

    await addRule(page, '^rm\\s', 'block');
    await pick(page, 'users', 'ops1', 'ops1');
    await seen();
    const rm = await testCommand(page, 'rm -rf /');
    assert.equal(rm.action, 'block');
    assert.match(rm.text, /gesperrt durch Regel 1/);
    await page.locator('#rules-save').click();
    await page.locator('.toast', { hasText: 'Befehlsregeln gespeichert.' }).waitFor();
    await seen();
    await page.locator('.crumbs a').click();
    await page.locator('#groups tr[data-group="betrieb"]').waitFor();
    await seen();

    assert.deepEqual(englishLeftovers(texts, 'de'), []);
    assert.deepEqual(await seriousViolations(page), []);
  });

  test('a profile without access.manage: no Access groups in the navigation, not found by address, and the API refuses', async () => {
    // The API first: the browser's sign-in below ends this client's session.
    const c = clients.auditor1!;
    assert.equal((await c.call('GET', '/api/v1/access-groups')).status, 403);
    assert.equal((await c.call('POST', '/api/v1/access-groups', { name: 'sneaky' })).status, 403);
    assert.equal((await c.call('POST', '/api/v1/access-groups/1/command-rules/test', { command: 'ls' })).status, 403);
    const page = await lab.signedIn('auditor1', passwords.auditor1!);
    const nav = await page.locator('#nav a').allTextContents();
    assert.ok(nav.length > 0);
    assert.equal(nav.includes('Access groups'), false);
    await page.goto(`${lab.origin}/console/access-groups`);
    await page.locator('#page h1', { hasText: 'This page does not exist.' }).waitFor();
  });
});
