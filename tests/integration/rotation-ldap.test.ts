// Rotation of LDAP directory accounts on a real OpenLDAP (Debian's slapd, started by the test with its own
// certificate) with the Password Modify extended operation (RFC 3062): the account changes its own password over
// LDAPS and over StartTLS; a change account (a DN with write access to userPassword) sets it without the old one
// and reconciles a password changed behind the vault's back; the directory stores its own hash, never the
// password; a DN without that access changes nothing; the certificate is pinned and a different one refuses
// before any password is sent.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import { generatePassword } from '../../appliance/rotation/index.js';
import { initializedHome, type InitializedHome } from '../helpers/fixtures.js';
import { SUFFIX, slapdAvailable, startSlapd, type SlapdServer } from '../helpers/slapd.js';

const ADMIN = { username: 'admin', ip: '127.0.0.1' };
const dn = (uid: string) => `uid=${uid},ou=people,${SUFFIX}`;

describe('rotation of LDAP accounts (real slapd, Password Modify)', { skip: !slapdAvailable() && 'slapd is not installed', timeout: 120_000 }, () => {
  let home: InitializedHome;
  let a: Appliance;
  let ldap: SlapdServer;
  let ldapsDevice: number;
  let startTlsDevice: number;
  const passwords = { app: generatePassword(), admin: generatePassword(), nobody: generatePassword() };

  before(async () => {
    ldap = await startSlapd();
    const person = (uid: string, pw: string) => `dn: ${dn(uid)}\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: ${uid}\nsn: ${uid}\nuserPassword: ${pw}\n`;
    ldap.add([person('wapp', passwords.app), person('pwadmin', passwords.admin), person('wnobody', passwords.nobody)].join('\n'));
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
    ldapsDevice = (await a.devices.createDevice(ADMIN, { hostname: 'ldap01', address: '127.0.0.1', connectivity: `LDAPS:${ldap.ldapsPort}`, type: 'OpenLDAP' })).id;
    startTlsDevice = (await a.devices.createDevice(ADMIN, { hostname: 'ldap02', address: '127.0.0.1', connectivity: `LDAP:${ldap.ldapPort}`, type: 'LDAP directory' })).id;
  });

  after(async () => {
    await a?.close();
    ldap?.stop();
    home?.cleanup();
  });

  test('the account changes its own password over LDAPS: the new one binds, the old one does not; the certificate is pinned', async () => {
    const id = (await a.credentials.createCredential(ADMIN, { deviceId: ldapsDevice, username: dn('wapp'), secret: passwords.app, statusControl: true })).id;
    assert.equal((await a.rotation.checkStatus(id)).state, 'working');
    assert.match(String((await a.store.repos.hostKeys.pinnedKey(ldapsDevice, 'ldap'))?.fingerprint), /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const r = await a.rotation.rotate(ADMIN, id);
    assert.equal(r.executor, 'ldap-password-modify');
    const now = await a.credentials.secretOf(id);
    assert.notEqual(now, passwords.app);
    assert.equal(ldap.binds(dn('wapp'), now), true);
    assert.equal(ldap.binds(dn('wapp'), passwords.app), false);
    const [ev] = await a.store.repos.auditEvents.query({ type: 'credential.rotate', limit: 1 });
    assert.deepEqual(JSON.parse(ev!.detail), { trigger: 'manual', executor: 'ldap-password-modify', stage: 'committed' });
  });

  test('over StartTLS on plain LDAP too', async () => {
    const id = (await a.credentials.createCredential(ADMIN, { deviceId: startTlsDevice, username: dn('wapp'), secret: await a.credentials.secretOf(1) })).id;
    await a.rotation.rotate(ADMIN, id);
    const now = await a.credentials.secretOf(id);
    assert.equal(ldap.binds(dn('wapp'), now), true);
    assert.ok(await a.store.repos.hostKeys.pinnedKey(startTlsDevice, 'ldap'), 'pinned after StartTLS');
  });

  /** wapp's password as the vault holds it last (the newest wapp credential's). */
  let current = '';

  test('a change account with write access sets it without the old one; reconciliation records the drift', async () => {
    const admin = (await a.credentials.createCredential(ADMIN, { deviceId: ldapsDevice, username: dn('pwadmin'), secret: passwords.admin })).id;
    const id = (await a.credentials.createCredential(ADMIN, { deviceId: ldapsDevice, username: dn('wapp'), secret: await a.credentials.secretOf(2), changeCredentialId: admin })).id;
    const behind = generatePassword();
    ldap.setPassword(dn('wapp'), behind);
    const r = await a.rotation.reconcile(ADMIN, id);
    assert.equal(r.drift, true);
    const now = await a.credentials.secretOf(id);
    assert.equal(ldap.binds(dn('wapp'), now), true);
    assert.equal(ldap.binds(dn('wapp'), behind), false);
    const [ev] = await a.store.repos.auditEvents.query({ type: 'credential.reconcile', limit: 1 });
    assert.deepEqual(JSON.parse(ev!.detail), { trigger: 'manual', executor: 'ldap-password-modify', changeAccount: admin, stage: 'committed', drift: true });
    current = now;
  });

  test('a change account without write access changes nothing and says why', async () => {
    const nobody = (await a.credentials.createCredential(ADMIN, { deviceId: ldapsDevice, username: dn('wnobody'), secret: passwords.nobody })).id;
    const id = (await a.credentials.createCredential(ADMIN, { deviceId: ldapsDevice, username: dn('wapp'), secret: current, changeCredentialId: nobody })).id;
    await assert.rejects(a.rotation.rotate(ADMIN, id), (e: Error & { details?: Record<string, unknown> }) => e.details?.reason === 'change-refused');
    const [ev] = await a.store.repos.auditEvents.query({ type: 'credential.rotate', limit: 1 });
    assert.match(String(JSON.parse(ev!.detail).said), /insufficient|access/i, 'the directory\'s own words');
    assert.equal(await a.credentials.secretOf(id), current);
    assert.equal(ldap.binds(dn('wapp'), current), true, 'unchanged');
  });

  test('a certificate other than the pinned one refuses before any password is sent', async () => {
    const other = (await a.devices.createDevice(ADMIN, { hostname: 'ldap03', address: '127.0.0.1', connectivity: `LDAPS:${ldap.ldapsPort}`, type: 'LDAP' })).id;
    assert.equal(await a.hostKeys.checkHostKey(other, 'ldap', '00:'.repeat(31) + '00'), 'pinned');
    const id = (await a.credentials.createCredential(ADMIN, { deviceId: other, username: dn('wapp'), secret: current })).id;
    await assert.rejects(a.rotation.rotate(ADMIN, id), (e: Error & { details?: Record<string, unknown> }) => e.details?.reason === 'host-key-mismatch');
    assert.equal(ldap.binds(dn('wapp'), current), true);
  });
});
