import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Store } from '../../../appliance/store/index.js';
import { services, tempDir, type Services } from '../../helpers/fixtures.js';

const admin = { username: 'admin', ip: null };

describe('store', () => {
  let s: Services;
  before(async () => {
    s = await services();
  });
  after(async () => s.close());

  test('migrations are idempotent: opening an existing database changes nothing', async () => {
    const tmp = tempDir();
    const file = path.join(tmp.dir, 'w.db');
    const a = await Store.open({ sqlitePath: file });
    await a.repos.meta.set('k', 'v');
    await a.close();
    const b = await Store.open({ sqlitePath: file });
    assert.equal(await b.repos.meta.get('k'), 'v');
    await b.close();
    tmp.cleanup();
  });

  test('the database runs in WAL mode with foreign keys on', async () => {
    const tmp = tempDir();
    const file = path.join(tmp.dir, 'w.db');
    const st = await Store.open({ sqlitePath: file });
    const { sql } = await import('kysely');
    const mode = await sql<{ journal_mode: string }>`PRAGMA journal_mode`.execute(st.db);
    assert.equal(mode.rows[0]!.journal_mode, 'wal');
    const fk = await sql<{ foreign_keys: number }>`PRAGMA foreign_keys`.execute(st.db);
    assert.equal(fk.rows[0]!.foreign_keys, 1);
    await st.close();
    tmp.cleanup();
  });

  const names: [string, string][] = [
    ['Cyrillic', 'Пётр Ильич Чайковский'],
    ['CJK', '王小明 / 山田太郎 / 김민수'],
    ['Arabic', 'محمد بن موسى الخوارزمي'],
    ['emoji and combining marks', 'Zoë 👩‍💻 e\u0301'],
    ['SQL metacharacters', `Robert'); DROP TABLE users;-- "x" \\ %_`],
  ];
  for (const [what, fullName] of names) {
    test(`a full name in ${what} survives a round trip`, async () => {
      const username = `u${Math.random().toString(36).slice(2, 10)}`;
      const { user } = await s.users.create(admin, { username, fullName, email: '', profile: 'auditor' });
      const back = await s.store.repos.users.byId(user.id);
      assert.equal(back!.full_name, fullName.normalize('NFC'));
      assert.ok((await s.store.repos.users.count()) >= 1, 'the users table is still there');
    });
  }

  test('user names in other scripts work as login names', async () => {
    const { user } = await s.users.create(admin, { username: 'иван.петров', fullName: 'Иван Петров', email: 'ivan@example.test', profile: 'auditor' });
    assert.equal((await s.store.repos.users.byUsername('иван.петров'))!.id, user.id);
  });

  test('a failed transaction leaves nothing behind', async () => {
    const before = await s.store.repos.users.count();
    await assert.rejects(
      s.store.transaction(async (repos) => {
        await repos.users.insert({
          username: 'half-way', full_name: 'x', email: '', profile: 'auditor', language: 'en-US', password_hash: 'x',
          password_changed_at: 0, must_change_password: 1, status: 'active', failed_attempts: 0, locked_at: null,
          last_login_at: null, created_at: 0, updated_at: 0,
        });
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(await s.store.repos.users.count(), before);
    assert.equal(await s.store.repos.users.byUsername('half-way'), undefined);
  });

  test('a duplicate user name is refused and the first user is intact', async () => {
    await s.users.create(admin, { username: 'dupe', fullName: 'First', email: '', profile: 'auditor' });
    await assert.rejects(s.users.create(admin, { username: 'dupe', fullName: 'Second', email: '', profile: 'auditor' }), /already exists/);
    assert.equal((await s.store.repos.users.byUsername('dupe'))!.full_name, 'First');
  });
});
