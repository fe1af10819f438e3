// Store.transaction's durability option: a commit that skips its fsync is still atomic, and the connection is
// back to synchronous=FULL for everything after it, also when the transaction fails.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import type { Database, Repositories } from '../../../appliance/store/index.js';
import { services, type Services } from '../../helpers/fixtures.js';

describe('store transactions and durability', () => {
  let s: Services;
  before(async () => (s = await services()));
  after(async () => s.close());

  const read = async (db: Kysely<Database>) => Number(Object.values((await sql<Record<string, number>>`pragma synchronous`.execute(db)).rows[0]!)[0]);
  const synchronous = () => read(s.store.db);
  // Inside a transaction the store's own handle waits for the connection the transaction holds: read through the
  // transaction's handle, which repositories keep private.
  const inside = (repos: Repositories) => read((repos.meta as unknown as { db: Kysely<Database> }).db);
  const FULL = 2;
  const NORMAL = 1;

  test('commits are synchronous=FULL by default, also inside a transaction', async () => {
    assert.equal(await synchronous(), FULL);
    await s.store.transaction(async (repos) => {
      await repos.meta.set('durable.default', 'x');
      assert.equal(await inside(repos), FULL);
    });
  });

  test('durable: false commits without fsync (NORMAL) and its writes land; FULL is back afterwards', async () => {
    await s.store.transaction(
      async (repos) => {
        await repos.meta.set('durable.false', 'landed');
        assert.equal(await inside(repos), NORMAL);
      },
      { durable: false },
    );
    assert.equal(await s.store.repos.meta.get('durable.false'), 'landed');
    assert.equal(await synchronous(), FULL);
  });

  test('a failed non-durable transaction writes nothing and still leaves the connection at FULL', async () => {
    await assert.rejects(
      s.store.transaction(
        async (repos) => {
          await repos.meta.set('durable.failed', 'no');
          throw new Error('boom');
        },
        { durable: false },
      ),
      /boom/,
    );
    assert.equal(await s.store.repos.meta.get('durable.failed'), undefined);
    assert.equal(await synchronous(), FULL);
  });
});
