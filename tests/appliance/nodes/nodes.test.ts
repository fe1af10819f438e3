// The cluster secret (created at first need, sealed by the vault, one winner among concurrent creators,
// re-wrapped by a master key rotation), the signature of internal calls (method, path, time, both nodes;
// ±60 s) and this node's row for cluster_nodes.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createSelfSignedTlsCertificate } from '../../../appliance/pki/index.js';
import { buildConfig } from '../../../appliance/config/index.js';
import { Appliance } from '../../../appliance/index.js';
import { loadConfig } from '../../../appliance/config/index.js';
import { AuthError } from '../../../appliance/errors/index.js';
import { ClusterSecret, CLUSTER_SECRET_META, INTERNAL_CLOCK_SKEW_MS, certificateFingerprint, nodeRegistration, signInternalCall, verifyInternalCall } from '../../../appliance/nodes/index.js';
import { initializedHome, type InitializedHome } from '../../helpers/fixtures.js';

const refusedWith = (code: string) => (e: unknown) => e instanceof AuthError && e.code === code;

describe('internal call signature', () => {
  const secret = Buffer.alloc(32, 1);
  const now = 1_800_000_000_000;
  const call = { method: 'GET', path: '/internal/recordings/x', timestamp: now, from: 'node-b', to: 'node-a' };
  const request = (headers: Record<string, string>, o: { method?: string; path?: string } = {}) => ({ method: o.method ?? 'GET', path: o.path ?? call.path, headers });

  test('a signed call verifies on the node it was signed for, within ±60 s, and names its caller', () => {
    const h = signInternalCall(secret, call);
    assert.equal(verifyInternalCall(secret, request(h), 'node-a', now), 'node-b');
    assert.equal(verifyInternalCall(secret, request(h), 'node-a', now + INTERNAL_CLOCK_SKEW_MS), 'node-b');
    assert.equal(verifyInternalCall(secret, request(h), 'node-a', now - INTERNAL_CLOCK_SKEW_MS), 'node-b');
  });

  test('refused: another method, path, node called, caller, secret, a changed signature; malformed headers', () => {
    const h = signInternalCall(secret, call);
    const bad = refusedWith('CLUSTER_SIGNATURE_INVALID');
    assert.throws(() => verifyInternalCall(secret, request(h, { method: 'POST' }), 'node-a', now), bad);
    assert.throws(() => verifyInternalCall(secret, request(h, { path: '/internal/recordings/y' }), 'node-a', now), bad);
    assert.throws(() => verifyInternalCall(secret, request(h), 'node-c', now), bad);
    assert.throws(() => verifyInternalCall(secret, request({ ...h, 'x-warden-node': 'node-c' }), 'node-a', now), bad);
    assert.throws(() => verifyInternalCall(Buffer.alloc(32, 2), request(h), 'node-a', now), bad);
    assert.throws(() => verifyInternalCall(secret, request({ ...h, 'x-warden-timestamp': String(now + 1) }), 'node-a', now), bad);
    for (const k of Object.keys(h)) {
      const partial = { ...h };
      delete partial[k];
      assert.throws(() => verifyInternalCall(secret, request(partial), 'node-a', now), bad, `without ${k}`);
    }
    assert.throws(() => verifyInternalCall(secret, request({ ...h, 'x-warden-signature': h['x-warden-signature']!.slice(2) }), 'node-a', now), bad);
    assert.throws(() => verifyInternalCall(secret, request({ ...h, 'x-warden-timestamp': '-5' }), 'node-a', now), bad);
  });

  test('refused: a timestamp more than 60 s from now, either way', () => {
    const h = signInternalCall(secret, call);
    assert.throws(() => verifyInternalCall(secret, request(h), 'node-a', now + INTERNAL_CLOCK_SKEW_MS + 1), refusedWith('CLUSTER_TIMESTAMP_STALE'));
    assert.throws(() => verifyInternalCall(secret, request(h), 'node-a', now - INTERNAL_CLOCK_SKEW_MS - 1), refusedWith('CLUSTER_TIMESTAMP_STALE'));
  });
});

