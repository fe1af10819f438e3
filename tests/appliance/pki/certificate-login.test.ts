// Certificate login to the letter: every rule, every hostile certificate, binding and revocation — against
// the real trust store on a real SQLite file. The clock is the real one: the certificates are made now.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import type { Kysely } from 'kysely';
import { services, strongPassword, type Services } from '../../helpers/fixtures.js';
import { createCa, createCrl, der, issueLeaf, EKU_SERVER_AUTH, type Issued } from '../../helpers/pki.js';
import { AuthError, WardenError } from '../../../appliance/errors/index.js';
import type { PresentedCertificate } from '../../../appliance/pki/index.js';
import { MIGRATIONS, type UserRow } from '../../../appliance/store/index.js';

const DAY = 86_400_000;
const orbit = { username: 'orbit', ip: null };

describe('certificate login', () => {
  let s: Services;
  let root: Issued;
  let inter: Issued;
  let other: Issued;
  let unknown: Issued;
  let n = 0;

  before(async () => {
    s = await services();
    // Certificates are made with the real clock; the services' clock must agree.
    s.clock.now = Date.now();
    root = await createCa('Test Root');
    inter = await createCa('Test Issuing CA', { parent: root });
    other = await createCa('Other Root');
    unknown = await createCa('Unknown Root');
    // Installed child first: the store links it to its parent whatever the order.
    await s.trust.install(inter.pem + root.pem, orbit);
    await s.trust.install(Buffer.from(other.cert.rawData), orbit); // DER
  });
  after(async () => s?.close());

  async function newUser(email?: string): Promise<UserRow> {
    n++;
    const username = `cert${n}`;
    const { user } = await s.users.create(orbit, { username, fullName: `Cert ${n}`, email: email ?? `${username}@example.test`, profile: 'privileged-access-user', password: strongPassword() });
    return user;
  }

  function presented(leaf: Issued | Buffer | undefined, chain: Issued[] = []): PresentedCertificate {
    return { leaf: leaf === undefined ? undefined : Buffer.isBuffer(leaf) ? leaf : der(leaf), chain: chain.map(der) };
  }

  async function refused(user: UserRow, p: PresentedCertificate, code: string) {
    await assert.rejects(s.certificates.verify(user, p, '192.0.2.10'), (e: unknown) => {
      assert.ok(e instanceof AuthError, String(e));
      assert.equal(e.code, code);
      return true;
    });
    const [row] = await s.store.repos.auditEvents.query({ type: 'auth.mfa', subject: user.username, limit: 1 });
    assert.equal(row?.code, code, 'the audit row carries the precise reason');
    const [usage] = await s.certificates.usage({ userId: user.id, limit: 1 });
    assert.equal(usage?.event, 'failure');
    assert.equal(usage?.code, code, 'the usage log carries the reason');
  }

  test('a valid certificate from the intermediate is accepted and binds itself', async () => {
    const user = await newUser();
    const leaf = await issueLeaf(inter, { commonName: user.username, email: user.email });
    const r = await s.certificates.verify(user, presented(leaf), '192.0.2.10');
    assert.equal(r.bound, true);
    const [b] = await s.certificates.list({ userId: user.id });
    assert.equal(b?.status, 'bound');
    assert.equal(b?.fingerprint, r.fingerprint);
    const again = await s.certificates.verify(user, presented(leaf), '192.0.2.10');
    assert.equal(again.bound, false, 'the second use does not bind again');
    const events = (await s.certificates.usage({ userId: user.id })).map((e) => e.event).sort();
    assert.deepEqual(events, ['bind', 'use', 'use']);
  });

  const hostile: [string, (u: UserRow) => Promise<PresentedCertificate>, string][] = [
    ['no certificate at all', async () => presented(undefined), 'CERT_MISSING'],
    ['garbage bytes', async () => presented(randomBytes(900)), 'CERT_MALFORMED'],
    ['a 1 MB certificate', async (u) => presented(await issueLeaf(inter, { commonName: u.username, email: u.email, padBytes: 1024 * 1024 })), 'CERT_MALFORMED'],
    ['an expired certificate', async (u) => presented(await issueLeaf(inter, { commonName: u.username, email: u.email, notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) })), 'CERT_EXPIRED'],
    ['a certificate not yet valid', async (u) => presented(await issueLeaf(inter, { commonName: u.username, email: u.email, notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 10 * DAY) })), 'CERT_NOT_YET_VALID'],
    [
      'a self-signed certificate with the same subject as a trusted CA',
      async (u) => presented(await issueLeaf(inter, { commonName: u.username, email: u.email, selfSignedAs: 'CN=Test Issuing CA, O=Warden Test' })),
      'CERT_SIGNATURE_INVALID',
    ],
    ['a certificate from an unknown CA', async (u) => presented(await issueLeaf(unknown, { commonName: u.username, email: u.email })), 'CERT_UNTRUSTED'],
    ['an EKU of serverAuth only', async (u) => presented(await issueLeaf(inter, { commonName: u.username, email: u.email, eku: [EKU_SERVER_AUTH] })), 'CERT_EKU'],
    ['an e-mail that is not the account\'s', async (u) => presented(await issueLeaf(inter, { commonName: u.username, email: 'someone-else@example.test' })), 'CERT_EMAIL_MISMATCH'],
    ['no e-mail at all', async (u) => presented(await issueLeaf(inter, { commonName: u.username })), 'CERT_EMAIL_MISMATCH'],
    ['a CA certificate presented as a client certificate', async () => presented(inter), 'CERT_NOT_END_ENTITY'],
  ];
  for (const [what, make, code] of hostile) {
    test(`${what} is refused with ${code}`, async () => {
      const user = await newUser();
      await refused(user, await make(user), code);
      assert.equal((await s.certificates.list({ userId: user.id })).length, 0, 'nothing was bound');
    });
  }

  test('an intermediate missing from the store and from the handshake: CERT_UNTRUSTED; sent by the client: accepted', async () => {
    const loose = await createCa('Loose Issuing CA', { parent: other });
    const user = await newUser();
    const leaf = await issueLeaf(loose, { commonName: user.username, email: user.email });
    await refused(user, presented(leaf), 'CERT_UNTRUSTED');
    const ok = await s.certificates.verify(user, presented(leaf, [loose]), '192.0.2.10');
    assert.equal(ok.bound, true);
  });

  test('a leaf revoked in an installed CRL: CERT_REVOKED', async () => {
    const user = await newUser();
    const leaf = await issueLeaf(inter, { commonName: user.username, email: user.email });
    const r = await s.trust.installCrl(await createCrl(inter, [leaf]), orbit);
    assert.equal(r.entries, 1);
    await refused(user, presented(leaf), 'CERT_REVOKED');
  });

  test('a CRL not signed by an installed CA is refused', async () => {
    await assert.rejects(s.trust.installCrl(await createCrl(unknown, []), orbit), /not signed by an installed CA/);
    await assert.rejects(s.trust.installCrl('garbage', orbit), /CRL/);
  });

  test('the e-mail may be in the subject, and compares case-insensitively', async () => {
    const user = await newUser('Mixed.Case@Example.TEST');
    const leaf = await issueLeaf(inter, { commonName: user.username, email: 'mixed.case@example.test', emailIn: 'subject' });
    assert.equal((await s.certificates.verify(user, presented(leaf), '192.0.2.10')).bound, true);
  });

  test('with the e-mail check off, a mismatching e-mail is accepted', async () => {
    await s.settings.update({ mfa: { checkCertificateEmail: false } }, 'admin', null);
    try {
      const user = await newUser();
      const leaf = await issueLeaf(inter, { commonName: user.username, email: 'not-the-account@example.test' });
      assert.equal((await s.certificates.verify(user, presented(leaf), '192.0.2.10')).bound, true);
    } finally {
      await s.settings.update({ mfa: { checkCertificateEmail: true } }, 'admin', null);
    }
  });

  test('inactivating a root stops certificates from its intermediates; activating restores them', async () => {
    const user = await newUser();
    const leaf = await issueLeaf(inter, { commonName: user.username, email: user.email });
    await s.certificates.verify(user, presented(leaf), '192.0.2.10');
    const rootId = (await s.trust.list()).find((c) => c.subject.startsWith('CN=Test Root'))!.id;
    await s.trust.setActive(rootId, false, orbit);
    try {
      await refused(user, presented(leaf), 'CERT_CA_INACTIVE');
    } finally {
      await s.trust.setActive(rootId, true, orbit);
    }
    await s.certificates.verify(user, presented(leaf), '192.0.2.10');
  });

  test('a second certificate of the same user from the same CA is refused once one is bound', async () => {
    const user = await newUser();
    const first = await issueLeaf(inter, { commonName: user.username, email: user.email });
    const second = await issueLeaf(inter, { commonName: user.username, email: user.email });
    await s.certificates.verify(user, presented(first), '192.0.2.10');
    await refused(user, presented(second), 'CERT_NOT_BOUND_CERT');
  });

  test('revoking a binding lets the user bind a new certificate; the account stays active', async () => {
    const user = await newUser();
    const first = await issueLeaf(inter, { commonName: user.username, email: user.email });
    const second = await issueLeaf(inter, { commonName: user.username, email: user.email });
    await s.certificates.verify(user, presented(first), '192.0.2.10');
    const [binding] = await s.certificates.list({ userId: user.id });
    const revoked = await s.certificates.revoke(binding!.id, { username: 'admin', ip: '192.0.2.1' });
    assert.equal(revoked.status, 'revoked');
    assert.equal((await s.store.repos.users.byId(user.id))!.status, 'active');
    // The revoked certificate never binds again (a lost card stays dead); a new one binds.
    await refused(user, presented(first), 'CERT_REVOKED');
    const list = await s.certificates.list({ userId: user.id });
    assert.equal(list.filter((b) => b.status === 'bound').length, 0);
    const r = await s.certificates.verify(user, presented(second), '192.0.2.10');
    assert.equal(r.bound, true);
    const events = (await s.certificates.usage({ userId: user.id })).map((e) => e.event);
    assert.ok(events.includes('revoke'));
  });

  test('a certificate bound to one account is refused for another account with the same e-mail: CERT_BOUND_ELSEWHERE', async () => {
    const a = await newUser('shared.mail@example.test');
    const b = await newUser('shared.mail@example.test');
    const leaf = await issueLeaf(inter, { commonName: 'shared', email: 'shared.mail@example.test' });
    assert.equal((await s.certificates.verify(a, presented(leaf), '192.0.2.10')).bound, true);
    await refused(b, presented(leaf), 'CERT_BOUND_ELSEWHERE');
    assert.equal((await s.certificates.list({ userId: b.id })).length, 0, 'nothing was bound to the second account');
    const [audit] = await s.store.repos.auditEvents.query({ type: 'auth.mfa', subject: b.username, limit: 1 });
    assert.equal(audit?.outcome, 'failure');
    // The first account keeps using it.
    assert.equal((await s.certificates.verify(a, presented(leaf), '192.0.2.10')).bound, false);
  });

  test('a certificate revoked on one account (a lost card) never binds to another: CERT_REVOKED', async () => {
    const a = await newUser('lost.card@example.test');
    const b = await newUser('lost.card@example.test');
    const leaf = await issueLeaf(inter, { commonName: 'lost', email: 'lost.card@example.test' });
    await s.certificates.verify(a, presented(leaf), '192.0.2.10');
    const [binding] = await s.certificates.list({ userId: a.id });
    await s.certificates.revoke(binding!.id, { username: 'admin', ip: '192.0.2.1' });
    await refused(b, presented(leaf), 'CERT_REVOKED');
    await refused(a, presented(leaf), 'CERT_REVOKED');
    assert.equal((await s.certificates.list({ userId: b.id })).length, 0);
  });

  test('two parallel first logins of two accounts with the same certificate: exactly one binds', async () => {
    const users = [await newUser('race@example.test'), await newUser('race@example.test'), await newUser('race@example.test')];
    const leaf = await issueLeaf(inter, { commonName: 'race', email: 'race@example.test' });
    const results = await Promise.allSettled(users.map((u) => s.certificates.verify(u, presented(leaf), '192.0.2.10')));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'one login succeeds');
    for (const r of results) {
      if (r.status === 'rejected') {
        assert.ok(r.reason instanceof AuthError, String(r.reason));
        assert.equal(r.reason.code, 'CERT_BOUND_ELSEWHERE');
      }
    }
    const bindings = (await s.certificates.list({})).filter((b) => users.some((u) => u.id === b.userId));
    assert.equal(bindings.length, 1, 'one binding in the store');
  });

  test('two parallel first logins of one account with two certificates: only the bound one succeeds', async () => {
    const user = await newUser();
    const first = await issueLeaf(inter, { commonName: user.username, email: user.email });
    const second = await issueLeaf(inter, { commonName: user.username, email: user.email });
    const results = await Promise.allSettled([first, second].map((c) => s.certificates.verify(user, presented(c), '192.0.2.10')));
    const ok = results.filter((r): r is PromiseFulfilledResult<{ bindingId: number; fingerprint: string; bound: boolean }> => r.status === 'fulfilled');
    assert.equal(ok.length, 1, 'a certificate that is not the bound one never passes');
    const [bound] = await s.certificates.list({ userId: user.id, status: 'bound' });
    assert.equal(ok[0]!.value.fingerprint, bound!.fingerprint);
  });

  test('the store itself refuses a second binding row for one fingerprint', async () => {
    const a = await newUser();
    const b = await newUser();
    const leaf = await issueLeaf(inter, { commonName: a.username, email: a.email });
    await s.certificates.verify(a, presented(leaf), '192.0.2.10');
    const [row] = await s.store.repos.userCertificates.list({ userId: a.id });
    const { id: _id, username: _u, fingerprint_claim: _c, ...copy } = row!;
    assert.equal(await s.store.repos.userCertificates.insert({ ...copy, user_id: b.id }), undefined, 'the repository answers "already claimed"');
    await assert.rejects(s.store.db.insertInto('user_certificates').values({ ...copy, user_id: b.id, fingerprint_claim: copy.fingerprint }).execute(), /UNIQUE/i);
    assert.equal((await s.certificates.list({ userId: b.id })).length, 0);
  });

  test('the usage log filters by user and period and exports as CSV', async () => {
    const user = await newUser();
    const leaf = await issueLeaf(inter, { commonName: `=HYPERLINK("x"), ${user.username}`, email: user.email });
    await s.certificates.verify(user, presented(leaf), '192.0.2.10');
    const mine = await s.certificates.usage({ userId: user.id });
    assert.ok(mine.length >= 2 && mine.every((e) => e.username === user.username));
    assert.equal((await s.certificates.usage({ userId: user.id, since: Date.now() + DAY })).length, 0);
    const csv = (await import('../../../appliance/auth/index.js')).CertificateLogin.usageCsv(mine);
    const lines = csv.trim().split('\r\n');
    assert.equal(lines[0], 'at,event,username,subject,fingerprint,code,ip');
    assert.equal(lines.length, mine.length + 1);
    assert.doesNotMatch(csv, /,=HYPERLINK/, 'a formula-looking field is neutralized');
  });

  test('installing a certificate that is not a CA is refused and nothing changes', async () => {
    const before = (await s.trust.list()).length;
    const leaf = await issueLeaf(inter, { commonName: 'not-a-ca' });
    await assert.rejects(s.trust.install(leaf.pem, orbit), /not a CA certificate/);
    await assert.rejects(s.trust.install(root.pem + leaf.pem, orbit), /not a CA certificate/);
    await assert.rejects(s.trust.install('-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n', orbit), /base64|X\.509/);
    assert.equal((await s.trust.list()).length, before);
  });

  test('a CA with the subject of an installed CA but another key is refused, naming the installed CA', async () => {
    const before = await s.trust.list();
    const installed = before.find((c) => c.subject === 'CN=Test Root, O=Warden Test')!;
    const impostor = await createCa('Test Root');
    await assert.rejects(s.trust.install(impostor.pem, orbit), (e: unknown) => {
      assert.ok(e instanceof WardenError, String(e));
      assert.equal(e.code, 'CA_SUBJECT_CONFLICT');
      assert.match(e.message, new RegExp(`installed CA ${installed.id} `));
      assert.ok(e.message.includes(installed.fingerprint), e.message);
      assert.ok(e.message.includes('CN=Test Root, O=Warden Test'), e.message);
      assert.match(e.message, /different key/);
      return true;
    });
    // The same name in another case or spacing is the same name to a TLS stack: refused too.
    const lookalike = await createCa('test  root');
    await assert.rejects(s.trust.install(lookalike.pem, orbit), /CA_SUBJECT_CONFLICT|different key/);
    assert.equal((await s.trust.list()).length, before.length, 'nothing installed');
    const [refusal] = await s.store.repos.auditEvents.query({ type: 'pki.ca_install', limit: 1 });
    assert.equal(refusal?.outcome, 'failure');
    assert.equal(refusal?.code, 'CA_SUBJECT_CONFLICT');

    // Its certificates do not log in.
    const user = await newUser();
    await refused(user, presented(await issueLeaf(impostor, { commonName: user.username, email: user.email })), 'CERT_SIGNATURE_INVALID');
  });

  test('two CAs of one subject with different keys in one file are refused', async () => {
    const before = (await s.trust.list()).length;
    const one = await createCa('Twin CA');
    const two = await createCa('Twin CA');
    await assert.rejects(s.trust.install(one.pem + two.pem, orbit), /different key/);
    assert.equal((await s.trust.list()).length, before);
  });

  test('a renewed CA certificate (same subject, same key) installs without force', async () => {
    const first = await createCa('Renewed CA');
    const renewed = await createCa('Renewed CA', { keys: first.keys, notAfter: new Date(Date.now() + 700 * DAY) });
    assert.equal((await s.trust.install(first.pem, orbit)).length, 1);
    assert.equal((await s.trust.install(renewed.pem, orbit)).length, 1);
  });

  test('with force, a colliding CA is installed and the audit event says it was forced and with which CA it collides', async () => {
    const installed = (await s.trust.list()).find((c) => c.subject === 'CN=Other Root, O=Warden Test')!;
    const impostor = await createCa('Other Root');
    const [ca] = await s.trust.install(impostor.pem, orbit, { force: true });
    assert.equal(ca?.subject, installed.subject);
    const [event] = await s.store.repos.auditEvents.query({ type: 'pki.ca_install', limit: 1 });
    assert.equal(event?.outcome, 'success');
    const detail = JSON.parse(event!.detail!);
    assert.equal(detail.forced, true);
    assert.deepEqual(detail.collisions, [{ fingerprint: ca!.fingerprint, collidesWith: { id: installed.id, subject: installed.subject, fingerprint: installed.fingerprint } }]);
  });

  test('the store keeps roots and intermediates with their link', async () => {
    const cas = await s.trust.list();
    const r = cas.find((c) => c.subject.startsWith('CN=Test Root'))!;
    const i = cas.find((c) => c.subject.startsWith('CN=Test Issuing CA'))!;
    assert.equal(r.selfSigned, true);
    assert.equal(i.parentId, r.id);
    assert.equal((await s.trust.install(root.pem, orbit)).length, 0, 'reinstalling is a no-op');
  });
});

