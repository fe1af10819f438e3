// Store.transaction's durability: commits never fsync on the event loop (SQLite synchronous=NORMAL); a durable
// transaction is acknowledged only after a flush of the WAL that began after its commit, one flush serving
// every commit made before it (group commit); `durable: false` does not wait; what runs after the commit
// (exporters, the audit anchor) runs after the flush.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { pbkdf2 } from 'node:crypto';
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
    // share one depends on timing. Here every thread of the pool is held busy for a while, so the first
    // flush cannot finish before all 60 have committed: they must share it and the one queued after it.
    const busy = Array.from({ length: Number(process.env.UV_THREADPOOL_SIZE ?? 4) }, () => new Promise((r) => pbkdf2(`busy`, 'salt', 300_000, 32, 'sha256', r)));
    const before = s.store.flushes;
    await Promise.all(Array.from({ length: 60 }, (_, i) => s.store.transaction((repos) => repos.meta.set(`group.${i}`, String(i)))));
    const used = s.store.flushes - before;
    await Promise.all(busy);
    assert.ok(used >= 1 && used <= 2, `60 commits took ${used} flushes`);
    for (let i = 0; i < 60; i++) assert.equal(await s.store.repos.meta.get(`group.${i}`), String(i));
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