describe('cluster secret', () => {
  let home: InitializedHome;
  let a: Appliance;

  before(async () => {
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
  });
  after(async () => {
    await a?.close();
    home?.cleanup();
  });

  const fresh = () => new ClusterSecret({ store: a.store, audit: a.audit, vault: a.vault });
  const created = async () => (await a.store.db.selectFrom('audit_events').select('seq').where('type', '=', 'cluster.secret_created').execute()).length;

  test('none until first need; concurrent creators end with one secret, sealed, created once (one audit row)', async () => {
    assert.equal(await fresh().existing(), undefined, 'a node answering a call never creates it');
    assert.equal(await a.store.repos.meta.get(CLUSTER_SECRET_META), undefined);
    const got = await Promise.all([fresh().get(), fresh().get(), fresh().get(), fresh().get()]);
    assert.equal(got[0]!.length, 32);
    for (const s of got) assert.deepEqual(s, got[0]);
    assert.equal(await created(), 1);
    const sealed = Buffer.from((await a.store.repos.meta.get(CLUSTER_SECRET_META))!, 'base64');
    assert.equal(sealed.includes(got[0]!), false, 'stored sealed, not in clear');
    assert.deepEqual(await fresh().existing(), got[0]);
  });

  test('a master key rotation re-wraps it: the same secret opens afterwards', async () => {
    const before = await fresh().get();
    const sealedBefore = await a.store.repos.meta.get(CLUSTER_SECRET_META);
    await a.rotateMasterKey({ custodians: 3, threshold: 2, actor: 'test', writeShares: () => {} });
    assert.notEqual(await a.store.repos.meta.get(CLUSTER_SECRET_META), sealedBefore);
    assert.deepEqual(await fresh().get(), before);
    assert.equal(await created(), 1);
  });
});

describe('this node\'s registration', () => {
  test('id and name from the config, the web certificate\'s pin, https://publicHost:httpsPort unless told', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'warden-node-'));
    try {
      const pair = await createSelfSignedTlsCertificate({ commonName: 'a', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], days: 1 });
      writeFileSync(path.join(dir, 'web.crt'), pair.certPem);
      const config = buildConfig({ node: { id: 'node-a', name: 'warden-a' }, web: { publicHost: 'warden-a.example.test', httpsPort: 8443, tlsCert: 'web.crt' } }, dir);
      const r = nodeRegistration(config, { at: 5 });
      const fp = certificateFingerprint(pair.certPem);
      assert.match(fp, /^[0-9a-f]{64}$/);
      assert.equal(fp, new X509Certificate(pair.certPem).fingerprint256.replace(/:/g, '').toLowerCase());
      assert.deepEqual(r, { id: 'node-a', name: 'warden-a', internalUrl: 'https://warden-a.example.test:8443', tlsFingerprint: fp, at: 5 });
      assert.equal(nodeRegistration(config, { at: 5, internalUrl: 'https://127.0.0.1:9443' }).internalUrl, 'https://127.0.0.1:9443');
      assert.equal(nodeRegistration({ ...config, web: { ...config.web, publicHost: '::1' } }, { at: 5 }).internalUrl, 'https://[::1]:8443');
      for (const bad of ['http://127.0.0.1:80', 'https://127.0.0.1:9443/x', 'nope']) assert.throws(() => nodeRegistration(config, { at: 5, internalUrl: bad }), /URL/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("this node's certificate pin", () => {
  let home: InitializedHome;
  let a: Appliance;
  before(async () => {
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
  });
  after(async () => {
    await a?.close();
    home?.cleanup();
  });

  test('the web daemon publishes the certificate it serves: a changed pin is updated and audited, an unchanged one or an unregistered node is left alone', async () => {
    const me = a.remoteRecordings.nodeId;
    const pin = (b: number) => Array.from({ length: 32 }, () => b.toString(16).padStart(2, '0')).join('');
    const colons = (hex: string) => hex.toUpperCase().match(/../g)!.join(':');
    assert.equal(await a.remoteRecordings.publishOwnPin(colons(pin(1))), false, 'not a registered node: nothing to publish');
    await a.store.repos.clusterNodes.register({ id: me, name: 'me', internalUrl: 'https://127.0.0.1:9443', tlsFingerprint: pin(1), at: 1 });
    assert.equal(await a.remoteRecordings.publishOwnPin(colons(pin(1))), false, 'the same certificate: nothing changes');
    assert.equal(await a.remoteRecordings.publishOwnPin(colons(pin(2))), true);
    assert.equal((await a.store.repos.clusterNodes.get(me))!.tls_fingerprint, pin(2));
    const audited = await a.audit.events({ type: 'cluster.node_pin_updated', limit: 5 });
    assert.equal(audited.length, 1);
    assert.deepEqual(audited[0]!.detail, { previousFingerprint: pin(1), fingerprint: pin(2) });
    await a.store.repos.clusterNodes.markLeft(me, 2);
    assert.equal(await a.remoteRecordings.publishOwnPin(colons(pin(3))), false, 'a node that left publishes nothing');
  });
});
