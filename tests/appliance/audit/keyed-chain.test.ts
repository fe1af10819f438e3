// The audit chain against someone who can write the database: without the token they can neither rewrite
// a row (re-linking needs the token's HMAC key) nor cut the newest rows (the anchor outside the database
// remembers them); with the token they can rewrite only what came after the last anchor.
import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Appliance } from '../../../appliance/appliance.js';
import { loadConfig } from '../../../appliance/config/index.js';
import { AuditAnchor, AuditTrail, hashAuditRow, tokenChainKey, type ChainKey } from '../../../appliance/audit/index.js';
import type { AuditEventRow } from '../../../appliance/store/index.js';
import { initializedHome, softwareChainKey, tempDir, type InitializedHome } from '../../helpers/fixtures.js';

/** The attacker's tool: rewrite row `seq` and re-link every row after it with `key`. */
async function rewriteAndRelink(a: Appliance, seq: number, key: ChainKey): Promise<void> {
  const rows = await a.store.repos.auditEvents.page(0, 100_000);
  let prev: string | undefined;
  for (const row of rows) {
    const n = Number(row.seq);
    if (n < seq) {
      prev = row.hash;
      continue;
    }
    const base: Omit<AuditEventRow, 'hash'> = { ...row, seq: n, ts: Number(row.ts), prev_hash: prev ?? row.prev_hash };
    if (n === seq) base.detail = JSON.stringify({ rewritten: true });
    const hash = hashAuditRow(key, base);
    await a.store.db.updateTable('audit_events').set({ detail: base.detail, prev_hash: base.prev_hash, hash }).where('seq', '=', n).execute();
    prev = hash;
  }
}

/** Plain SHA-256, the chain's old (unkeyed) link: what anyone with the project's source can compute. */
const sha256Key: ChainKey = { mac: (data) => createHash('sha256').update(data).digest() };

describe('keyed audit chain and its anchor', () => {
  let home: InitializedHome;
  let a: Appliance;
  let anchorDir: { dir: string; cleanup: () => void };
  let trail: AuditTrail;

  before(async () => {
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
    anchorDir = tempDir('warden-anchor-');
  });
  after(async () => {
    await a?.close();
    anchorDir?.cleanup();
    home?.cleanup();
  });

  beforeEach(async () => {
    // A fresh chain per case: 35 events, anchored every 10 rows on a file outside the state directory.
    await a.store.db.deleteFrom('audit_events').execute();
    const file = path.join(anchorDir.dir, 'anchor.log');
    rmSync(file, { force: true });
    trail = new AuditTrail(a.store, { key: tokenChainKey(() => a.keys), anchor: new AuditAnchor(file, 10) });
    for (let i = 0; i < 35; i++) await trail.record({ type: 'auth.login', outcome: 'info', actor: `user${i}`, detail: { attempts: i } });
  });

  test('an untouched chain verifies against the token and the anchor', async () => {
    assert.deepEqual(await trail.verify(), { ok: true, rows: 35, lastSeq: 35, anchors: 3, nodes: { '': 35 } });
  });

  test('the links are HMACs on the token, not a hash anyone can compute', async () => {
    const row = (await a.store.repos.auditEvents.page(0, 1))[0]!;
    const { hash, ...rest } = row;
    assert.notEqual(hashAuditRow(sha256Key, { ...rest, seq: Number(rest.seq), ts: Number(rest.ts) }), hash);
    assert.equal(hashAuditRow(tokenChainKey(() => a.keys), { ...rest, seq: Number(rest.seq), ts: Number(rest.ts) }), hash);
  });

  for (const [who, key] of [
    ['with the project\'s own unkeyed hash', sha256Key],
    ['with a key of their own', softwareChainKey()],
  ] as const) {
    test(`without the token, a row rewritten and every row after it re-linked ${who} is caught at that row`, async () => {
      await rewriteAndRelink(a, 22, key);
      const v = await trail.verify();
      assert.equal(v.ok, false);
      assert.equal(v.ok === false && v.brokenSeq, 22);
      assert.match(v.ok === false ? v.reason : '', /keyed link/);
    });
  }

  test('cutting the newest rows is caught by the anchor, down to the last anchored row', async () => {
    await a.store.db.deleteFrom('audit_events').where('seq', '>', 25).execute();
    const v = await trail.verify();
    assert.equal(v.ok, false);
    assert.match(v.ok === false ? v.reason : '', /ends at row 25 but the anchor shows row 30 existed/);
  });

  test('a missing anchor file fails the check (truncation could not be ruled out); --no-anchor skips it', async () => {
    rmSync(trail.anchor!.file);
    const v = await trail.verify();
    assert.equal(v.ok, false);
    assert.match(v.ok === false ? v.reason : '', /anchor file .* is missing/);
    assert.equal((await trail.verify({ anchor: false })).ok, true);
  });

  test('a damaged anchor file is reported, never trusted', async () => {
    writeFileSync(trail.anchor!.file, '{"seq":10,"hash":"zz"}\n', { flag: 'a' });
    const v = await trail.verify();
    assert.equal(v.ok, false);
    assert.match(v.ok === false ? v.reason : '', /damaged at line 4/);
  });

  test('with the token, rewriting an anchored row and re-linking everything after it is still caught by the anchor', async () => {
    await rewriteAndRelink(a, 15, tokenChainKey(() => a.keys));
    const v = await trail.verify();
    assert.equal(v.ok, false);
    assert.equal(v.ok === false && v.brokenSeq, 20);
    assert.match(v.ok === false ? v.reason : '', /anchored head/);
  });

  test('with the token, rows after the last anchor can be rewritten unseen: the documented limit', async () => {
    await rewriteAndRelink(a, 33, tokenChainKey(() => a.keys));
    assert.equal((await trail.verify()).ok, true);
  });

  test('the head is anchored on demand (shutdown), so a cut right after it is caught', async () => {
    await trail.anchorHead();
    await a.store.db.deleteFrom('audit_events').where('seq', '=', 35).execute();
    const v = await trail.verify();
    assert.equal(v.ok, false);
    assert.match(v.ok === false ? v.reason : '', /ends at row 34 but the anchor shows row 35/);
  });

  test('an anchor that cannot be written never undoes or fails a committed event', async () => {
    const blocked = new AuditTrail(a.store, { key: tokenChainKey(() => a.keys), anchor: new AuditAnchor('/dev/null/not-a-dir/anchor.log', 1) });
    const row = await blocked.record({ type: 'auth.totp_enrol', outcome: 'info' });
    assert.equal((await a.store.repos.auditEvents.query({ type: 'auth.totp_enrol', limit: 1 }))[0]?.seq, row.seq);
  });

  test('writing without the token fails closed: no row is added', async () => {
    const keyless = new AuditTrail(a.store, {
      key: tokenChainKey(() => {
        throw new Error('the appliance was opened without its token');
      }),
    });
    await assert.rejects(keyless.record({ type: 'user.totp_reset', outcome: 'info' }), /without its token/);
    assert.equal((await a.store.repos.auditEvents.query({ type: 'user.totp_reset', limit: 1 })).length, 0);
  });
});
