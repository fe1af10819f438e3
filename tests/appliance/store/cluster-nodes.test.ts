// Migration 0017: the cluster's nodes (register, update, leave, rejoin, list) and the node a recording's
// file lives on (recordings.node_id; its adoption is tested with real recordings in tests/integration/remote-recordings).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Store, isUniqueViolation } from '../../../appliance/store/index.js';
import { tempDir } from '../../helpers/fixtures.js';

const FP_A = 'a'.repeat(64);
const FP_B = 'b'.repeat(64);

describe('cluster_nodes repository and recordings.node_id', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: Store;

  before(async () => {
    tmp = tempDir();
    store = await Store.open({ sqlitePath: path.join(tmp.dir, 'warden.db') });
  });
  after(async () => {
    await store.close();
    tmp.cleanup();
  });

  test('register adds a node; register again under the same id is a rejoin; update changes the address and pin; markLeft once', async () => {
    const nodes = store.repos.clusterNodes;
    assert.equal(await nodes.register({ id: 'node-a', name: 'warden-a', internalUrl: 'https://127.0.0.1:8443', tlsFingerprint: FP_A, at: 1000 }), 'added');
    assert.equal(await nodes.register({ id: 'node-b', name: 'warden-b', internalUrl: 'https://127.0.0.2:8443', tlsFingerprint: FP_B, at: 2000 }), 'added');
    assert.deepEqual(await nodes.get('node-a'), { id: 'node-a', name: 'warden-a', internal_url: 'https://127.0.0.1:8443', tls_fingerprint: FP_A, state: 'active', joined_at: 1000, left_at: null, updated_at: 1000 });
    assert.equal(await nodes.get('nobody'), undefined);

    assert.equal(await nodes.update('node-a', { internalUrl: 'https://127.0.0.1:9443', tlsFingerprint: FP_B, at: 1500 }), true);
    assert.equal(await nodes.update('nobody', { name: 'x', at: 1500 }), false);
    const a = await nodes.get('node-a');
    assert.deepEqual([a?.internal_url, a?.tls_fingerprint, a?.name, a?.updated_at], ['https://127.0.0.1:9443', FP_B, 'warden-a', 1500]);

    assert.equal(await nodes.markLeft('node-b', 3000), true);
    assert.equal(await nodes.markLeft('node-b', 3500), false, 'a node leaves once');
    assert.deepEqual((await nodes.list({ activeOnly: true })).map((n) => n.id), ['node-a']);
    assert.deepEqual((await nodes.list()).map((n) => [n.id, n.state, n.left_at]), [['node-a', 'active', null], ['node-b', 'left', 3000]]);

    assert.equal(await nodes.register({ id: 'node-b', name: 'warden-b2', internalUrl: 'https://127.0.0.2:8443', tlsFingerprint: FP_A, at: 4000 }), 'rejoined');
    const b = await nodes.get('node-b');
    assert.deepEqual([b?.state, b?.left_at, b?.joined_at, b?.name], ['active', null, 4000, 'warden-b2']);
  });

  test('the node id is the primary key: a second insert of the same id is a unique violation', async () => {
    await assert.rejects(
      store.db.insertInto('cluster_nodes').values({ id: 'node-a', name: 'x', internal_url: 'https://127.0.0.1:1', tls_fingerprint: FP_A, state: 'active', joined_at: 1, left_at: null, updated_at: 1 }).execute(),
      (e) => isUniqueViolation(e),
    );
  });

  test('recordings have a node_id column (null by default: made before clustering)', async () => {
    assert.deepEqual(await store.db.selectFrom('recordings').select(['id', 'node_id']).execute(), []);
  });
});
