// The cluster module's pieces without servers: the Galera config it writes, what it reads from the server
// and grastate.dat, the bootstrap choice, the firewall's peer sets, and the join bundle on a real SoftHSM
// token (opens under the same master key only).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  chooseBootstrapNode,
  galeraConfig,
  layoutUnder,
  openJoinBundle,
  parseEndpoint,
  parseGrastate,
  parseRecoveredPosition,
  parseStatus,
  sealJoinBundle,
  type JoinBundle,
  type NodePosition,
} from '../../../appliance/cluster/index.js';
import { setElementsInText, withSetElements } from '../../../appliance/system/index.js';
import { testToken } from '../../helpers/token.js';

const layout = layoutUnder('/srv/n1');
const base = { clusterName: 'warden', nodeName: 'n1', address: '127.0.0.1', ports: { mysql: 3306, gmcast: 4567, ist: 4568, sst: 4444 }, members: [{ host: '127.0.0.1', port: 4567 }, { host: '::1', port: 4577 }], layout, sst: { user: 'warden_sst', password: 'abcDEF123' } };

describe('galeraConfig', () => {
  test('TLS for replication and SST, mariabackup, the members, this node\'s ports', () => {
    const c = galeraConfig(base);
    assert.match(c, /^wsrep_cluster_address=gcomm:\/\/127\.0\.0\.1:4567,\[::1\]:4577$/m);
    assert.match(c, /socket\.ssl_cert=\/srv\/n1\/tls\/node\.pem;socket\.ssl_key=\/srv\/n1\/tls\/node\.key;socket\.ssl_ca=\/srv\/n1\/tls\/ca\.pem/);
    assert.match(c, /^wsrep_sst_method=mariabackup$/m);
    assert.match(c, /\[sst\]\nencrypt=3\ntca=\/srv\/n1\/tls\/ca\.pem\ntcert=\/srv\/n1\/tls\/node\.pem\ntkey=\/srv\/n1\/tls\/node\.key\nssl-mode=VERIFY_CA/);
    assert.match(c, /ist\.recv_addr=127\.0\.0\.1:4568/);
    assert.match(c, /^wsrep_sst_receive_address=127\.0\.0\.1:4444$/m);
    assert.doesNotMatch(c, /^user=root$/m);
    assert.match(galeraConfig({ ...base, runAsRoot: true }), /^user=root$/m);
  });
  test('a value that would inject another option, or a bad name, is refused', () => {
    assert.throws(() => galeraConfig({ ...base, layout: { ...layout, datadir: '/x\nwsrep_on=OFF' } }), /line break/);
    assert.throws(() => galeraConfig({ ...base, nodeName: 'a b' }), /node name/);
    assert.throws(() => galeraConfig({ ...base, sst: { user: 'u', password: 'a:b' } }), /SST/);
  });
  test('parseEndpoint: host, host:port, [v6]:port; default port 4567', () => {
    assert.deepEqual(parseEndpoint('127.0.0.1'), { host: '127.0.0.1', port: 4567 });
    assert.deepEqual(parseEndpoint('127.0.0.1:4577'), { host: '127.0.0.1', port: 4577 });
    assert.deepEqual(parseEndpoint('[::1]:4587'), { host: '::1', port: 4587 });
    assert.throws(() => parseEndpoint('127.0.0.1:99999'), /port/);
  });
});

describe('state and position', () => {
  test('parseStatus reads the wsrep variables; a server without wsrep is refused', () => {
    const s = parseStatus([
      ['wsrep_cluster_size', '3'],
      ['wsrep_cluster_status', 'Primary'],
      ['wsrep_local_state_comment', 'Synced'],
      ['wsrep_ready', 'ON'],
      ['wsrep_connected', 'ON'],
      ['wsrep_last_committed', '42'],
      ['wsrep_incoming_addresses', '127.0.0.1:3307,127.0.0.1:3306'],
    ]);
    assert.deepEqual([s.clusterSize, s.clusterStatus, s.localState, s.ready, s.lastCommitted, s.incomingAddresses], [3, 'Primary', 'Synced', true, 42, ['127.0.0.1:3306', '127.0.0.1:3307']]);
    assert.throws(() => parseStatus([['wsrep_on', 'OFF']]), /does not run Galera/);
  });
  test('grastate.dat and a --wsrep-recover log', () => {
    const g = parseGrastate('# GALERA saved state\nversion: 2.1\nuuid:    0c0cfa72-e749-11f1-8c77-3358b61a455b\nseqno:   -1\nsafe_to_bootstrap: 0\n');
    assert.deepEqual(g, { uuid: '0c0cfa72-e749-11f1-8c77-3358b61a455b', seqno: -1, safeToBootstrap: false });
    assert.deepEqual(parseRecoveredPosition('x\n2026-11-23 [Note] WSREP: Recovered position: 0c0cfa72-e749-11f1-8c77-3358b61a455b:17\n'), { uuid: '0c0cfa72-e749-11f1-8c77-3358b61a455b', seqno: 17 });
  });
  test('the bootstrap choice: safe_to_bootstrap, else the highest seqno; different histories: no choice', () => {
    const p = (seqno: number, safe = false, uuid = 'u'): NodePosition => ({ uuid, seqno, safeToBootstrap: safe, from: 'grastate' });
    assert.equal(chooseBootstrapNode([{ name: 'a', position: p(9) }, { name: 'b', position: p(7, true) }])?.name, 'b');
    assert.equal(chooseBootstrapNode([{ name: 'a', position: p(9) }, { name: 'b', position: p(12) }, { name: 'c', position: p(3) }])?.name, 'b');
    assert.equal(chooseBootstrapNode([{ name: 'a', position: p(9, false, 'x') }, { name: 'b', position: p(12, false, 'y') }]), null);
  });
});