describe('proxy decision: force authentication with certificate', () => {
  let s: Services;
  let ca: Issued;
  before(async () => {
    s = await services();
    s.clock.now = Date.now();
    ca = await createCa('Proxy Root');
    await s.trust.install(ca.pem, orbit);
  });
  after(async () => s?.close());

  test('only a web session authenticated with the currently bound certificate may open a proxy session', async () => {
    const password = strongPassword();
    const { user } = await s.users.create(orbit, { username: 'proxy-user', fullName: 'P', email: 'proxy-user@example.test', profile: 'privileged-access-user', password });
    await s.users.setMfaMethod(orbit, user.id, 'certificate');
    assert.deepEqual(await s.certificates.proxySessionAllowed(user.id), { allowed: true }, 'setting off: no certificate needed');
    await s.settings.update({ mfa: { forceCertificateForProxy: true } }, 'admin', null);

    assert.equal((await s.certificates.proxySessionAllowed(user.id)).allowed, false, 'no web session');
    const login = await s.auth.login({ username: 'proxy-user', password, ip: '192.0.2.20' });
    let ctx = await s.auth.authenticate(login.token, '192.0.2.20');
    assert.equal((await s.certificates.proxySessionAllowed(user.id)).allowed, false, 'password only, certificate still due');

    const leaf = await issueLeaf(ca, { commonName: 'proxy-user', email: 'proxy-user@example.test' });
    const r = await s.certificates.verify(ctx.user, { leaf: der(leaf), chain: [] }, '192.0.2.20');
    await s.store.repos.webSessions.update(ctx.sessionId, { stage: 'complete', mfa_method: 'certificate', certificate_fingerprint: r.fingerprint });
    assert.deepEqual(await s.certificates.proxySessionAllowed(user.id), { allowed: true });

    const [binding] = await s.certificates.list({ userId: user.id });
    await s.certificates.revoke(binding!.id, { username: 'admin', ip: null });
    const after = await s.certificates.proxySessionAllowed(user.id);
    assert.equal(after.allowed, false, 'the session that used the revoked certificate no longer counts');

    // A session signed in with TOTP (not a certificate) does not count either.
    const second = await s.auth.login({ username: 'proxy-user', password, ip: '192.0.2.20' });
    ctx = await s.auth.authenticate(second.token, '192.0.2.20');
    await s.store.repos.webSessions.update(ctx.sessionId, { stage: 'complete', mfa_method: 'totp' });
    const totp = await s.certificates.proxySessionAllowed(user.id);
    assert.equal(totp.allowed, false);
    assert.equal(totp.allowed === false && totp.code, 'CERT_MISSING');
  });
});

