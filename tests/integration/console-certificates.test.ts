// The console's Certificates page in Debian's Chromium against the real web daemon: an administrator installs a
// CA chain from a file, sees a CA that expires soon flagged, meets the second-key-under-one-name refusal and
// installs anyway on purpose, inactivates a CA, uploads a CRL; revokes a bound certificate (the account stays
// active) and finds the revocation in the usage log and its CSV; an auditor reads it all without a way to change
// it; a privileged user does not see the page; in Polish no English is left; axe-core finds no serious violation.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { advertisedCaNames, createCa, createCrl, der, insertBinding, issueLeaf, type Issued } from '../helpers/pki.js';
import { englishLeftovers, seriousViolations, startConsoleLab, type ConsoleLab } from '../helpers/console-browser.js';
import { signInAccounts, type ApiClient } from '../helpers/web-daemon.js';

const DAY = 86_400_000;

describe('console: certificates', () => {
  let lab: ConsoleLab;
  const clients: Record<string, ApiClient> = {};
  const ids: Record<string, number> = {};
  const passwords: Record<string, string> = {};
  let root: Issued;
  let issuing: Issued;

  before(async () => {
    lab = await startConsoleLab();
    // One active session per account: the browser signs in as admin and reader, the API reads go through checker.
    await signInAccounts(lab.admin, lab.d, [['reader', 'auditor'], ['checker', 'auditor'], ['ops', 'privileged-access-user'], ['anna', 'privileged-access-user']] as const, clients, ids, passwords);
    root = await createCa('Console Root CA');
    issuing = await createCa('Console Issuing CA', { parent: root });
  });
  after(async () => lab?.stop());

  const cas = async () => (await clients.checker!.call('GET', '/api/v1/pki/cas')).json.cas as { subject: string; active: boolean }[];

  test('an administrator installs a chain from a file, sees expiry, installs a second key only on purpose, inactivates a CA, uploads a CRL', async () => {
    const page = await lab.signedIn('admin', lab.adminPassword);
    await page.locator('#nav a', { hasText: 'Certificates' }).click();
    await page.waitForURL(`${lab.origin}/console/certificates`);
    await page.locator('#cas .empty').waitFor();

    await page.locator('#ca-install-file').setInputFiles({ name: 'chain.pem', mimeType: 'application/x-pem-file', buffer: Buffer.from(root.pem + issuing.pem) });
    await page.locator('#ca-install-submit').click();
    await page.locator('.toast', { hasText: 'Installed: ' }).waitFor();
    await page.locator('#ca-list tr[data-subject="CN=Console Issuing CA, O=Warden Test"]').waitFor();
    assert.equal(await page.locator('#ca-list tr[data-subject="CN=Console Root CA, O=Warden Test"] td').first().textContent(), 'itself (root)');

    // A DER file of a CA that ends in ten days: flagged.
    const soon = await createCa('Console Short CA', { notAfter: new Date(Date.now() + 10 * DAY - 60_000) });
    await page.locator('#ca-install-file').setInputFiles({ name: 'short.der', mimeType: 'application/pkix-cert', buffer: der(soon) });
    await page.locator('#ca-install-submit').click();
    await page.locator('#ca-list tr[data-subject="CN=Console Short CA, O=Warden Test"] .badge', { hasText: 'expires in 10 days' }).waitFor();

    // Another key under the root's name: refused, explained, installed only when asked again.
    const impostor = await createCa('Console Root CA');
    await page.locator('#ca-install-file').setInputFiles({ name: 'other.pem', mimeType: 'application/x-pem-file', buffer: Buffer.from(impostor.pem) });
    await page.locator('#ca-install-submit').click();
    await page.locator('#ca-conflict').waitFor();
    assert.match((await page.locator('#ca-conflict-text').textContent()) ?? '', /^CN=Console Root CA, O=Warden Test is already trusted with another key/);
    assert.equal((await cas()).length, 3, 'nothing installed yet');
    await page.locator('#ca-force').click();
    await page.locator('#ca-conflict').waitFor({ state: 'detached' });
    assert.equal((await cas()).length, 4);

    // Inactivate the issuing CA: its status says so, and the live TLS handshake no longer names it.
    await page.locator('#ca-list tr[data-subject="CN=Console Issuing CA, O=Warden Test"]').getByRole('button', { name: 'Inactivate' }).click();
    await page.locator('#ca-list tr[data-subject="CN=Console Issuing CA, O=Warden Test"] td.status', { hasText: 'Inactive' }).waitFor();
    assert.equal((await cas()).find((c) => c.subject.startsWith('CN=Console Issuing CA'))!.active, false);
    assert.ok(!(await advertisedCaNames(lab.d.httpsPort)).some((n) => n.includes('Console Issuing CA')));
    await page.locator('#ca-list tr[data-subject="CN=Console Issuing CA, O=Warden Test"]').getByRole('button', { name: 'Activate' }).click();
    await page.locator('#ca-list tr[data-subject="CN=Console Issuing CA, O=Warden Test"] td.status', { hasText: 'Active' }).waitFor();

    const leaf = await issueLeaf(issuing, { commonName: 'revoked by crl', email: 'r@example.test' });
    await page.locator('#crl-upload-file').setInputFiles({ name: 'issuing.crl', mimeType: 'application/pkix-crl', buffer: Buffer.from(await createCrl(issuing, [leaf])) });
    await page.locator('#crl-upload-submit').click();
    await page.locator('.toast', { hasText: 'Revocation list of CN=Console Issuing CA, O=Warden Test installed: 1 revoked.' }).waitFor();

    // A file that is no certificate: the reason, and nothing installed.
    await page.locator('#ca-install-file').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
    await page.locator('#ca-install-submit').click();
    await page.locator('#ca-install [role="alert"]').waitFor();
    assert.equal((await cas()).length, 4);
    assert.deepEqual(await seriousViolations(page), []);
    await page.context().close();
  });

  test('revoking a bound certificate leaves the account active; the usage log and its CSV show it', async () => {
    // Two bindings of anna's as a certificate login writes them (the login itself is certificate-login.test's).
    for (const [i, status] of [[0, 'revoked'], [1, 'bound']] as const) {
      const leaf = await issueLeaf(issuing, { commonName: `anna ${i}`, email: 'anna@example.test' });
      await insertBinding(path.join(lab.home.home, 'warden.db'), { userId: ids.anna!, leaf, issuer: issuing, fingerprint: `console-fp-${i}`, subject: `CN=anna ${i}`, email: 'anna@example.test', ...(status === 'revoked' ? { revokedBy: 'admin' } : {}) });
    }
    const page = await lab.signedIn('admin', lab.adminPassword, { path: '/console/certificates' });
    await page.locator('#binding-list').waitFor();
    await page.locator('#binding-status').selectOption('bound');
    await page.locator('#binding-user').fill('anna');
    await page.locator('#binding-filter').click();
    await page.locator('#binding-list tbody tr').first().waitFor();
    assert.deepEqual(await page.locator('#binding-list tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-status'))), ['bound']);
    await page.locator('#binding-list tr[data-username="anna"]').getByRole('button', { name: 'Revoke' }).click();
    assert.match((await page.locator('#revoke-text').textContent()) ?? '', /The account stays active/);
    await page.locator('#revoke-yes').click();
    await page.locator('.toast', { hasText: 'Certificate of anna revoked.' }).waitFor();
    await page.locator('#binding-list').waitFor({ state: 'detached' });
    const anna = (await clients.checker!.call('GET', `/api/v1/users/${ids.anna}`)).json.user;
    assert.equal(anna.status, 'active', 'revoking a certificate never disables the account');

    await page.locator('#usage-user').fill('anna');
    await page.locator('#usage-filter').click();
    await page.locator('#usage-list tr[data-event="revoke"]').waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#usage-csv').click()]);
    const csv = readFileSync((await download.path())!, 'utf8').trim().split('\r\n');
    assert.equal(csv[0], 'at,event,username,subject,fingerprint,code,ip');
    assert.ok(csv.slice(1).some((l) => l.includes(',revoke,anna,')), csv.join('\n'));
    assert.ok(csv.slice(1).every((l) => l.includes(',anna,')), 'the CSV keeps the filter');
    await page.context().close();
  });

  test('an auditor reads the page without a way to change it, and the API refuses; a privileged user does not see it', async () => {
    const page = await lab.signedIn('reader', passwords.reader!, { path: '/console/certificates' });
    await page.locator('#ca-list').waitFor();
    assert.equal(await page.locator('#ca-install').count(), 0);
    assert.equal(await page.locator('#crl-upload').count(), 0);
    assert.equal(await page.locator('#ca-list button').count(), 0);
    assert.equal(await page.locator('#binding-list button').count(), 0);
    assert.equal((await clients.checker!.call('POST', '/api/v1/pki/cas', { file: Buffer.from(root.pem).toString('base64') })).status, 403);
    await page.context().close();

    const ops = await lab.signedIn('ops', passwords.ops!);
    assert.equal(await ops.locator('#nav a', { hasText: 'Certificates' }).count(), 0);
    await ops.context().close();
  });

  test('in Polish the page has no English left', async () => {
    const page = await lab.signedIn('admin', lab.adminPassword, { locale: 'pl-PL', path: '/console/certificates' });
    await page.locator('#ca-list').waitFor();
    await page.locator('#binding-list').waitFor();
    await page.locator('#usage-filter').click();
    await page.locator('#usage-list').waitFor();
    const texts = [await page.locator('body').innerText()];
    await page.locator('#binding-list tr[data-username="anna"]').first().waitFor();
    assert.deepEqual(englishLeftovers(texts, 'pl', ['console.certificates.', 'console.nav.', 'console.paging.']), []);
    assert.deepEqual(await seriousViolations(page), []);
    await page.context().close();
  });
});
