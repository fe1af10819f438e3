// Store.transaction's durability: commits never fsync on the event loop (SQLite synchronous=NORMAL); a durable
// transaction is acknowledged only after a flush of the WAL that began after its commit, one flush serving
// every commit made before it (group commit); `durable: false` does not wait; what runs after the commit
// (exporters, the audit anchor) runs after the flush.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { services, type Services } from '../../helpers/fixtures.js';

describe('store transactions and durability', () => {
  let s: Services;
  before(async () => (s = await services()));
  after(async () => s.close());

  test('commits do not fsync on the event loop: the connection runs synchronous=NORMAL (WAL)', async () => {
    const row = (await sql<Record<string, number>>`pragma synchronous`.execute(s.store.db)).rows[0]!;
    assert.equal(Number(Object.values(row)[0]), 1);
    const mode = (await sql<Record<string, string>>`pragma journal_mode`.execute(s.store.db)).rows[0]!;
    assert.equal(String(Object.values(mode)[0]).toLowerCase(), 'wal');
  });

  test('a durable transaction returns only after a flush, and its after-commit work runs after that flush too', async () => {
    const before = s.store.flushes;
    let seenByAfterCommit = -1;
    await s.store.transaction(async (repos) => {
      await repos.meta.set('durable.default', 'x');
      repos.afterCommit(() => {
        seenByAfterCommit = s.store.flushes;
      });
    });
    assert.ok(s.store.flushes > before, 'a flush reached the disk before the transaction returned');
    assert.ok(seenByAfterCommit > before, 'after-commit work ran after the flush');
  });

  test('many commits at once share their flushes (group commit), and every one of them lands', async () => {
    // A flush on a fast disk may end before the next commit, which then needs its own: how many commits
    // share one depends on timing. So every thread of libuv's pool is held (each blocked opening a FIFO for
    // reading, queued before any flush) until a second connection sees all 60 commits; only then can the
    // first flush run, and the 60 must share it and the one queued after it. (Holding the pool with CPU work
    // for a fixed time failed on a loaded runner: the work ended before the 60 had committed.)
    const dir = mkdtempSync(path.join(tmpdir(), 'warden-hold-'));
    const file = String(Object.values((await sql<Record<string, unknown>>`pragma database_list`.execute(s.store.db)).rows[0]!)[2]);
    const reader = new Database(file, { readonly: true });
    const fifos = Array.from({ length: Number(process.env.UV_THREADPOOL_SIZE ?? 4) }, (_, i) => path.join(dir, `hold-${i}`));
    for (const f of fifos) execFileSync('mkfifo', [f]);
    const held = fifos.map((f) => open(f, 'r'));
    const release = () => {
      for (const f of fifos) {
        try {
          closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK));
        } catch {
          /* its reader has not reached open() yet: tried again below */
        }
      }
    };
    try {
      const before = s.store.flushes;
      const commits = Promise.all(Array.from({ length: 60 }, (_, i) => s.store.transaction((repos) => repos.meta.set(`group.${i}`, String(i)))));
      const count = reader.prepare("SELECT COUNT(*) AS n FROM appliance_meta WHERE key LIKE 'group.%'");
      const committed = () => (count.get() as { n: number }).n;
      const deadline = Date.now() + 30_000;
      while (committed() < 60) {
        assert.ok(Date.now() < deadline, `only ${committed()} of 60 committed while the pool was held: a commit waits on the pool`);
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(s.store.flushes, before, 'no flush ran while the pool was held');
      let opened: Awaited<(typeof held)[number]>[] = [];
      const all = Promise.all(held).then((h) => (opened = h));
      while (opened.length === 0) {
        release();
        await Promise.race([all, new Promise((r) => setTimeout(r, 20))]);
      }
      for (const h of opened) await h.close();
      await commits;
      const used = s.store.flushes - before;
      assert.ok(used >= 1 && used <= 2, `60 commits took ${used} flushes`);
      for (let i = 0; i < 60; i++) assert.equal(await s.store.repos.meta.get(`group.${i}`), String(i));
    } finally {
      release();
      reader.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('durable: false does not wait for a flush, and its writes land', async () => {
    const before = s.store.flushes;
    await s.store.transaction((repos) => repos.meta.set('durable.false', 'landed'), { durable: false });
    assert.equal(s.store.flushes, before);
    assert.equal(await s.store.repos.meta.get('durable.false'), 'landed');
  });

  test('a failed transaction writes nothing', async () => {
    await assert.rejects(
      s.store.transaction(async (repos) => {
        await repos.meta.set('durable.failed', 'no');
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(await s.store.repos.meta.get('durable.failed'), undefined);
  });
});
