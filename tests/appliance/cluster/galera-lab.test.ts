// The lab itself, on real servers: three Galera nodes on loopback over TLS come up (bootstrap + two SSTs by
// mariabackup), replicate, a killed node comes back by IST, and after a full stop the bootstrap choice is
// the last node to leave. Times are reported as diagnostics, not asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startGaleraLab, type GaleraLab } from '../../helpers/galera.js';
import { chooseBootstrapNode, createAppDatabase, nodePosition, readGrastate } from '../../../appliance/cluster/index.js';
import { Store } from '../../../appliance/store/index.js';

const secs = (ms: number) => (ms / 1000).toFixed(1) + ' s';

test('a 3-node Galera lab over TLS: SST joins, IST rejoin, full stop and the bootstrap choice', { timeout: 600_000 }, async (t) => {
  const t0 = performance.now();
  const lab: GaleraLab = await startGaleraLab({ nodes: 3 });
  t.diagnostic(`3 nodes synced (bootstrap + 2 SST) in ${secs(performance.now() - t0)}`);
  try {
    const [a, b, c] = lab.nodes as [GaleraLab['nodes'][0], GaleraLab['nodes'][0], GaleraLab['nodes'][0]];
    const s = await c.status();
    assert.equal(s.clusterSize, 3);
    assert.equal(s.localState, 'Synced');
    assert.equal(s.incomingAddresses.length, 3);
    // Replication and SST went over TLS: each joiner's log says so.
    const log2 = readFileSync(b.layout.errorLog, 'utf8');
    assert.match(log2, /listening at ssl:\/\//);
    assert.match(log2, /Using openssl based encryption with socat/);

    await a.sql('CREATE DATABASE lab; CREATE TABLE lab.t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO lab.t VALUES (1, "one");');
    assert.deepEqual(await c.sql('SELECT v FROM lab.t WHERE id = 1'), [['one']]);

    // A crash: the node leaves, the others keep writing, it comes back by IST (not a full SST).
    await b.kill();
    assert.equal(readGrastate(b.layout)?.seqno, -1);
    for (let i = 2; i <= 50; i++) await a.sql(`INSERT INTO lab.t VALUES (${i}, 'v${i}')`);
    const sstsBefore = (readFileSync(b.layout.errorLog, 'utf8').match(/Proceeding with SST/g) ?? []).length;
    const ist = await b.start();
    t.diagnostic(`a killed node rejoined by IST in ${secs(ist)}`);
    const logAfter = readFileSync(b.layout.errorLog, 'utf8');
    assert.equal((logAfter.match(/Proceeding with SST/g) ?? []).length, sstsBefore, 'no new SST');
    assert.match(logAfter, /IST received|Receiving IST/);
    assert.deepEqual(await b.sql('SELECT COUNT(*) FROM lab.t'), [['50']]);

    // A store configured with node A alone (as the first node is, before anyone joined) learns the other
    // members from what the cluster announces, and goes on through them when A's server dies.
    await createAppDatabase(a.admin, { database: 'warden_lab', user: 'warden_lab', password: 'lab-password-1', hosts: [] });
    const store = await Store.open({ engine: 'mariadb', mariadb: { hosts: [{ host: '127.0.0.1', port: a.ports.mysql }], user: 'warden_lab', password: 'lab-password-1', database: 'warden_lab' } });
    try {
      await store.repos.meta.set('before', 'A alive');
      await a.kill();
      assert.equal(await store.repos.meta.get('before'), 'A alive', 'a read (outside a transaction) through B or C');
      await store.transaction((repos) => repos.meta.set('during', 'A dead'));
      assert.deepEqual(await c.sql("SELECT value FROM warden_lab.appliance_meta WHERE `key` = 'during'"), [['A dead']]);
      await a.start();
      assert.deepEqual(await a.sql("SELECT value FROM warden_lab.appliance_meta WHERE `key` = 'during'"), [['A dead']]);
    } finally {
      await store.close();
    }

    // A full stop, one by one: the last to leave is the one safe to bootstrap.
    await c.stop();
    await a.stop();
    await b.stop();
    const positions = lab.nodes.map((n) => ({ name: n.name, position: { ...readGrastate(n.layout)!, from: 'grastate' as const } }));
    assert.deepEqual(positions.map((p) => p.position.safeToBootstrap), [false, true, false]);
    assert.equal(chooseBootstrapNode(positions)?.name, 'node2');
    const tb = performance.now();
    await b.start({ bootstrap: true });
    await a.start();
    await c.start();
    t.diagnostic(`after a full stop: bootstrap + 2 rejoins (IST) in ${secs(performance.now() - tb)}`);
    assert.deepEqual(await c.sql('SELECT COUNT(*) FROM lab.t'), [['50']]);
    assert.equal((await a.status()).clusterSize, 3);

    // A node killed with the others running, then everything killed: seqno -1 everywhere, recovered from InnoDB.
    await a.sql("INSERT INTO lab.t VALUES (51, 'last')");
    for (const n of lab.nodes) await n.kill();
    const recovered = [];
    for (const n of lab.nodes) recovered.push({ name: n.name, position: await nodePosition(n.layout) });
    for (const r of recovered) {
      assert.equal(r.position.from, 'recovered');
      assert.ok(r.position.seqno > 0);
    }
    assert.ok(chooseBootstrapNode(recovered) !== null);
  } finally {
    await lab.cleanup();
  }
});
