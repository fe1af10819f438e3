// Recordings across cluster nodes: two web daemons (separate processes) over one SQLite store and one
// token, with their own node ids, recordings directories and web certificates. A recording made on node A
// is verified and exported through node B's API and through orbit on B (fetched from A over the signed,
// pinned internal call, cached in B's .remote/); A refuses a bad signature, a stale timestamp, a call
// signed for another node and an unknown node; B refuses A when A's certificate is not the pinned one
// (sending nothing), and says clearly that a killed A is unreachable and a departed A has left.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import { createSelfSignedTlsCertificate } from '../../appliance/pki/index.js';
import { ClusterSecret, certificateFingerprint, signInternalCall, internalRecordingPath, CLUSTER_SECRET_META } from '../../appliance/nodes/index.js';
import { initializedHome, strongPassword, type InitializedHome } from '../helpers/fixtures.js';
import { ApiClient, httpsRequest, startWebDaemon, type RunningDaemon } from '../helpers/web-daemon.js';
import { runOrbit } from '../helpers/orbit.js';

const admin = { username: 'admin', ip: '127.0.0.1' };
const OUTPUT = ['ana@db01:~$ ', 'uptime\r\n', ' 10:00:00 up 1 day,  load average: 0.00\r\n', 'ana@db01:~$ '];
const NODE_B = 'node-b';

/** The output events of an asciicast, concatenated. */
function castOutput(cast: string): string {
  return cast
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((l) => JSON.parse(l) as [number, string, string])
    .filter((e) => e[1] === 'o')
    .map((e) => e[2])
    .join('');
}

