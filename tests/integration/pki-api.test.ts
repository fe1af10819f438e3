// Trusted CAs and CRLs installed through the API (what the console's Certificates page sends): the file's bytes
// as base64, PEM or DER; a second key under an installed CA's name is refused (409, nothing installed) unless
// forced; a CRL must be signed by an installed CA; an auditor may read but not install; the TLS handshake
// advertises a CA installed this way at once. The bindings list pages on the server.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { advertisedCaNames, createCa, createCrl, der, insertBinding, issueLeaf, type Issued } from '../helpers/pki.js';
import { daemonWithAdmin, signInAccounts, type ApiClient, type RunningDaemon } from '../helpers/web-daemon.js';
import type { InitializedHome } from '../helpers/fixtures.js';

const b64 = (data: string | Buffer) => Buffer.from(data).toString('base64');

describe('PKI API: installing CAs and CRLs', () => {
  let home: InitializedHome;
  let d: RunningDaemon;
  let admin: ApiClient;
  const clients: Record<string, ApiClient> = {};
  const ids: Record<string, number> = {};
  let root: Issued;
  let issuing: Issued;

  before(async () => {
    ({ home, d, admin } = await daemonWithAdmin());
    await signInAccounts(admin, d, [['audit', 'auditor']] as const, clients, ids);
    root = await createCa('API Root CA');
    issuing = await createCa('API Issuing CA', { parent: root });
  });
  after(async () => {
    await d?.stop();
    home?.cleanup();
  });

  test('a PEM chain installs (201, each CA listed), DER installs too, and the list shows them', async () => {
    const r = await admin.call('POST', '/api/v1/pki/cas', { file: b64(root.pem + issuing.pem) });
    assert.equal(r.status, 201, r.body);
    assert.deepEqual(r.json.cas.map((c: { subject: string }) => c.subject).sort(), ['CN=API Issuing CA, O=Warden Test', 'CN=API Root CA, O=Warden Test']);
    const other = await createCa('API DER Root');
    const d2 = await admin.call('POST', '/api/v1/pki/cas', { file: b64(der(other)) });
    assert.equal(d2.status, 201, d2.body);
    assert.equal(d2.json.cas[0].subject, 'CN=API DER Root, O=Warden Test');
    const list = (await clients.audit!.call('GET', '/api/v1/pki/cas')).json.cas as { subject: string; active: boolean }[];
    assert.deepEqual(list.map((c) => c.subject).sort(), ['CN=API DER Root, O=Warden Test', 'CN=API Issuing CA, O=Warden Test', 'CN=API Root CA, O=Warden Test']);
    const events = (await clients.audit!.call('GET', '/api/v1/audit?type=pki.ca_install&limit=10')).json.events as { outcome: string; actor: string }[];
    assert.ok(events.length >= 2 && events.every((e) => e.outcome === 'success' && e.actor === 'admin'));
  });

  test('the TLS handshake asks for certificates of a CA installed through the API at once', async () => {
    const names = await advertisedCaNames(d.httpsPort);
    assert.ok(names.some((n) => n.includes('API Issuing CA')), names.join('; '));
  });

  test('another key under an installed name is refused with 409 and nothing installed, unless forced', async () => {
    const impostor = await createCa('API Root CA');
    const r = await admin.call('POST', '/api/v1/pki/cas', { file: b64(impostor.pem) });
    assert.equal(r.status, 409, r.body);
    assert.equal(r.json.error, 'CA_SUBJECT_CONFLICT');
    assert.equal(r.json.details.collisions[0].collidesWith.subject, 'CN=API Root CA, O=Warden Test');
    assert.equal((await admin.call('GET', '/api/v1/pki/cas')).json.cas.length, 3);
    const forced = await admin.call('POST', '/api/v1/pki/cas', { file: b64(impostor.pem), force: true });
    assert.equal(forced.status, 201, forced.body);
    assert.equal((await admin.call('GET', '/api/v1/pki/cas')).json.cas.length, 4);
  });

  test('not a certificate, not base64, an end-entity certificate: 400 with the reason, nothing installed', async () => {
    const before = (await admin.call('GET', '/api/v1/pki/cas')).json.cas.length;
    const garbage = await admin.call('POST', '/api/v1/pki/cas', { file: b64('-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n') });
    assert.equal(garbage.status, 400, garbage.body);
    assert.equal((await admin.call('POST', '/api/v1/pki/cas', { file: 'this is not base64!' })).status, 400);
    const leaf = await issueLeaf(issuing, { commonName: 'not a ca', email: 'x@example.test' });
    const notCa = await admin.call('POST', '/api/v1/pki/cas', { file: b64(leaf.pem) });
    assert.equal(notCa.status, 400);
    assert.match(notCa.json.message, /not a CA certificate/);
    assert.equal((await admin.call('GET', '/api/v1/pki/cas')).json.cas.length, before);
  });

  test('a CRL signed by an installed CA installs; one from an unknown CA is refused', async () => {
    const leaf = await issueLeaf(issuing, { commonName: 'revoked one', email: 'r@example.test' });
    const crl = await createCrl(issuing, [leaf]);
    const r = await admin.call('POST', '/api/v1/pki/crls', { file: b64(crl) });
    assert.equal(r.status, 201, r.body);
    assert.deepEqual([r.json.crl.subject, r.json.crl.entries], ['CN=API Issuing CA, O=Warden Test', 1]);
    const stranger = await createCa('API Stranger');
    const refused = await admin.call('POST', '/api/v1/pki/crls', { file: b64(await createCrl(stranger, [])) });
    assert.equal(refused.status, 400, refused.body);
  });

  test('an auditor reads the CAs but may not install a CA or a CRL', async () => {
    assert.equal((await clients.audit!.call('POST', '/api/v1/pki/cas', { file: b64((await createCa('Auditor CA')).pem) })).status, 403);
    assert.equal((await clients.audit!.call('POST', '/api/v1/pki/crls', { file: b64(await createCrl(issuing, [])) })).status, 403);
  });

  test('the bindings list pages on the server, with the total, and keeps its filters', async () => {
    // Three bindings written as a certificate login writes them (the login itself is certificate-login.test's).
    for (let i = 0; i < 3; i++) {
      const leaf = await issueLeaf(issuing, { commonName: `paged ${i}`, email: `audit@example.test` });
      await insertBinding(path.join(home.home, 'warden.db'), { userId: ids.audit!, leaf, issuer: issuing, fingerprint: `fp-${i}`, subject: `CN=paged ${i}`, email: 'audit@example.test', ...(i === 0 ? { revokedBy: 'admin' } : {}) });
    }
    const first = await admin.call('GET', '/api/v1/certificates?limit=2&offset=0');
    assert.equal(first.status, 200, first.body);
    assert.equal(first.json.total, 3);
    assert.deepEqual(first.json.certificates.map((c: { subject: string }) => c.subject), ['CN=paged 0', 'CN=paged 1']);
    const second = await admin.call('GET', '/api/v1/certificates?limit=2&offset=2');
    assert.deepEqual([second.json.total, second.json.certificates.map((c: { subject: string }) => c.subject)], [3, ['CN=paged 2']]);
    const bound = await admin.call('GET', '/api/v1/certificates?status=bound&user=audit');
    assert.deepEqual([bound.json.total, bound.json.certificates.length], [2, 2]);
    assert.equal((await admin.call('GET', '/api/v1/certificates?limit=501')).status, 400);
  });
});
