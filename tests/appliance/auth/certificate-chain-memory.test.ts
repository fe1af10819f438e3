// The intermediates a browser sent at a web certificate login, remembered with the binding for the proxies
// (SSH carries the smart card's key, never the chain): only those the chain went through, refreshed at each web
// login, and judged under the web's rules when a proxy validates the bound certificate — validity, the store
// anchor active, the anchor's CRL, the store's own copy of a CA first.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { services, strongPassword, type Services } from '../../helpers/fixtures.js';
import { createCa, createCrl, der, issueLeaf, type Issued } from '../../helpers/pki.js';
import { sshBlobOfCertificate } from '../../../appliance/auth/index.js';
import { parseCertificates } from '../../../appliance/pki/index.js';
import type { UserRow } from '../../../appliance/store/index.js';

const DAY = 86_400_000;
const orbit = { username: 'orbit', ip: null };
const IP = '127.0.0.1';

describe('intermediates remembered from the web login, for the SSH smart-card login', () => {
  let s: Services;
  let n = 0;

  before(async () => {
    s = await services();
    // Certificates are made with the real clock; the services' clock must agree.
    s.clock.now = Date.now();
  });
  after(async () => s?.close());

  async function newUser(): Promise<UserRow> {
    n++;
    const username = `chain${n}`;
    const { user } = await s.users.create(orbit, { username, fullName: username, email: `${username}@example.test`, profile: 'privileged-access-user', password: strongPassword() });
    return user;
  }

  /** A root installed in the store and an intermediate under it that is not; a leaf from the intermediate bound to a new user. */
  async function pki(name: string, opts: { interNotAfter?: Date } = {}) {
    const root = await createCa(`${name} Root`);
    const inter = await createCa(`${name} Issuing`, { parent: root, ...(opts.interNotAfter ? { notAfter: opts.interNotAfter } : {}) });
    await s.trust.install(root.pem, orbit);
    const user = await newUser();
    const leaf = await issueLeaf(inter, { commonName: user.username, email: user.email });
    return { root, inter, leaf, user };
  }

  const remembered = async (user: UserRow) => {
    const pem = (await s.store.repos.userCertificates.boundFor(user.id))!.chain_pem;
    return pem === null ? null : parseCertificates(pem).map((c) => c.fingerprint256);
  };
  const fingerprint = (c: Issued) => new X509Certificate(der(c)).fingerprint256;
  const keyVerdict = (user: UserRow, leaf: Issued) => s.certificates.keyVerdict(user, IP, sshBlobOfCertificate(new X509Certificate(der(leaf)))!);

  test('only the intermediates the chain went through are remembered; with them the bound key passes, without them CERT_UNTRUSTED', async () => {
    const { inter, leaf, user } = await pki('Mem');
    const stranger = await createCa('Mem Stranger');
    await s.certificates.verify(user, { leaf: der(leaf), chain: [der(stranger), der(inter), der(leaf)] }, IP);
    assert.deepEqual(await remembered(user), [fingerprint(inter)]);
    assert.equal((await keyVerdict(user, leaf)).ok, true);

    // The binding as it was before this change (no chain): the proxy cannot build the chain.
    const bound = (await s.store.repos.userCertificates.boundFor(user.id))!;
    await s.store.repos.userCertificates.update(bound.id, { chain_pem: null });
    const v = await keyVerdict(user, leaf);
    assert.equal(v.ok, false);
    assert.equal(!v.ok && v.code, 'CERT_UNTRUSTED');
    // The next web login that sends the intermediate remembers it again.
    await s.certificates.verify(user, { leaf: der(leaf), chain: [der(inter)] }, IP);
    assert.deepEqual(await remembered(user), [fingerprint(inter)]);
  });

  test('once the admin imports the intermediate, a web login that sends none leaves nothing to remember: the store builds the chain', async () => {
    const { inter, leaf, user } = await pki('Imp');
    await s.certificates.verify(user, { leaf: der(leaf), chain: [der(inter)] }, IP);
    await s.trust.install(inter.pem, orbit);
    await s.certificates.verify(user, { leaf: der(leaf), chain: [] }, IP);
    assert.equal(await remembered(user), null);
    assert.equal((await keyVerdict(user, leaf)).ok, true);
  });

  test('a remembered intermediate past its validity refuses the key: CERT_CA_EXPIRED', async () => {
    const { inter, leaf, user } = await pki('Exp', { interNotAfter: new Date(Date.now() + 2 * DAY) });
    await s.certificates.verify(user, { leaf: der(leaf), chain: [der(inter)] }, IP);
    assert.equal((await keyVerdict(user, leaf)).ok, true);
    const saved = s.clock.now;
    s.clock.advance(3 * DAY);
    try {
      const v = await keyVerdict(user, leaf);
      assert.equal(!v.ok && v.code, 'CERT_CA_EXPIRED');
      assert.match(!v.ok ? v.reason : '', /intermediate CN=Exp Issuing, O=Warden Test is outside its validity/);
    } finally {
      s.clock.now = saved;
    }
  });

  test("a remembered intermediate on its root's CRL refuses the key and the forced-certificate gate: CERT_REVOKED", async () => {
    const { root, inter, leaf, user } = await pki('Rev');
    await s.certificates.verify(user, { leaf: der(leaf), chain: [der(inter)] }, IP);
    const fp = (await s.store.repos.userCertificates.boundFor(user.id))!.fingerprint;
    await s.settings.update({ mfa: { forceCertificateForProxy: true } }, 'admin', null);
    try {
      assert.deepEqual(await s.certificates.proxySessionAllowed(user.id, { method: 'password+certificate', certificateFingerprint: fp }), { allowed: true });
      await s.trust.installCrl(await createCrl(root, [inter]), orbit);
      const v = await keyVerdict(user, leaf);
      assert.equal(!v.ok && v.code, 'CERT_REVOKED');
      const gate = await s.certificates.proxySessionAllowed(user.id, { method: 'password+certificate', certificateFingerprint: fp });
      assert.equal(gate.allowed, false);
      assert.equal(!gate.allowed && gate.code, 'CERT_REVOKED');
    } finally {
      await s.settings.update({ mfa: { forceCertificateForProxy: false } }, 'admin', null);
    }
  });

  test("the store's copy of a CA comes first: imported and inactivated, it refuses the key whatever the browser sent", async () => {
    const { inter, leaf, user } = await pki('Inact');
    await s.certificates.verify(user, { leaf: der(leaf), chain: [der(inter)] }, IP);
    const [installed] = await s.trust.install(inter.pem, orbit);
    await s.trust.setActive(installed!.id, false, orbit);
    const v = await keyVerdict(user, leaf);
    assert.equal(!v.ok && v.code, 'CERT_CA_INACTIVE');
  });
});
