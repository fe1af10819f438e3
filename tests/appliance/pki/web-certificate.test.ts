// The web certificate's checks and writes, in process: a replaced file keeps the mode the daemon reads it
// with (0640 for the group on the image), a new one is private, and a checked pair is what lands.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkWebCertificate, planSelfSignedWebCertificate, planWebCertificateInstall, planWebCsr, pendingKeyFile } from '../../../appliance/pki/index.js';
import { isWardenError } from '../../../appliance/errors/index.js';
import { tempDir } from '../../helpers/fixtures.js';
import { createCa, issueLeaf, keyPem, EKU_SERVER_AUTH } from '../../helpers/pki.js';

describe('web certificate', () => {
  const work = tempDir('warden-webcert-');
  after(() => work.cleanup());
  const files = { certFile: path.join(work.dir, 'tls', 'web.crt'), keyFile: path.join(work.dir, 'tls', 'web.key') };

  test('a new pair is written 0600; a replaced one keeps the mode of the file it replaces; nothing else is left', async () => {
    (await planSelfSignedWebCertificate(files, { host: 'a.localhost' })).write();
    assert.equal(statSync(files.keyFile).mode & 0o777, 0o600);
    chmodSync(files.keyFile, 0o640);
    chmodSync(files.certFile, 0o644);
    const plan = await planSelfSignedWebCertificate(files, { host: 'b.localhost' });
    plan.write();
    assert.equal(plan.previous?.subject, 'CN=a.localhost');
    assert.equal(statSync(files.keyFile).mode & 0o777, 0o640);
    assert.equal(statSync(files.certFile).mode & 0o777, 0o644);
    assert.equal(checkWebCertificate({ certPem: readFileSync(files.certFile), keyPem: readFileSync(files.keyFile) }).facts.subject, 'CN=b.localhost');
    assert.deepEqual(readdirSync(path.dirname(files.keyFile)).sort(), ['web.crt', 'web.key']);
  });

  test('a CSR\'s RSA key waits beside the live key until its certificate is installed', async () => {
    const csr = await planWebCsr(files, { commonName: 'c.localhost', keyType: 'rsa' });
    csr.write();
    assert.match(csr.csrPem, /^-----BEGIN CERTIFICATE REQUEST-----/);
    assert.equal(statSync(pendingKeyFile(files)).mode & 0o777, 0o640, 'as private as the live key');
    assert.throws(() => planWebCertificateInstall(files, { certPem: readFileSync(files.certFile) }), (e) => isWardenError(e) && /the key waiting from "orbit cert web csr" does not match/.test(e.message));
  });

  test('the check names what is wrong and uses the clock it is given', async () => {
    const ca = await createCa('Unit CA');
    const leaf = await issueLeaf(ca, { commonName: 'd.localhost', eku: [EKU_SERVER_AUTH] });
    const keyPemText = await keyPem(leaf.keys);
    const checked = checkWebCertificate({ certPem: leaf.pem, keyPem: keyPemText, chainPem: ca.pem });
    assert.equal(checked.facts.chainLength, 1);
    assert.throws(() => checkWebCertificate({ certPem: leaf.pem, keyPem: keyPemText }, Date.now() + 365 * 86_400_000), /has expired/);
    assert.throws(() => checkWebCertificate({ certPem: leaf.pem, keyPem: keyPemText }, Date.now() - 365 * 86_400_000), /not valid yet/);
    const encrypted = path.join(work.dir, 'enc.key');
    mkdirSync(work.dir, { recursive: true });
    writeFileSync(encrypted, '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n');
    assert.throws(() => checkWebCertificate({ certPem: leaf.pem, keyPem: readFileSync(encrypted) }), /is encrypted: give the key without a passphrase/);
  });
});