describe('recordings across nodes', () => {
  let home: InitializedHome;
  let a: Appliance;
  let nodeA = '';
  let bConfig = '';
  let bRecordings = '';
  let dA: RunningDaemon;
  let dB: RunningDaemon;
  let auditor: ApiClient;
  let secret: Buffer;
  const ids: string[] = [];
  const target = { user: 0, device: 0, credential: 0 };

  /** Record a short terminal session on node A (in this process, with A's config). */
  async function recordOnA(): Promise<string> {
    const admitted = await a.sessions.open({ userId: target.user, deviceId: target.device, credentialId: target.credential, protocol: 'ssh', source: '127.0.0.1' });
    assert.ok(admitted.admitted);
    const rec = await a.recordings.start(admitted.session, { cols: 100, rows: 30, term: 'xterm-256color' });
    for (const o of OUTPUT) {
      rec.writer.output(Buffer.from(o));
      await rec.writer.flush();
    }
    await rec.close();
    await admitted.session.close({ reason: 'client-closed' });
    return rec.id;
  }

  async function auditRows(type: string, subject: string) {
    return a.store.db.selectFrom('audit_events').selectAll().where('type', '=', type).where('subject', '=', subject).orderBy('seq').execute();
  }

  before(async () => {
    home = await initializedHome();
    const configA = loadConfig({ WARDEN_HOME: home.home });
    nodeA = configA.node.id;
    // Node B: the same database and token, its own node id, recordings directory and web certificate.
    const bDir = path.join(home.home, 'node-b');
    mkdirSync(bDir, { mode: 0o700 });
    bRecordings = path.join(bDir, 'recordings');
    const pair = await createSelfSignedTlsCertificate({ commonName: 'node-b', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], days: 30 });
    writeFileSync(path.join(bDir, 'web.crt'), pair.certPem, { mode: 0o600 });
    writeFileSync(path.join(bDir, 'web.key'), pair.keyPem, { mode: 0o600 });
    const raw = JSON.parse(readFileSync(home.configFile, 'utf8')) as Record<string, Record<string, unknown>>;
    raw.web = { ...raw.web, tlsCert: path.join(bDir, 'web.crt'), tlsKey: path.join(bDir, 'web.key') };
    raw.recordings = { dir: bRecordings };
    raw.node = { id: NODE_B, name: 'warden-b' };
    bConfig = path.join(bDir, 'warden.json');
    writeFileSync(bConfig, JSON.stringify(raw, null, 2), { mode: 0o600 });

    a = await Appliance.open(configA);
    const ana = await a.users.create(admin, { username: 'ana', fullName: 'Ana', email: 'ana@example.test', profile: 'privileged-access-user', password: strongPassword() });
    const audrey = await a.users.create(admin, { username: 'audrey', fullName: 'Audrey', email: 'audrey@example.test', profile: 'auditor' });
    const device = (await a.devices.createDevice(admin, { hostname: 'db01', address: '127.0.0.21', connectivity: 'SSH:22' })).id;
    const credential = (await a.credentials.createCredential(admin, { deviceId: device, username: 'root', secret: 'Target-S3cret-value' })).id;
    await a.accessGroups.saveGroup(admin, { name: 'db', userIds: [ana.user.id], deviceIds: [device], credentialIds: [credential] });
    Object.assign(target, { user: ana.user.id, device, credential });
    ids.push(await recordOnA(), await recordOnA(), await recordOnA(), await recordOnA());

    dA = await startWebDaemon(home);
    dB = { ...(await startWebDaemon({ ...home, configFile: bConfig })), ca: Buffer.from(pair.certPem) };
    const at = Date.now();
    await a.store.repos.clusterNodes.register({ id: nodeA, name: 'warden-a', internalUrl: `https://127.0.0.1:${dA.httpsPort}`, tlsFingerprint: certificateFingerprint(dA.ca), at });
    await a.store.repos.clusterNodes.register({ id: NODE_B, name: 'warden-b', internalUrl: `https://127.0.0.1:${dB.httpsPort}`, tlsFingerprint: certificateFingerprint(pair.certPem), at });
    auditor = new ApiClient(dB);
    await auditor.loginAndChange('audrey', audrey.oneTimePassword!, strongPassword());
  });
  after(async () => {
    await dA?.stop();
    await dB?.stop();
    await a?.close();
    home?.cleanup();
  });

  test('orbit init gave node A an id; the writer stored it with each recording; the API shows it', async () => {
    assert.match(nodeA, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    for (const id of ids) assert.equal((await a.store.repos.recordings.byId(id))?.node_id, nodeA);
    const one = await auditor.call('GET', `/api/v1/recordings/${ids[0]}`);
    assert.equal(one.status, 200, one.body);
    assert.equal(one.json.recording.node, nodeA);
    assert.equal(existsSync(path.join(bRecordings, (await a.store.repos.recordings.byId(ids[0]!))!.file)), false, 'the file is not on node B');
  });

  test('a recording made on node A is verified and exported through node B: fetched, cached in .remote/, audited on both nodes', async () => {
    const id = ids[0]!;
    const v = await auditor.call('GET', `/api/v1/recordings/${id}/verify`);
    assert.equal(v.status, 200, v.body);
    assert.deepEqual({ ok: v.json.verdict.ok, complete: v.json.verdict.complete, chunks: v.json.verdict.chunks }, { ok: true, complete: true, chunks: 5 });
    const file = (await a.store.repos.recordings.byId(id))!.file;
    const cached = path.join(bRecordings, '.remote', file);
    assert.deepEqual(readFileSync(cached), readFileSync(path.join(home.home, 'recordings', file)), 'the cached copy is the stored (encrypted) file');
    const cast = await auditor.call('GET', `/api/v1/recordings/${id}/asciicast`);
    assert.equal(cast.status, 200, cast.body);
    assert.equal(castOutput(cast.body), OUTPUT.join(''));
    const fetched = await auditRows('recording.fetched', `recording:${id}`);
    assert.equal(fetched.length, 1, 'the second read used the cached copy of the finished recording');
    assert.deepEqual(JSON.parse(fetched[0]!.detail), { node: nodeA, bytes: readFileSync(cached).length });
    assert.equal(fetched[0]!.actor, 'audrey');
    const served = await auditRows('recording.served', `recording:${id}`);
    assert.equal(served.length, 1);
    assert.equal(served[0]!.actor, `node:${NODE_B}`);
    // The secret was created at the first need, sealed (never stored in clear), and audited.
    const sealed = await a.store.repos.meta.get(CLUSTER_SECRET_META);
    assert.ok(sealed);
    const opened = await new ClusterSecret({ store: a.store, audit: a.audit, vault: a.vault }).get();
    assert.equal(Buffer.from(sealed, 'base64').includes(opened), false);
    assert.equal((await a.store.db.selectFrom('audit_events').select('seq').where('type', '=', 'cluster.secret_created').execute()).length, 1);
  });

  test('orbit on node B exports a recording made on node A', async () => {
    const id = ids[1]!;
    const out = path.join(home.home, 'b.cast');
    const r = await runOrbit(home.home, ['--config', bConfig, 'recording', 'export', id, '--output', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(castOutput(readFileSync(out, 'utf8')), OUTPUT.join(''));
    assert.equal((await auditRows('recording.fetched', `recording:${id}`)).length, 1);
  });

  test('node A refuses a bad signature, a stale timestamp, a call signed for another node and an unknown node: 401, audited with the reason, never the secret', async () => {
    const id = ids[0]!;
    // The test holds the token too: it signs as a node would.
    secret = await new ClusterSecret({ store: a.store, audit: a.audit, vault: a.vault }).get();
    const target = internalRecordingPath(id);
    const call = (headers: Record<string, string>) => httpsRequest(dA, { path: target, headers });
    const signed = (o: { from?: string; to?: string; timestamp?: number; path?: string }) =>
      signInternalCall(secret, { method: 'GET', path: o.path ?? target, timestamp: o.timestamp ?? Date.now(), from: o.from ?? NODE_B, to: o.to ?? nodeA });

    const good = await call(signed({}));
    assert.equal(good.status, 200, 'the same call, rightly signed, is served');
    const before = (await auditRows('recording.serve_refused', `recording:${id}`)).length;
    const forged = signed({});
    forged['x-warden-signature'] = forged['x-warden-signature']!.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    const cases: [string, Record<string, string>, string][] = [
      ['no signature', {}, 'CLUSTER_SIGNATURE_INVALID'],
      ['a forged signature', forged, 'CLUSTER_SIGNATURE_INVALID'],
      ['signed under another secret', signInternalCall(Buffer.alloc(32, 7), { method: 'GET', path: target, timestamp: Date.now(), from: NODE_B, to: nodeA }), 'CLUSTER_SIGNATURE_INVALID'],
      ['signed for node B, sent to A', signed({ to: NODE_B }), 'CLUSTER_SIGNATURE_INVALID'],
      ['signed for another recording', signed({ path: internalRecordingPath(ids[1]!) }), 'CLUSTER_SIGNATURE_INVALID'],
      ['signed 61 s ago', signed({ timestamp: Date.now() - 61_000 }), 'CLUSTER_TIMESTAMP_STALE'],
      ['signed 61 s ahead', signed({ timestamp: Date.now() + 61_000 }), 'CLUSTER_TIMESTAMP_STALE'],
      ['from an unknown node', signed({ from: 'node-x' }), 'CLUSTER_NODE_UNKNOWN'],
    ];
    for (const [what, headers] of cases) {
      const r = await call(headers);
      assert.equal(r.status, 401, what);
      assert.deepEqual(r.json, { error: 'AUTH_INVALID', message: 'Invalid user credentials' }, what);
      assert.equal(r.body.includes(secret.toString('hex')), false);
    }
    const refused = (await auditRows('recording.serve_refused', `recording:${id}`)).slice(before);
    assert.deepEqual(refused.map((r) => r.code), cases.map((c) => c[2]));
    for (const r of refused) {
      assert.equal(r.outcome, 'failure');
      assert.equal(r.detail.includes(secret.toString('hex')) || r.detail.includes(secret.toString('base64')), false);
    }
    assert.equal(JSON.parse(refused.at(-1)!.detail).node, 'node-x');
  });

  test("node B refuses node A when A's certificate is not the pinned one, and sends it nothing", async () => {
    const id = ids[2]!;
    await a.store.repos.clusterNodes.update(nodeA, { tlsFingerprint: 'f'.repeat(64), at: Date.now() });
    try {
      const servedBefore = (await a.store.db.selectFrom('audit_events').select('seq').where('type', 'in', ['recording.served', 'recording.serve_refused']).execute()).length;
      const r = await auditor.call('GET', `/api/v1/recordings/${id}/asciicast`);
      assert.equal(r.status, 502, r.body);
      assert.equal(r.json.error, 'CLUSTER_PEER_UNTRUSTED');
      assert.match(r.json.message, /showed a certificate other than the one pinned for it .*nothing was sent/);
      const failed = await auditRows('recording.fetch_failed', `recording:${id}`);
      assert.deepEqual(failed.map((f) => f.code), ['CLUSTER_PEER_UNTRUSTED']);
      const servedAfter = (await a.store.db.selectFrom('audit_events').select('seq').where('type', 'in', ['recording.served', 'recording.serve_refused']).execute()).length;
      assert.equal(servedAfter, servedBefore, 'node A received no call');
      const file = (await a.store.repos.recordings.byId(id))!.file;
      assert.equal(existsSync(path.join(bRecordings, '.remote', file)), false);
    } finally {
      await a.store.repos.clusterNodes.update(nodeA, { tlsFingerprint: certificateFingerprint(dA.ca), at: Date.now() });
    }
  });

  test('a killed node A: "the recording is on node warden-a (...), unreachable"; a departed one: "has left"', async () => {
    const id = ids[3]!;
    assert.equal(await dA.stop(), 0);
    const r = await auditor.call('GET', `/api/v1/recordings/${id}/asciicast`);
    assert.equal(r.status, 502, r.body);
    assert.equal(r.json.error, 'CLUSTER_NODE_UNREACHABLE');
    assert.equal(r.json.message, `the recording is on node warden-a (${nodeA}), unreachable: ECONNREFUSED`);
    // A recording already fetched is still read from the copy.
    assert.equal((await auditor.call('GET', `/api/v1/recordings/${ids[0]}/verify`)).json.verdict.ok, true);
    await a.store.repos.clusterNodes.markLeft(nodeA, Date.now());
    const left = await auditor.call('GET', `/api/v1/recordings/${id}/verify`);
    assert.equal(left.status, 502);
    assert.deepEqual(left.json, { error: 'CLUSTER_NODE_LEFT', message: `the recording is on node warden-a (${nodeA}), which has left the cluster` });
    assert.deepEqual((await auditRows('recording.fetch_failed', `recording:${id}`)).map((f) => f.code), ['CLUSTER_NODE_UNREACHABLE', 'CLUSTER_NODE_LEFT']);
    const orbit = await runOrbit(home.home, ['--config', bConfig, 'recording', 'verify', id]);
    assert.equal(orbit.code, 1);
    assert.match(orbit.stderr, /which has left the cluster/);
  });

  test('recordings made before clustering (no node, or the default "local") are adopted by the first node', async () => {
    const id = ids[3]!;
    await a.store.db.updateTable('recordings').set({ node_id: null }).where('id', '=', id).execute();
    await a.store.db.updateTable('recordings').set({ node_id: 'local' }).where('id', '=', ids[2]!).execute();
    assert.equal(await a.store.repos.recordings.adoptUnowned(nodeA), 2);
    assert.equal((await a.store.repos.recordings.byId(id))?.node_id, nodeA);
    assert.equal((await a.store.repos.recordings.byId(ids[2]!))?.node_id, nodeA);
  });
});