describe('migration 0006: bindings made before a certificate was bound to one account only', () => {
  let s: Services;
  let ca: Issued;
  before(async () => {
    s = await services();
    s.clock.now = Date.now();
    ca = await createCa('Migration Root');
    await s.trust.install(ca.pem, orbit);
  });
  after(async () => s?.close());

  test('duplicates are resolved: revoked anywhere is revoked everywhere, otherwise the first binding keeps the certificate', async () => {
    const password = strongPassword();
    const make = async (username: string) =>
      (await s.users.create(orbit, { username, fullName: username, email: 'dup@example.test', profile: 'privileged-access-user', password })).user;
    const [a, b, c, d, e] = [await make('dup-a'), await make('dup-b'), await make('dup-c'), await make('dup-d'), await make('dup-e')];
    const shared = await issueLeaf(ca, { commonName: 'shared', email: 'dup@example.test' });
    const lost = await issueLeaf(ca, { commonName: 'lost', email: 'dup@example.test' });
    const alone = await issueLeaf(ca, { commonName: 'alone', email: 'dup@example.test' });

    // Back to the schema before 0006, and the rows the old binding logic let in.
    // Every later migration first, newest first: the migrator replays only a suffix of the list.
    const later = Object.keys(MIGRATIONS).filter((name) => name >= '0006').sort().reverse();
    for (const name of later) await MIGRATIONS[name]!.down!(s.store.db as unknown as Kysely<unknown>);
    await s.store.db.deleteFrom('kysely_migration' as never).where('name' as never, 'in', later as never).execute();
    const row = (userId: number, leaf: Issued, status: 'bound' | 'revoked', at: number) => ({
      user_id: userId,
      fingerprint: new X509Certificate(leaf.pem).fingerprint256,
      issuer: 'CN=Migration Root, O=Warden Test',
      serial: leaf.serial.toUpperCase(),
      subject: `CN=${leaf.cert.subjectName.getField('CN')[0]}`,
      email: 'dup@example.test',
      not_before: at,
      not_after: at + DAY,
      pem: leaf.pem,
      status,
      bound_at: at,
      first_used_at: at,
      last_used_at: at,
      revoked_at: status === 'revoked' ? at + 1 : null,
      revoked_by: status === 'revoked' ? 'admin' : null,
    });
    const raw = s.store.db as unknown as Kysely<Record<string, Record<string, unknown>>>;
    await raw.insertInto('user_certificates').values([row(b.id, shared, 'bound', 2000), row(a.id, shared, 'bound', 1000), row(c.id, lost, 'revoked', 1000), row(d.id, lost, 'bound', 3000), row(e.id, alone, 'bound', 1000)]).execute();
    // b is signed in with the duplicate certificate.
    const login = await s.auth.login({ username: 'dup-b', password, ip: '192.0.2.30' });
    const ctx = await s.auth.authenticate(login.token, '192.0.2.30');
    await s.store.repos.webSessions.update(ctx.sessionId, { certificate_fingerprint: new X509Certificate(shared.pem).fingerprint256 });

    await s.store.migrate();

    const status = async (u: UserRow) => (await s.certificates.list({ userId: u.id })).map((x) => x.status);
    assert.deepEqual(await status(a), ['bound'], 'the first binding keeps the certificate');
    assert.deepEqual(await status(b), ['revoked'], 'the later duplicate is revoked');
    assert.deepEqual(await status(c), ['revoked']);
    assert.deepEqual(await status(d), ['revoked'], 'a certificate revoked on one account is revoked on all');
    assert.deepEqual(await status(e), ['bound'], 'a certificate bound once is untouched');
    assert.equal((await s.store.repos.webSessions.forUser(b.id)).length, 0, 'the session signed in with the revoked duplicate ended');
    const [bEvent] = await s.certificates.usage({ userId: b.id, limit: 1 });
    assert.equal(bEvent?.event, 'revoke');
    assert.equal(bEvent?.code, 'CERT_BOUND_ELSEWHERE');
    const [dEvent] = await s.certificates.usage({ userId: d.id, limit: 1 });
    assert.equal(dEvent?.code, 'CERT_REVOKED');

    // And from now on the store holds the rule.
    const p = (leaf: Issued): PresentedCertificate => ({ leaf: der(leaf), chain: [] });
    await assert.rejects(s.certificates.verify(d, p(lost), '192.0.2.30'), (err: unknown) => err instanceof AuthError && err.code === 'CERT_REVOKED');
    await assert.rejects(s.certificates.verify(b, p(shared), '192.0.2.30'), (err: unknown) => err instanceof AuthError && err.code === 'CERT_BOUND_ELSEWHERE');
    assert.equal((await s.certificates.verify(a, p(shared), '192.0.2.30')).bound, false, 'the owner keeps logging in');
  });
});