test('the firewall policy\'s peer sets are rewritten, and read back', () => {
  const policy = readFileSync(path.resolve('os-overlay/etc/nftables.conf'), 'utf8');
  const one = withSetElements(withSetElements(policy, 'cluster_peers4', ['127.0.0.2', '127.0.0.3']), 'cluster_peers6', ['::1']);
  assert.deepEqual(setElementsInText(one, 'cluster_peers4'), ['127.0.0.2', '127.0.0.3']);
  assert.deepEqual(setElementsInText(one, 'cluster_peers6'), ['::1']);
  const again = withSetElements(one, 'cluster_peers4', ['127.0.0.4']);
  assert.deepEqual(setElementsInText(again, 'cluster_peers4'), ['127.0.0.4']);
  assert.deepEqual(setElementsInText(withSetElements(again, 'cluster_peers4', []), 'cluster_peers4'), []);
  assert.ok(again.includes('tcp dport { 3306, 4444, 4567, 4568 } accept'));
});

test('the join bundle opens under the master key, authenticated, and carries no secret in clear', async () => {
  // (One PKCS#11 configuration per process: a second token's key is the CLI test's refused join.)
  const a = testToken();
  try {
    const bundle: JoinBundle = {
      clusterName: 'warden',
      applianceId: 'app-1',
      members: [{ host: '127.0.0.1', port: 4567 }],
      clients: [{ host: '127.0.0.1', port: 3306 }],
      tls: { caPem: 'CA', certPem: 'CERT', keyPem: '-----BEGIN PRIVATE KEY-----x' },
      sst: { user: 'warden_sst', password: 'SstPassw0rd' },
      app: { user: 'warden', password: 'AppPassw0rd', database: 'warden' },
      createdAt: new Date().toISOString(),
    };
    const text = await sealJoinBundle(a.keys, bundle);
    for (const secret of ['SstPassw0rd', 'AppPassw0rd', 'PRIVATE KEY']) assert.ok(!text.includes(secret), secret);
    assert.deepEqual(await openJoinBundle(a.keys, text), bundle);
    const f = JSON.parse(text);
    const sealed = Buffer.from(f.sealed, 'base64');
    sealed[sealed.length - 5] ^= 1;
    await assert.rejects(openJoinBundle(a.keys, JSON.stringify({ ...f, sealed: sealed.toString('base64') })), (e: Error & { code?: string }) => e.code === 'CLUSTER_BUNDLE_INVALID');
    const tampered = JSON.stringify({ ...JSON.parse(text), applianceId: 'app-2' });
    await assert.rejects(openJoinBundle(a.keys, tampered), /does not match its header/);
  } finally {
    a.cleanup();
  }
});

test('a stale pid file whose pid now belongs to another process: not the server, and stop signals nobody', async () => {
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { spawn } = await import('node:child_process');
  const { layoutUnder, processControl, serverPid } = await import('../../../appliance/cluster/index.js');
  const dir = mkdtempSync(path.join(tmpdir(), 'warden-stale-pid-'));
  // A process that is not this node's mariadbd holds the pid the file names (as after a crash and pid reuse).
  const stranger = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const layout = layoutUnder(dir);
    writeFileSync(layout.pidFile, `${stranger.pid}\n`);
    assert.equal(serverPid(layout), null);
    await processControl(layout).stop();
    assert.equal(stranger.exitCode, null);
    assert.equal(stranger.signalCode, null, 'the stranger was not signalled');
  } finally {
    stranger.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
