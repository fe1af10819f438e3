// On a cluster every node appends to the one chain and says so in the row it forges: the node id is under the
// keyed link (changing it breaks the chain), rows from before node ids keep their links, and verify counts
// each node's rows.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { services, softwareChainKey, type Services } from '../../helpers/fixtures.js';
import { AuditTrail } from '../../../appliance/audit/index.js';

describe('audit rows name the cluster node that wrote them', () => {
  let s: Services;
  before(async () => {
    s = await services();
  });
  after(async () => s.close());

  test('two nodes and the single appliance before them write one chain, counted per node', async () => {
    const key = softwareChainKey();
    const before = new AuditTrail(s.store, { key });
    const a = new AuditTrail(s.store, { key, node: 'node-a' });
    const b = new AuditTrail(s.store, { key, node: 'node-b' });
    for (let i = 0; i < 3; i++) await before.record({ type: 'auth.login', outcome: 'success', actor: `u${i}` });
    // Interleaved, concurrently: the chain stays one chain.
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).record({ type: 'auth.login', outcome: 'success', actor: `v${i}` })));
    const verdict = await a.verify();
    assert.deepEqual(verdict, { ok: true, rows: 13, lastSeq: 13, anchors: 0, nodes: { '': 3, 'node-a': 5, 'node-b': 5 } });
    const rows = await s.store.repos.auditEvents.page(0, 100);
    assert.deepEqual(
      rows.map((r) => r.node_id),
      [null, null, null, ...rows.slice(3).map((r) => r.node_id)],
    );
    assert.ok(rows.slice(3).every((r) => r.node_id === 'node-a' || r.node_id === 'node-b'));

    // The node id is covered by the keyed link: claiming another node's row is caught.
    const victim = rows.find((r) => r.node_id === 'node-a')!;
    await s.store.db.updateTable('audit_events').set({ node_id: 'node-b' }).where('seq', '=', victim.seq).execute();
    const broken = await a.verify();
    assert.equal(broken.ok, false);
    assert.equal(!broken.ok && broken.brokenSeq, Number(victim.seq));
    // So is erasing it (a row made to look older than clustering).
    await s.store.db.updateTable('audit_events').set({ node_id: null }).where('seq', '=', victim.seq).execute();
    assert.equal((await a.verify()).ok, false);
    await s.store.db.updateTable('audit_events').set({ node_id: 'node-a' }).where('seq', '=', victim.seq).execute();
    assert.equal((await a.verify()).ok, true);
  });
});