describe('the CAs advertised in the TLS CertificateRequest are exactly the ones that are trusted', () => {
  let s: Services;
  before(async () => {
    s = await services();
    s.clock.now = Date.now();
  });
  after(async () => s?.close());

  const subjects = async () => {
    const { pems } = await s.trust.advertisedAuthorities();
    return pems.map((p) => new X509Certificate(p).subject.split('\n')[0]!).sort();
  };
  const idOf = async (cn: string) => (await s.trust.list()).find((c) => c.subject.startsWith(`CN=${cn},`))!.id;

  test('a disabled root takes its active intermediates with it; a disabled intermediate only itself', async () => {
    const root = await createCa('Adv Root');
    const inter = await createCa('Adv Issuing', { parent: root });
    const deeper = await createCa('Adv Deeper', { parent: inter });
    await s.trust.install(root.pem + inter.pem + deeper.pem, orbit);
    assert.deepEqual(await subjects(), ['CN=Adv Deeper', 'CN=Adv Issuing', 'CN=Adv Root']);

    const { user } = await s.users.create(orbit, { username: 'adv', fullName: 'Adv', email: 'adv@example.test', profile: 'privileged-access-user', password: strongPassword() });
    const leaf = await issueLeaf(deeper, { commonName: 'adv', email: 'adv@example.test' });

    await s.trust.setActive(await idOf('Adv Root'), false, orbit);
    assert.deepEqual(await subjects(), [], 'nothing under a disabled root is advertised');
    // ... because nothing under it logs in.
    await assert.rejects(s.certificates.verify(user, { leaf: der(leaf), chain: [] }, '192.0.2.40'), (e: unknown) => e instanceof AuthError && e.code === 'CERT_CA_INACTIVE');
    await s.trust.setActive(await idOf('Adv Root'), true, orbit);
    assert.equal((await s.certificates.verify(user, { leaf: der(leaf), chain: [] }, '192.0.2.40')).bound, true);

    await s.trust.setActive(await idOf('Adv Issuing'), false, orbit);
    assert.deepEqual(await subjects(), ['CN=Adv Root']);
    await s.trust.setActive(await idOf('Adv Issuing'), true, orbit);
    assert.deepEqual(await subjects(), ['CN=Adv Deeper', 'CN=Adv Issuing', 'CN=Adv Root']);
  });

  test('an intermediate revoked by its root\'s CRL is not advertised, nor anything below it', async () => {
    const root = await createCa('Crl Root');
    const inter = await createCa('Crl Issuing', { parent: root });
    const below = await createCa('Crl Below', { parent: inter });
    await s.trust.install(root.pem + inter.pem + below.pem, orbit);
    await s.trust.installCrl(await createCrl(root, [inter]), orbit);
    assert.ok((await subjects()).includes('CN=Crl Root'));
    assert.ok(!(await subjects()).includes('CN=Crl Issuing'));
    assert.ok(!(await subjects()).includes('CN=Crl Below'));
  });

  test('a CA outside its validity is not advertised, and the advertisement says when it next changes', async () => {
    const now = s.clock.now;
    const later = await createCa('Later Root', { notBefore: new Date(now + DAY), notAfter: new Date(now + 10 * DAY) });
    const expired = await createCa('Expired Root', { notBefore: new Date(now - 10 * DAY), notAfter: new Date(now - DAY) });
    await s.trust.install(later.pem + expired.pem, orbit);
    const names = await subjects();
    assert.ok(!names.includes('CN=Later Root') && !names.includes('CN=Expired Root'), names.join());
    const { changesAt } = await s.trust.advertisedAuthorities();
    assert.equal(changesAt, Date.parse(new X509Certificate(later.pem).validFrom), 'the next change is when Later Root becomes valid');
    s.clock.now = changesAt;
    assert.ok((await subjects()).includes('CN=Later Root'));
  });
});
