import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { CompiledQuery } from 'kysely';
import { preparedQuery } from '../../../appliance/store/prepared-query.js';
import { services, type Services } from '../../helpers/fixtures.js';

describe('prepared queries', () => {
  let s: Services;
  before(async () => {
    s = await services();
  });
  after(async () => s.close());

  test('built and compiled once, then run with each call’s own values, in and out of transactions', async () => {
    let builds = 0;
    const put = preparedQuery((db, key: string, value: string) => {
      builds++;
      return db.insertInto('appliance_meta').values({ key, value });
    });
    const get = preparedQuery((db, key: string) => db.selectFrom('appliance_meta').select('value').where('key', '=', key));
    await put(s.store.db, 'pq-a', 'one');
    // A transaction is another Kysely object over the same dialect: the compiled form is reused.
    await s.store.db.transaction().execute(async (trx) => {
      await put(trx, 'pq-b', 'two');
      await put(trx, 'pq-c', 'three');
    });
    assert.equal(builds, 1);
    assert.deepEqual((await get(s.store.db, 'pq-a')).rows, [{ value: 'one' }]);
    assert.deepEqual((await get(s.store.db, 'pq-b')).rows, [{ value: 'two' }]);
    assert.deepEqual((await get(s.store.db, 'pq-c')).rows, [{ value: 'three' }]);
    assert.deepEqual((await get(s.store.db, 'pq-none')).rows, []);
  });

  test('the same SQL as the builder; an object argument binds its properties, constants stay', async () => {
    const sent: CompiledQuery[] = [];
    const update = preparedQuery((db, row: { id: number; attempts: number }) =>
      db.updateTable('users').set({ failed_attempts: row.attempts }).where('id', '=', row.id).where('status', '=', 'active'),
    );
    const db = s.store.db;
    const spy = new Proxy(db, {
      get: (target, prop) => {
        if (prop === 'executeQuery') {
          return (q: CompiledQuery) => {
            sent.push(q);
            return target.executeQuery(q);
          };
        }
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const r = await update(spy, { id: 987654, attempts: 3 });
    assert.equal(r.numAffectedRows, 0n);
    const expected = s.store.db.updateTable('users').set({ failed_attempts: 3 }).where('id', '=', 987654).where('status', '=', 'active').compile();
    assert.equal(sent[0]!.sql, expected.sql);
    assert.deepEqual(sent[0]!.parameters, expected.parameters);
  });

  test('the login path’s repositories answer as before (booleans mapped, missing rows undefined)', async () => {
    const id = await s.store.repos.users.insert({
      username: 'pq-user',
      full_name: 'PQ',
      email: '',
      profile: 'auditor',
      language: 'en',
      password_hash: 'x',
      password_changed_at: 1,
      must_change_password: true,
      status: 'active',
      failed_attempts: 0,
      locked_at: null,
      last_login_at: null,
      created_at: 1,
      updated_at: 1,
    });
    const byName = await s.store.repos.users.byUsername('pq-user');
    assert.equal(byName?.id, id);
    assert.equal(byName?.must_change_password, true);
    assert.equal(await s.store.repos.users.byUsername('pq-nobody'), undefined);
    assert.equal(await s.store.repos.users.reserveAttempt(id, 1, 2), true);
    assert.equal(await s.store.repos.users.reserveAttempt(id, 1, 2), false);
    assert.equal(await s.store.repos.users.admitLogin(id, 3, 'refund'), true);
    assert.equal((await s.store.repos.users.byId(id))?.failed_attempts, 0);
  });
});
