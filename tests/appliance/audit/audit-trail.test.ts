import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { services, type Services } from '../../helpers/fixtures.js';
import { GENESIS_HASH } from '../../../appliance/audit/index.js';

describe('hash-chained audit trail', () => {
  let s: Services;
  before(async () => {
    s = await services();
    for (let i = 0; i < 30; i++) {
      await s.audit.record({ type: 'auth.login', outcome: i % 3 === 0 ? 'failure' : 'success', actor: `user${i}`, subject: 'Пётр 王 محمد', code: i % 3 === 0 ? 'AUTH_BAD_PASSWORD' : null, detail: { attempts: i } });
    }
  });
  after(async () => s.close());

  test('an untouched chain verifies', async () => {
    assert.deepEqual(await s.audit.verify(), { ok: true, rows: 30, lastSeq: 30, anchors: 0, nodes: { '': 30 } });
  });

  test('the first row links to the genesis hash, each next row to the one before', async () => {
    const rows = await s.store.repos.auditEvents.page(0, 100);
    assert.equal(rows[0]!.prev_hash, GENESIS_HASH);
    for (let i = 1; i < rows.length; i++) assert.equal(rows[i]!.prev_hash, rows[i - 1]!.hash);
  });

  test('secrets in the detail are redacted before they are hashed and stored', async () => {
    const row = await s.audit.record({ type: 'settings.change', outcome: 'info', detail: { changes: { password: 'hunter2', pin: '1234', nested: { clientSecret: 'abc' }, ok: 'visible' } } });
    assert.doesNotMatch(row.detail, /hunter2|1234|abc/);
    assert.match(row.detail, /visible/);
    await s.store.db.deleteFrom('audit_events').where('seq', '=', row.seq).execute();
  });

  // In one process the writers take turns on the one connection; writers in two processes: two-process-chain.test.ts.
  test('concurrent writers in one process keep one unbroken chain', async () => {
    await Promise.all(Array.from({ length: 40 }, (_, i) => s.audit.record({ type: 'auth.login', outcome: 'info', detail: { attempts: i } })));
    const v = await s.audit.verify();
    assert.equal(v.ok, true);
    assert.equal(v.rows, 70);
  });

  const tampers: [string, string, number][] = [
    ['an edited detail', "UPDATE audit_events SET detail = '{\"i\":999}' WHERE seq = 12", 12],
    ['an edited outcome', "UPDATE audit_events SET outcome = 'success' WHERE seq = 4", 4],
    ['an edited timestamp', 'UPDATE audit_events SET ts = ts + 1 WHERE seq = 20', 20],
    ['a deleted row', 'DELETE FROM audit_events WHERE seq = 7', 7],
    ['a recomputed hash without relinking', "UPDATE audit_events SET hash = 'ab' || substr(hash, 3) WHERE seq = 15", 15],
  ];
  for (const [what, statement, broken] of tampers) {
    test(`${what} is found at its row`, async () => {
      const snapshot = await s.store.db.selectFrom('audit_events').selectAll().execute();
      await sql.raw(statement).execute(s.store.db);
      const v = await s.audit.verify();
      assert.equal(v.ok, false);
      assert.equal(v.ok === false && v.brokenSeq, broken);
      // Restore for the next case.
      await s.store.db.deleteFrom('audit_events').execute();
      for (const r of snapshot) await s.store.db.insertInto('audit_events').values(r).execute();
      assert.equal((await s.audit.verify()).ok, true);
    });
  }

  test('the verifier pages through long chains', async () => {
    const v = await s.audit.verify({ pageSize: 7 });
    assert.equal(v.ok, true);
    assert.equal(v.rows, 70);
  });

  test('exporters hear of an event only once its transaction committed, and never of a rolled-back one', async () => {
    const heard: string[] = [];
    s.audit.subscribe((row) => heard.push(row.type));
    await assert.rejects(
      s.audit.withChange({ type: 'user.disable', outcome: 'info' }, async () => {
        throw new Error('the change failed');
      }),
      /the change failed/,
    );
    await s.audit.withChange({ type: 'user.enable', outcome: 'info' }, async (repos) => {
      await repos.meta.set('test.key', 'v');
      assert.deepEqual(heard, [], 'nothing published before the commit');
    });
    assert.deepEqual(heard, ['user.enable']);
    assert.equal((await s.store.repos.auditEvents.query({ type: 'user.disable', limit: 1 })).length, 0);
  });
});
