// The console's Devices pages in Debian's Chromium against the real web daemon: an administrator pages through
// more devices than a page holds (the server pages), creates a device, imports a CSV with a bad row (the report
// names the row and why; the good rows are listed), filters, opens a device page with its credentials, checks
// its connectivity now against a real sshd (reachable) and a closed loopback port (unreachable), and resets a
// pinned host key. The same walk in Polish leaves no English console text; axe-core finds no serious
// violation; an auditor reads without the actions; a privileged-access user has no Devices page and the API
// refuses it.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import { tempDir } from '../helpers/fixtures.js';
import { freePort, startSshd, type Sshd } from '../helpers/sshd.js';
import { signInAccounts, type ApiClient } from '../helpers/web-daemon.js';
import { englishLeftovers, seriousViolations, startConsoleLab, waitUntil, type ConsoleLab } from '../helpers/console-browser.js';

describe('console: Devices', () => {
  let lab: ConsoleLab;
  let sshd: Sshd;
  let closedPort: number;
  const dir = tempDir('warden-condev-');
  const clients: Record<string, ApiClient> = {};
  const ids: Record<string, number> = {};
  const passwords: Record<string, string> = {};

  before(async () => {
    lab = await startConsoleLab();
    sshd = await startSshd(path.join(dir.dir, 'sshd'));
    closedPort = await freePort();
    await signInAccounts(lab.admin, lab.d, [['auditor1', 'auditor'], ['ops', 'privileged-access-user']] as const, clients, ids, passwords);
    // More devices than a page shows, made through the API: the list must page on the server.
    for (let i = 1; i <= 55; i++) {
      const r = await lab.admin.call('POST', '/api/v1/devices', { hostname: `bulk${String(i).padStart(3, '0')}`, address: `127.0.4.${i}`, type: 'Linux', connectivity: 'SSH:22' });
      assert.equal(r.status, 201, r.body);
    }
  });
  after(async () => {
    await sshd?.stop();
    await lab?.stop();
    dir.cleanup();
  });

  async function listed(page: Page, names: string[]): Promise<void> {
    await waitUntil(page, `JSON.stringify([...document.querySelectorAll('#devices tbody tr')].map((r) => r.getAttribute('data-hostname'))) === ${JSON.stringify(JSON.stringify(names))}`);
  }
  async function filterBy(page: Page, q: string, unreachable = false): Promise<void> {
    await page.locator('#device-q').fill(q);
    await page.locator('#device-unreachable').setChecked(unreachable);
    await page.locator('#device-filter-submit').click();
  }
  async function importCsv(page: Page, csv: string, how: 'paste' | 'file'): Promise<void> {
    await page.locator('#import-open').click();
    if (how === 'paste') await page.locator('#import-csv').fill(csv);
    else {
      await page.locator('#import-file').setInputFiles({ name: 'devices.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
      await waitUntil(page, `document.getElementById('import-csv').value.length > 0`);
    }
    await page.locator('#import-submit').click();
    await page.locator('#import-report').waitFor();
  }
  /** Rows of the import report: [line, hostname, outcome, reason]. */
  const report = (page: Page) =>
    page.evaluate<string[][]>(`[...document.querySelectorAll('#import-report tbody tr')].map((r) => [...r.children].map((c) => c.textContent.trim()))`);
  /** The connectivity table's rows: [port, ok]. */
  const portRows = (page: Page) => page.evaluate<[string, string][]>(`[...document.querySelectorAll('#connectivity tbody tr')].map((r) => [r.getAttribute('data-port'), r.getAttribute('data-ok')])`);

  /**
   * The API as the page's own user (one web session per user: signing in through the browser ended the lab's
   * API session of the same account).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON of any shape, asserted by the test
  async function pageApi(page: Page, method: string, url: string, body?: unknown): Promise<{ status: number; json: any }> {
    return page.evaluate(`(async () => {
      const csrf = (await (await fetch('/api/v1/me')).json()).csrfToken;
      const body = ${JSON.stringify(body === undefined ? null : JSON.stringify(body))};
      const r = await fetch(${JSON.stringify(url)}, { method: ${JSON.stringify(method)}, headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, ...(body === null ? {} : { body }) });
      return { status: r.status, json: await r.json().catch(() => null) };
    })()`);
  }

  async function pin(deviceId: number, fingerprint: string): Promise<void> {
    // The first connection through a proxy pins a device's key; the core pins it here as that connection would.
    const a = await Appliance.open(loadConfig({ WARDEN_HOME: lab.home.home }));
    try {
      assert.equal(await a.hostKeys.checkHostKey(deviceId, 'ssh', fingerprint), 'pinned');
    } finally {
      await a.close();
    }
  }

  test('an administrator pages, creates, imports with a bad row, filters, checks now, resets a host key', async () => {
    const page = await lab.signedIn('admin', lab.adminPassword, { path: '/console/devices' });
    assert.ok((await page.locator('#nav a').allTextContents()).includes('Devices'));
    assert.equal(await page.locator('#nav a[aria-current="page"]').textContent(), 'Devices');

    // 55 devices: the first page holds 50, the next the other 5.
    await waitUntil(page, `document.querySelectorAll('#devices tbody tr').length === 50`);
    assert.equal(await page.locator('#range').textContent(), '1–50 of 55');
    await page.getByRole('button', { name: 'Next page' }).click();
    await listed(page, ['bulk051', 'bulk052', 'bulk053', 'bulk054', 'bulk055']);
    assert.equal(await page.locator('#range').textContent(), '51–55 of 55');
    assert.match(page.url(), /offset=50/);
    await page.goBack();
    await waitUntil(page, `document.querySelectorAll('#devices tbody tr').length === 50`);

    // Create one by the form: a taken name is refused in words, then the real one lands.
    await page.locator('#new-device').click();
    await page.locator('#new-hostname').fill('bulk001');
    await page.locator('#new-address').fill('127.0.0.1');
    await page.locator('#create-device-submit').click();
    await waitUntil(page, `document.getElementById('create-device-error')?.textContent === 'A device named bulk001 already exists.'`);
    await page.locator('#new-hostname').fill('web01');
    await page.locator('#new-connectivity').fill(`SSH:${sshd.port}`);
    await page.locator('#new-type').fill('Linux');
    await page.locator('#create-device-submit').click();
    await page.getByText('Device web01 created.').waitFor();
    await filterBy(page, 'web0');
    await listed(page, ['web01']);
    assert.match(page.url(), /q=web0/);
    assert.equal(await page.locator('#devices tr[data-hostname="web01"] td.reachability').textContent(), 'Not checked yet');

    // Import: three rows, the middle one bad; the report says which and why, the good ones are listed.
    await importCsv(page, `hostname,address,type,connectivity\ncsv01,127.0.5.1,Windows,RDP:3389\ncsv02,not-an-address,Linux,SSH:22\ncsv03,127.0.0.1,Linux,SSH:${closedPort}\n`, 'paste');
    assert.equal(await page.locator('#import-summary').textContent(), '2 created, 0 updated, 1 rejected.');
    assert.deepEqual(await report(page), [
      ['2', 'csv01', 'Created', ''],
      ['3', 'csv02', 'Rejected', 'The value in column address is not valid.'],
      ['4', 'csv03', 'Created', ''],
    ]);
    assert.deepEqual(await seriousViolations(page), []);
    // A file over the API's 8 MiB is refused before it is read or sent.
    await page.locator('#import-file').setInputFiles({ name: 'huge.csv', mimeType: 'text/csv', buffer: Buffer.alloc(8 * 1024 * 1024 + 1, 'a') });
    await waitUntil(page, `document.getElementById('import-error')?.textContent === 'The file is larger than 8 MiB: split it into several imports.'`);
    // Again, asked to update: the existing csv01 is changed, the new csv04 created.
    await page.locator('#import-csv').fill('hostname,address,site\ncsv01,127.0.5.11,Recife\ncsv04,127.0.5.4,Recife\n');
    await page.locator('#import-update').check();
    await page.locator('#import-submit').click();
    await waitUntil(page, `document.getElementById('import-summary')?.textContent === '1 created, 1 updated, 0 rejected.'`);
    assert.deepEqual((await report(page)).map((r) => r.slice(0, 3)), [['2', 'csv01', 'Updated'], ['3', 'csv04', 'Created']]);
    await filterBy(page, 'csv0');
    await listed(page, ['csv01', 'csv03', 'csv04']);
    assert.equal(await page.locator('#range').textContent(), '1–3 of 3');
    assert.equal(await page.locator('#devices tr[data-hostname="csv01"] td').first().textContent(), '127.0.5.11');

    // csv03's port is closed: check now says so, and the list's unreachable filter finds it.
    await page.locator('#devices a', { hasText: 'csv03' }).click();
    await waitUntil(page, `document.getElementById('device-heading')?.textContent === 'csv03'`);
    assert.equal(await page.locator('#connectivity-none').count(), 1);
    await page.locator('#check-now').click();
    await waitUntil(page, `document.querySelectorAll('#connectivity tbody tr').length === 1`);
    assert.deepEqual(await portRows(page), [[String(closedPort), 'false']]);
    assert.equal(await page.locator('#connectivity tbody td').nth(1).textContent(), 'No answer');
    await page.locator('#back-to-devices').click();
    await filterBy(page, '', true);
    await listed(page, ['csv03']);
    assert.equal(await page.locator('#devices td.reachability').textContent(), 'Unreachable: 1 failing');

    // web01 is a real sshd: its page shows its credential, answers check now, and lets a pinned key be reset.
    const web01 = (await pageApi(page, 'GET', '/api/v1/devices?q=web01')).json.devices[0].id as number;
    assert.equal((await pageApi(page, 'POST', '/api/v1/credentials', { deviceId: web01, username: 'root', kind: 'local-privileged', secret: 'Not-shown-4-anyone' })).status, 201);
    ids.web01 = web01;
    await pin(web01, 'SHA256:KeyOfWeb01AsFirstSeen00000000000000000000000');
    await filterBy(page, 'web01');
    await page.locator('#devices a', { hasText: 'web01' }).click();
    await waitUntil(page, `document.getElementById('device-heading')?.textContent === 'web01'`);
    assert.equal(await page.locator('#device-credentials tr[data-username="root"] td').nth(1).textContent(), 'Local privileged account');
    assert.ok(!(await page.locator('body').innerText()).includes('Not-shown-4-anyone'));
    await page.locator('#check-now').click();
    await waitUntil(page, `document.querySelector('#connectivity tbody tr')?.getAttribute('data-ok') === 'true'`);
    assert.match((await page.locator('#connectivity tbody td.detail').textContent()) ?? '', /^SSH-2\.0-OpenSSH/);
    await page.getByText('web01: 1 of 1 ports answered.').waitFor();

    assert.equal(await page.locator('#host-keys tr[data-protocol="ssh"] code').textContent(), 'SHA256:KeyOfWeb01AsFirstSeen00000000000000000000000');
    assert.deepEqual(await seriousViolations(page), []);
    await page.locator('#reset-ssh').click();
    await page.locator('#confirm-reset-ssh').click();
    await page.locator('#host-keys-none').waitFor();
    assert.deepEqual((await pageApi(page, 'GET', `/api/v1/devices/${web01}/host-keys`)).json.hostKeys, []);

    // An edit: the site is saved and shown after the reload.
    await page.locator('#edit-site').fill('Recife');
    await page.locator('#save-device').click();
    await page.getByText('Device web01 saved.').waitFor();
    assert.equal((await pageApi(page, 'GET', `/api/v1/devices/${web01}`)).json.device.site, 'Recife');

    // The audit trail has each act, by the administrator.
    const types = (await pageApi(page, 'GET', '/api/v1/audit?actor=admin&limit=200')).json.events.map((e: { type: string }) => e.type);
    for (const t of ['device.create', 'device.import', 'device.connectivity_check', 'device.host_key_reset', 'device.update']) assert.ok(types.includes(t), t);
    await page.context().close();
  });

  test('the same walk in Polish leaves no English console text', async () => {
    const page = await lab.signedIn('admin', lab.adminPassword, { locale: 'pl', path: '/console/devices' });
    assert.equal(await page.locator('html').getAttribute('lang'), 'pl');
    const texts: string[] = [];
    const look = async () => texts.push(await page.locator('body').innerText());
    await waitUntil(page, `document.querySelectorAll('#devices tbody tr').length === 50`);
    await look();

    await page.locator('#new-device').click();
    await look();
    await page.locator('#new-hostname').fill('pl01');
    await page.locator('#new-address').fill('127.0.6.1');
    await page.locator('#create-device-submit').click();
    await page.getByText('Utworzono urządzenie pl01.').waitFor();
    await look();

    await importCsv(page, 'hostname,address,site\npl02,127.0.6.2,Kraków\npl03,zły-adres,Kraków\npl04,127.0.6.4,Kraków\npl01,127.0.6.5,Kraków\n', 'file');
    assert.equal(await page.locator('#import-summary').textContent(), 'Utworzono: 2, zaktualizowano: 0, odrzucono: 2.');
    assert.deepEqual((await report(page)).map((r) => r[3]), ['', 'Wartość w kolumnie address jest nieprawidłowa.', '', 'Urządzenie o nazwie pl01 już istnieje.']);
    await look();
    await filterBy(page, 'kraków');
    await listed(page, ['pl02', 'pl04']);
    await look();

    await page.locator('#devices a', { hasText: 'pl02' }).click();
    await waitUntil(page, `document.getElementById('device-heading')?.textContent === 'pl02'`);
    await look();
    await page.locator('#back-to-devices').click();
    await filterBy(page, 'web01');
    await page.locator('#devices a', { hasText: 'web01' }).click();
    await waitUntil(page, `document.getElementById('device-heading')?.textContent === 'web01'`);
    await page.locator('#check-now').click();
    await page.getByText('web01: odpowiedziało 1 z 1 portów.').waitFor();
    await look();

    assert.deepEqual(englishLeftovers(texts, 'pl'), []);
    assert.deepEqual(await seriousViolations(page), []);
    await page.context().close();
  });

  test('the keyboard alone: navigation to Devices, the import, a device page and check now', async () => {
    const page = await lab.signedIn('admin', lab.adminPassword);
    await page.locator('#welcome').waitFor();
    const focused = () =>
      page.evaluate<{ tag: string; id: string; text: string }>(`(() => {
        const el = document.activeElement;
        return { tag: el?.tagName ?? '', id: el?.id ?? '', text: (el?.textContent ?? '').trim() };
      })()`);
    async function tabTo(match: (f: { tag: string; id: string; text: string }) => boolean, max = 80): Promise<void> {
      for (let i = 0; i < max; i++) {
        await page.keyboard.press('Tab');
        if (match(await focused())) return;
      }
      assert.fail(`Tab never reached the element (last: ${JSON.stringify(await focused())})`);
    }
    const focusOn = (id: string) => waitUntil(page, `document.activeElement?.id === ${JSON.stringify(id)}`, 5000);

    await page.evaluate('document.activeElement?.blur()');
    await tabTo((f) => f.tag === 'A' && f.text === 'Devices');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${lab.origin}/console/devices`);
    await waitUntil(page, `document.activeElement?.tagName === 'H1'`, 5000);
    await tabTo((f) => f.id === 'import-open');
    await page.keyboard.press('Enter');
    await focusOn('import-heading');
    await tabTo((f) => f.id === 'import-csv');
    await page.keyboard.type('hostname,address\nkbd01,127.0.8.1\n');
    await tabTo((f) => f.id === 'import-submit');
    await page.keyboard.press('Enter');
    await focusOn('import-report-heading'); // the report takes the focus: a screen reader reads it next
    assert.equal(await page.locator('#import-summary').textContent(), '1 created, 0 updated, 0 rejected.');

    await tabTo((f) => f.id === 'device-q');
    await page.keyboard.type('web01');
    await page.keyboard.press('Enter');
    await listed(page, ['web01']);
    await tabTo((f) => f.tag === 'A' && f.text === 'web01');
    await page.keyboard.press('Enter');
    await waitUntil(page, `document.activeElement?.id === 'device-heading'`, 5000);
    await tabTo((f) => f.id === 'check-now');
    await page.keyboard.press('Enter');
    await page.getByText('web01: 1 of 1 ports answered.').waitFor();
    await page.context().close();
  });

  test('an auditor reads devices without the actions; a privileged-access user has no Devices page and the API refuses it', async () => {
    const page = await lab.signedIn('auditor1', passwords.auditor1!, { path: '/console/devices' });
    assert.ok((await page.locator('#nav a').allTextContents()).includes('Devices'));
    await waitUntil(page, `document.querySelectorAll('#devices tbody tr').length === 50`);
    assert.equal(await page.locator('#new-device').count(), 0, 'no create without devices.manage');
    assert.equal(await page.locator('#import-open').count(), 0, 'no import without devices.manage');
    await filterBy(page, 'web01');
    await page.locator('#devices a', { hasText: 'web01' }).click();
    await page.locator('#device-facts').waitFor();
    assert.equal(await page.locator('#check-now').count(), 0);
    assert.equal(await page.locator('#edit-device').count(), 0);
    assert.deepEqual(await seriousViolations(page), []);
    assert.equal((await pageApi(page, 'POST', '/api/v1/devices/import', { csv: 'hostname,address\nsneaky,127.0.7.1\n' })).status, 403);
    assert.equal((await pageApi(page, 'POST', `/api/v1/devices/${ids.web01}/connectivity/check`)).status, 403);
    await page.context().close();

    const ops = await lab.signedIn('ops', passwords.ops!, { path: '/console/devices' });
    await ops.locator('#page h1').waitFor();
    assert.ok(!(await ops.locator('#nav a').allTextContents()).includes('Devices'));
    assert.equal(await ops.locator('#page h1').textContent(), 'This page does not exist.');
    assert.equal(await ops.locator('#devices').count(), 0);
    const statuses = await ops.evaluate<number[]>(`(async () => [(await fetch('/api/v1/devices')).status, (await fetch('/api/v1/devices/1')).status, (await fetch('/api/v1/credentials?device=1')).status])()`);
    assert.deepEqual(statuses, [403, 403, 403]);
    await ops.context().close();
  });
});
