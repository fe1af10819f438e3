// The web daemon takes a new certificate without a restart: a running daemon (a real process), `orbit cert web
// install` of a certificate from a CA, and the next TLS handshake shows the new certificate and its chain,
// served by the same process. A broken pair written straight onto the files is refused by the daemon, which
// keeps serving the previous one and logs why.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { initializedHome, tempDir, type InitializedHome } from '../../helpers/fixtures.js';
import { startWebDaemon, type RunningDaemon } from '../../helpers/web-daemon.js';
import { runOrbit } from '../../helpers/orbit.js';
import { createCa, issueLeaf, keyPem, EKU_SERVER_AUTH } from '../../helpers/pki.js';

/** One handshake: the served leaf's fingerprint and its issuer's (as the server sent the chain). */
function served(port: number): Promise<{ leaf: string; issuer: string | undefined }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const peer = socket.getPeerCertificate(true);
      const issuer = peer.issuerCertificate && peer.issuerCertificate.fingerprint256 !== peer.fingerprint256 ? peer.issuerCertificate.fingerprint256 : undefined;
      resolve({ leaf: peer.fingerprint256, issuer });
      socket.end();
    });
    socket.on('error', reject);
  });
}

async function waitForServed(port: number, fingerprint: string, ms = 10_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    if ((await served(port)).leaf === fingerprint) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`the daemon did not serve ${fingerprint} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256;

describe('web daemon: the TLS certificate replaced on disk is served without a restart', { timeout: 120_000 }, () => {
  let home: InitializedHome;
  let daemon: RunningDaemon;
  const work = tempDir('warden-tlsreload-');
  const certFile = () => path.join(home.home, 'tls', 'web.crt');
  const keyFile = () => path.join(home.home, 'tls', 'web.key');

  before(async () => {
    home = await initializedHome();
    daemon = await startWebDaemon(home);
  });
  after(async () => {
    await daemon?.stop();
    home?.cleanup();
    work.cleanup();
  });

  test('orbit cert web install: the next handshake shows the new certificate and chain, same process', async () => {
    const pid = daemon.proc.pid;
    const initial = await served(daemon.httpsPort);
    assert.equal(initial.leaf, fingerprintOf(readFileSync(certFile(), 'utf8')));

    const ca = await createCa('Reload Test CA');
    const leaf = await issueLeaf(ca, { commonName: '127.0.0.1', eku: [EKU_SERVER_AUTH] });
    writeFileSync(path.join(work.dir, 'leaf.pem'), leaf.pem);
    writeFileSync(path.join(work.dir, 'leaf.key'), await keyPem(leaf.keys));
    writeFileSync(path.join(work.dir, 'ca.pem'), ca.pem);
    const r = await runOrbit(home.home, ['cert', 'web', 'install', '--cert', path.join(work.dir, 'leaf.pem'), '--key', path.join(work.dir, 'leaf.key'), '--chain', path.join(work.dir, 'ca.pem')]);
    assert.equal(r.code, 0, r.stderr);

    await waitForServed(daemon.httpsPort, fingerprintOf(leaf.pem));
    const now = await served(daemon.httpsPort);
    assert.equal(now.issuer, fingerprintOf(ca.pem), 'the chain is served after the leaf');
    assert.equal(daemon.proc.pid, pid);
    assert.equal(daemon.proc.exitCode, null, 'the same process, never restarted');
    assert.match(daemon.output(), /TLS certificate reloaded/);
  });

  test('a pair that does not match, put on the files by hand, is refused: the previous one stays, the log says why', async () => {
    const before = (await served(daemon.httpsPort)).leaf;
    const ca = await createCa('Other CA');
    const one = await issueLeaf(ca, { commonName: 'one', eku: [EKU_SERVER_AUTH] });
    const other = await issueLeaf(ca, { commonName: 'other', eku: [EKU_SERVER_AUTH] });
    writeFileSync(path.join(work.dir, 'bad.key'), await keyPem(other.keys));
    writeFileSync(path.join(work.dir, 'bad.pem'), one.pem);
    renameSync(path.join(work.dir, 'bad.key'), keyFile());
    renameSync(path.join(work.dir, 'bad.pem'), certFile());
    const deadline = Date.now() + 10_000;
    while (!/new TLS certificate or key refused/.test(daemon.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.match(daemon.output(), /new TLS certificate or key refused; still serving the previous one.*does not belong to the certificate/);
    assert.equal((await served(daemon.httpsPort)).leaf, before);

    // The matching key arrives later (a deployer copying files one by one): now the pair is whole and served.
    writeFileSync(keyFile(), await keyPem(one.keys));
    await waitForServed(daemon.httpsPort, fingerprintOf(one.pem));
    assert.equal(daemon.proc.exitCode, null);
  });
});
