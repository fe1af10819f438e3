// The console's Credentials page in Debian's Chromium against the real web daemon. An administrator creates a
// credential (the secret a write-only field, never on the page), edits it without a new secret (the old one
// stays), views the password: the decision asks a reason in a dialog, the secret shows with a countdown and a
// copy button and hides itself after 30 s (the page's clock jumped by playwright) or at once with "hide now",
// and once hidden it is nowhere in the page; the audit trail keeps the view with its reason. Where the group
// wants an approval the page asks for one and shows the request waiting, then the approved view. A split (PCI)
// credential shows each viewer one half, said as such. Protected files: uploaded, listed (server-paged),
// downloaded with a reason. A password viewer walks the same in Spanish with no English left on the way; a
// profile without the permissions sees no Credentials item and the API refuses it; axe finds nothing serious.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { englishLeftovers, seriousViolations, startConsoleLab, waitUntil, type ConsoleLab } from '../helpers/console-browser.js';
import { ApiClient, signInAccounts } from '../helpers/web-daemon.js';

const SECRET = 'Tr0ub4dor-and-3-alpha';
const SPLIT_SECRET = 'AbCdEfGh12345678';
const REASON = 'restore test for ticket 4711';

describe('console: Credentials', () => {
  let lab: ConsoleLab;
  const clients: Record<string, ApiClient> = {};
  const ids: Record<string, number> = {};
  const passwords: Record<string, string> = {};
  let alphaGroup: Record<string, unknown>;

  // One web session per account: a browser sign-in ends that account's API session. After before(), the API
  // work is lead's (another administrator, never signed in in the browser).

  /** Signed in through the login form with playwright's clock installed before the console loads (so a test may jump it). */
  async function signIn(username: string, password: string, locale = 'en-US'): Promise<Page> {
    const context = await lab.context(locale);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: lab.origin });
    const page = await context.newPage();
    await page.clock.install();
    await page.goto(`${lab.origin}/console`);
    await page.locator('#username').fill(username);
    await page.locator('#password').fill(password);
    await page.locator('#login-submit').click();
    await page.locator('#console nav').waitFor({ state: 'visible' });
    return page;
  }

  const row = (page: Page, username: string, hostname: string) => page.locator(`#credentials tr[data-credential="${username}@${hostname}"]`);

  async function auditEvents(type: string): Promise<{ outcome: string; actor: string; subject: string; detail: Record<string, unknown> }[]> {
    const r = await clients.lead!.call('GET', `/api/v1/audit?type=${type}&limit=50`);
    assert.equal(r.status, 200, r.body);
    return r.json.events.map((e: { detail: unknown }) => ({ ...e, detail: typeof e.detail === 'string' ? JSON.parse(e.detail) : e.detail }));
  }

  /** The page's whole markup holds the secret nowhere (text, attributes, input values). */
  async function secretGone(page: Page, secret: string): Promise<void> {
    const found = await page.evaluate<boolean>(`(() => {
      const s = ${JSON.stringify(secret)};
      if (document.documentElement.outerHTML.includes(s)) return true;
      return [...document.querySelectorAll('input, textarea')].some((el) => el.value.includes(s));
    })()`);
    assert.equal(found, false, 'the secret is gone from the page');
  }

  before(async () => {
    lab = await startConsoleLab();
    ids.admin = (await lab.admin.call('GET', '/api/v1/me')).json.user.id;
    await signInAccounts(lab.admin, lab.d, [['vera', 'password-viewer'], ['lead', 'administrator'], ['runner', 'privileged-access-user']], clients, ids, passwords);
    for (const [name, address] of [['db-alpha', '127.0.4.1'], ['db-beta', '127.0.4.2']] as const) {
      const r = await lab.admin.call('POST', '/api/v1/devices', { hostname: name, address, connectivity: 'SSH:22' });
      assert.equal(r.status, 201, r.body);
      ids[name] = r.json.device.id;
    }
    const split = await lab.admin.call('POST', '/api/v1/credentials', { deviceId: ids['db-alpha'], username: 'pci_root', secret: SPLIT_SECRET, splitView: true });
    assert.equal(split.status, 201, split.body);
    ids.split = split.json.credential.id;
    const beta = await lab.admin.call('POST', '/api/v1/credentials', { deviceId: ids['db-beta'], username: 'beta_dba', secret: 'Beta-Secret-77' });
    assert.equal(beta.status, 201, beta.body);
    ids.beta = beta.json.credential.id;
    alphaGroup = { name: 'alpha-viewers', sessionAllowed: false, passwordViewAllowed: true, reasonRequired: true, userIds: [ids.admin, ids.vera], deviceIds: [ids['db-alpha']], credentialIds: [ids.split] };
    const g = await lab.admin.call('POST', '/api/v1/access-groups', alphaGroup);
    assert.equal(g.status, 201, g.body);
    ids.alphaGroup = g.json.group.id;
    const b = await lab.admin.call('POST', '/api/v1/access-groups', {
      name: 'beta-approval', sessionAllowed: false, passwordViewAllowed: true, approvalRequired: true, approverIds: [ids.lead], userIds: [ids.admin], deviceIds: [ids['db-beta']], credentialIds: [ids.beta],
    });
    assert.equal(b.status, 201, b.body);
  });
  after(async () => {
    await lab?.stop();
  });

  test('an administrator creates and edits a credential without ever seeing its secret, views it with a reason, and it hides itself after 30 s', async () => {
    const page = await signIn('admin', lab.adminPassword);
    assert.ok((await page.locator('#nav a').allTextContents()).includes('Credentials'));
    await page.locator('#nav a', { hasText: 'Credentials' }).click();
    await page.waitForURL(`${lab.origin}/console/credentials`);
    await row(page, 'pci_root', 'db-alpha').waitFor();
    assert.equal(await page.locator('#range').textContent(), '1–2 of 2');

    // Create: the device is searched on the server, the secret typed into a password field.
    await page.locator('#new-credential').click();
    await page.locator('#cred-device-q').fill('alpha');
    await page.locator('#cred-device-find').click();
    await page.locator('#cred-device option', { hasText: 'db-alpha (127.0.4.1)' }).waitFor({ state: 'attached' });
    await page.locator('#cred-device').selectOption({ label: 'db-alpha (127.0.4.1)' });
    await page.locator('#cred-username').fill('svc_backup');
    await page.locator('#cred-kind').selectOption('service-account');
    assert.equal(await page.locator('#cred-secret').getAttribute('type'), 'password');
    await page.locator('#cred-secret').fill(SECRET);
    await page.locator('#cred-submit').click();
    await page.locator('.toast', { hasText: 'Credential svc_backup created.' }).waitFor();
    await row(page, 'svc_backup', 'db-alpha').waitFor();
    assert.equal(await page.locator('#range').textContent(), '1–3 of 3');
    assert.match((await row(page, 'svc_backup', 'db-alpha').textContent()) ?? '', /Service account/);
    // Not in any group of the admin's yet: nothing to view.
    assert.equal(await row(page, 'svc_backup', 'db-alpha').locator('td.view-state').textContent(), 'Not available to you');
    assert.equal(await row(page, 'svc_backup', 'db-alpha').getByRole('button', { name: 'View password' }).count(), 0);
    await secretGone(page, SECRET);
    const created = (await clients.lead!.call('GET', '/api/v1/credentials?q=svc_backup')).json.credentials[0];
    ids.svc = created.id;
    assert.equal(JSON.stringify(created).includes(SECRET), false, 'the API never answers the secret either');

    // Edit without a new secret: the form shows none, and the old one stays.
    await row(page, 'svc_backup', 'db-alpha').getByRole('button', { name: 'Edit' }).click();
    assert.equal(await page.locator('#cred-secret').inputValue(), '', 'the secret field starts empty');
    assert.equal(await page.locator('#cred-secret').getAttribute('required'), null);
    await page.locator('#cred-extra').fill('nightly backups');
    await page.locator('#cred-submit').click();
    await page.locator('.toast', { hasText: 'Credential svc_backup saved.' }).waitFor();
    await secretGone(page, SECRET);
    const updates = await auditEvents('credential.update');
    assert.equal(updates[0]!.detail.valueChanged, false);

    // The group now holds it: the list says a reason is needed; the filter goes to the server.
    assert.equal((await clients.lead!.call('PUT', `/api/v1/access-groups/${ids.alphaGroup}`, { ...alphaGroup, credentialIds: [ids.split, ids.svc] })).status, 200);
    await page.locator('#credential-q').fill('svc');
    await page.locator('#credential-filter-submit').click();
    await waitUntil(page, `document.querySelectorAll('#credentials tbody tr').length === 1 && document.querySelector('#credentials td.view-state')?.textContent === 'Allowed with a reason'`);
    assert.equal(new URL(page.url()).search, '?q=svc');

    // View: a dialog asks why (required), then the secret with its countdown.
    await row(page, 'svc_backup', 'db-alpha').getByRole('button', { name: 'View password' }).click();
    await page.locator('#view').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#view-reason').getAttribute('required'), '');
    assert.deepEqual(await seriousViolations(page), [], 'the reason dialog');
    await page.locator('#view-submit').click();
    assert.equal(await page.locator('#reveal').count(), 0, 'no reason, no secret');
    await page.locator('#view-reason').fill(REASON);
    await page.locator('#view-submit').click();
    await page.locator('#revealed-secret').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#revealed-secret').textContent(), SECRET, 'the edit kept the secret');
    assert.equal(await page.locator('#reveal-part').textContent(), 'The whole secret.');
    assert.equal(await page.locator('#reveal-countdown').textContent(), 'Hides itself in 30 s');
    assert.equal(await page.locator('#view').count(), 0, 'the dialog closed');
    assert.deepEqual(await seriousViolations(page), [], 'the revealed secret');
    await page.locator('#reveal-copy').click();
    await page.locator('#reveal-copy', { hasText: 'Copied' }).waitFor();
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), SECRET);

    await page.clock.fastForward(10_000);
    // The page's clock also runs on its own: the checks above may have taken a few real seconds of it.
    await page.locator('#reveal-countdown', { hasText: /^Hides itself in (1[0-9]|20) s$/ }).waitFor();
    await page.clock.fastForward(20_000);
    await page.locator('#reveal').waitFor({ state: 'detached' });
    await secretGone(page, SECRET);

    // The audit trail has the view, by whom and why.
    const views = await auditEvents('vault.password_view');
    const view = views.find((e) => e.subject === `credential:${ids.svc}` && e.outcome === 'success');
    assert.ok(view, JSON.stringify(views));
    assert.equal(view.actor, 'admin');
    assert.equal(view.detail.reason, REASON);
    assert.equal(view.detail.part, 'whole');

    // Hide now: at once, and gone from the page.
    await row(page, 'svc_backup', 'db-alpha').getByRole('button', { name: 'View password' }).click();
    await page.locator('#view-reason').fill('second look at the rotation');
    await page.locator('#view-submit').click();
    await page.locator('#revealed-secret').waitFor({ state: 'visible' });
    await page.locator('#reveal-hide').click();
    assert.equal(await page.locator('#reveal').count(), 0);
    await secretGone(page, SECRET);
    assert.deepEqual(await seriousViolations(page), [], 'the credentials list');
  });

  test('where the group wants an approval, the page requests it and shows it waiting; approved, the password shows', async () => {
    const page = await signIn('admin', lab.adminPassword);
    await page.goto(`${lab.origin}/console/credentials?q=beta`);
    await row(page, 'beta_dba', 'db-beta').waitFor();
    assert.equal(await row(page, 'beta_dba', 'db-beta').locator('td.view-state').textContent(), 'Approval needed (approvals needed: 1)');
    await row(page, 'beta_dba', 'db-beta').getByRole('button', { name: 'Request approval' }).click();
    await page.locator('#approval').waitFor({ state: 'visible' });
    await page.locator('#approval-reason').fill('schema migration tonight');
    await page.locator('#approval-submit').click();
    await page.locator('#view-outcome-text').waitFor();
    assert.match((await page.locator('#view-outcome-text').textContent()) ?? '', /^Your request #\d+ waits for approval \(0 of 1\)\.$/);
    await page.locator('#view-outcome-close').click();
    await waitUntil(page, `document.querySelector('#credentials td.view-state')?.textContent === 'Approval requested (approvals needed: 1)'`);
    assert.equal(await row(page, 'beta_dba', 'db-beta').getByRole('button', { name: 'View password' }).count(), 0);

    const inbox = await clients.lead!.call('GET', '/api/v1/access-requests/inbox');
    const request = inbox.json.requests.find((r: { credentialId: number }) => r.credentialId === ids.beta);
    assert.equal(request.reason, 'schema migration tonight');
    assert.equal((await clients.lead!.call('POST', `/api/v1/access-requests/${request.id}/approve`, { comment: 'go' })).status, 200);

    await page.reload();
    await row(page, 'beta_dba', 'db-beta').locator('td.view-state', { hasText: 'Allowed' }).waitFor();
    await row(page, 'beta_dba', 'db-beta').getByRole('button', { name: 'View password' }).click();
    await page.locator('#view-reason').fill('migration step 2');
    await page.locator('#view-submit').click();
    assert.equal(await page.locator('#revealed-secret').textContent(), 'Beta-Secret-77');
  });

  test('a split (PCI) credential shows the administrator one half (by keyboard alone), and the password viewer the other, each said as such', async () => {
    const page = await signIn('admin', lab.adminPassword);
    await page.goto(`${lab.origin}/console/credentials?q=pci`);
    // By keyboard alone: the dialog takes the focus to the reason, Escape leaves it, Tab and Enter get through.
    const view = row(page, 'pci_root', 'db-alpha').getByRole('button', { name: 'View password' });
    await view.focus();
    await page.keyboard.press('Enter');
    await page.locator('#view').waitFor({ state: 'visible' });
    await waitUntil(page, `document.activeElement?.id === 'view-reason'`);
    await page.keyboard.press('Escape');
    await page.locator('#view').waitFor({ state: 'detached' });
    await view.focus();
    await page.keyboard.press('Enter');
    await waitUntil(page, `document.activeElement?.id === 'view-reason'`);
    await page.keyboard.type('PCI key ceremony');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.locator('#revealed-secret').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#revealed-secret').textContent(), SPLIT_SECRET.slice(0, 8));
    assert.equal(await page.locator('#reveal-part').textContent(), 'First half only (split custody: another person holds the second half).');
    await waitUntil(page, `document.activeElement?.id === 'reveal-heading'`);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement.id'), 'reveal-hide');
    await page.keyboard.press('Enter');
    await page.locator('#reveal').waitFor({ state: 'detached' });
    await secretGone(page, SPLIT_SECRET.slice(0, 8));
    const reasons = (await auditEvents('vault.password_view')).filter((e) => e.subject === `credential:${ids.split}`).map((e) => e.detail.reason);
    assert.deepEqual(reasons, ['PCI key ceremony']);
  });

  test('protected files: uploaded to a device, listed on the server’s pages, downloaded with a reason the audit keeps', async () => {
    const page = await signIn('admin', lab.adminPassword);
    await page.goto(`${lab.origin}/console/credentials`);
    await page.locator('#tab-files').click();
    await page.waitForURL(`${lab.origin}/console/credentials/files`);
    await page.locator('#upload-file').click();
    await page.locator('#file-input').setInputFiles({ name: 'alpha-runbook.txt', mimeType: 'text/plain', buffer: Buffer.from('restore: pg_restore -d main') });
    await page.locator('#file-name').fill('alpha runbook');
    await page.locator('#file-device-q').fill('db-alpha');
    await page.locator('#file-device-find').click();
    await page.locator('#file-device option', { hasText: 'db-alpha' }).waitFor({ state: 'attached' });
    await page.locator('#file-device').selectOption({ label: 'db-alpha (127.0.4.1)' });
    await page.locator('#file-submit').click();
    await page.locator('.toast', { hasText: 'File alpha runbook stored.' }).waitFor();
    const fileRow = page.locator('#files tr[data-file="alpha runbook"]');
    await fileRow.waitFor();
    assert.match((await fileRow.textContent()) ?? '', /alpha-runbook\.txt.*27 bytes.*db-alpha/);
    assert.equal(await fileRow.locator('td.access').textContent(), 'Allowed');
    assert.deepEqual(await seriousViolations(page), [], 'the protected files page');

    await fileRow.getByRole('button', { name: 'Download' }).click();
    await page.locator('#download-reason').fill('disaster recovery drill');
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download-submit').click()]);
    assert.equal(download.suggestedFilename(), 'alpha-runbook.txt');
    assert.equal(readFileSync((await download.path())!, 'utf8'), 'restore: pg_restore -d main');
    const opened = (await auditEvents('vault.protected_view')).find((e) => e.subject === 'alpha runbook');
    assert.equal(opened?.detail.reason, 'disaster recovery drill');
  });

  test('a password viewer, in Spanish: sees what their groups cover, views the other half, downloads a file; no English on the way', async () => {
    const texts: string[] = [];
    const seen = async (page: Page) => texts.push(await page.locator('#console').innerText());
    const page = await signIn('vera', passwords.vera!, 'es');
    assert.deepEqual(await page.locator('#nav a').allTextContents(), ['Inicio', 'Mis accesos', 'Credenciales']);
    await page.locator('#nav a', { hasText: 'Credenciales' }).click();
    await row(page, 'pci_root', 'db-alpha').waitFor();
    // Only what vera's group covers (db-alpha's two credentials), never db-beta's; no create or edit.
    assert.deepEqual(
      await page.locator('#credentials tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-credential'))),
      ['pci_root@db-alpha', 'svc_backup@db-alpha'],
    );
    assert.equal(await page.locator('#new-credential').count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Editar' }).count(), 0);
    assert.equal(await row(page, 'pci_root', 'db-alpha').locator('td.view-state').textContent(), 'Permitida con un motivo');
    await seen(page);

    await row(page, 'pci_root', 'db-alpha').getByRole('button', { name: 'Ver contraseña' }).click();
    await page.locator('#view').waitFor({ state: 'visible' });
    texts.push(await page.locator('#view').innerText());
    await page.locator('#view-reason').fill('ceremonia de claves PCI');
    await page.locator('#view-submit').click();
    await page.locator('#revealed-secret').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#revealed-secret').textContent(), SPLIT_SECRET.slice(8), 'the other half');
    assert.equal(await page.locator('#reveal-part').textContent(), 'Solo la segunda mitad (custodia dividida: otra persona tiene la primera).');
    assert.equal(await page.locator('#reveal-countdown').textContent(), 'Se oculta en 30 s');
    await seen(page);
    await page.clock.fastForward(31_000);
    await page.locator('#reveal').waitFor({ state: 'detached' });
    await secretGone(page, SPLIT_SECRET.slice(8));
    const part = (await auditEvents('vault.password_view')).find((e) => e.actor === 'vera' && e.outcome === 'success');
    assert.deepEqual([part?.detail.part, part?.detail.reason], ['second-half', 'ceremonia de claves PCI']);

    await page.locator('#tab-files').click();
    const fileRow = page.locator('#files tr[data-file="alpha runbook"]');
    await fileRow.waitFor();
    assert.equal(await page.locator('#upload-file').count(), 0, 'a password viewer uploads nothing');
    await seen(page);
    await fileRow.getByRole('button', { name: 'Descargar' }).click();
    texts.push(await page.locator('#download').innerText());
    await page.locator('#download-reason').fill('simulacro de recuperación');
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download-submit').click()]);
    assert.equal(readFileSync((await download.path())!, 'utf8'), 'restore: pg_restore -d main');
    await page.locator('.toast', { hasText: 'alpha runbook descargado.' }).waitFor();
    await seen(page);

    assert.deepEqual(englishLeftovers(texts, 'es'), []);
    assert.deepEqual(await seriousViolations(page), []);
  });

  test('a profile without devices.read or passwords.view sees no Credentials item, and the API refuses it', async () => {
    const runner = clients.runner!;
    assert.equal((await runner.call('GET', '/api/v1/credentials')).status, 403);
    assert.equal((await runner.call('GET', '/api/v1/protected')).status, 403);
    assert.equal((await runner.call('POST', `/api/v1/credentials/${ids.svc}/view`, { reason: 'just curious' })).status, 403);
    assert.equal((await runner.call('POST', '/api/v1/credentials', { deviceId: ids['db-alpha'], username: 'x', secret: 'y' })).status, 403);
    const page = await signIn('runner', passwords.runner!);
    assert.deepEqual(await page.locator('#nav a').allTextContents(), ['Home', 'My access']);
    await page.goto(`${lab.origin}/console/credentials`);
    await page.locator('#page h1', { hasText: 'This page does not exist.' }).waitFor();
    // The password viewer may not list every credential or create one either (a new session: the browser ended the old one).
    const vera = new ApiClient(lab.d);
    assert.equal((await vera.login('vera', passwords.vera!)).status, 200);
    assert.equal((await vera.call('GET', '/api/v1/credentials')).status, 403);
    assert.equal((await vera.call('POST', '/api/v1/credentials', { deviceId: ids['db-alpha'], username: 'x', secret: 'y' })).status, 403);
  });
});
