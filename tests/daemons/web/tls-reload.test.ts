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
import { loadConfig } from '../../../appliance/config/index.js';
import { Store } from '../../../appliance/store/index.js';

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

  /** The pin this node's peers check for it (cluster_nodes), as the daemon published it. */
  const pinned = async (): Promise<string | undefined> => {
    const store = await Store.open({ sqlitePath: loadConfig({ WARDEN_HOME: home.home, WARDEN_CONFIG: home.configFile }).store.sqlitePath });
    try {
      return (await store.repos.clusterNodes.get(nodeId))?.tls_fingerprint;
    } finally {
      await store.close();
    }
  };
  const pinOf = (pem: string) => fingerprintOf(pem).replace(/:/g, '').toLowerCase();
  let nodeId = '';

  before(async () => {
    home = await initializedHome();
    // Registered as a cluster node with a stale pin: the daemon must publish the certificate it serves.
    const config = loadConfig({ WARDEN_HOME: home.home, WARDEN_CONFIG: home.configFile });
    nodeId = config.node.id;
    const store = await Store.open({ sqlitePath: config.store.sqlitePath });
    await store.repos.clusterNodes.register({ id: nodeId, name: 'me', internalUrl: 'https://127.0.0.1:9443', tlsFingerprint: '0'.repeat(64), at: 1 });
    await store.close();
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
    // At start the daemon replaced the stale pin with the certificate it serves.
    assert.equal(await pinned(), initial.leaf.replace(/:/g, '').toLowerCase());
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
    // Its peers pin the new certificate now (published through the store by the daemon).
    for (let i = 0; i < 50 && (await pinned()) !== pinOf(leaf.pem); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await pinned(), pinOf(leaf.pem));
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
