import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { existsSync, statSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { Store, StoreConflictError, StoreConstraintError, isUniqueViolation } from '../../../appliance/store/index.js';
import { fromMariaDbError } from '../../../appliance/store/errors.js';
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
          password_changed_at: 0, must_change_password: true, status: 'active', failed_attempts: 0, locked_at: null,
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

describe('store: transactions, conflicts and typed refusals', () => {
  let tmp: { dir: string; cleanup: () => void };
  let a: Store;
  let b: Store;
  before(async () => {
    tmp = tempDir();
    const file = path.join(tmp.dir, 'w.db');
    a = await Store.open({ sqlitePath: file });
    // A second connection to the same file stands for another process (the web daemon and orbit).
    b = await Store.open({ sqlitePath: file });
  });
  after(async () => {
    await a.close();
    await b.close();
    tmp.cleanup();
  });

  const counter = async (st: Store) => Number((await st.repos.meta.get('counter')) ?? '0');

  test('a transaction that reads, then writes, is not broken by another connection writing in between', async () => {
    await a.repos.meta.set('counter', '0');
    let other: Promise<void> | undefined;
    await a.transaction(async (repos) => {
      const n = Number(await repos.meta.get('counter'));
      // The other connection tries to write while this transaction is between its read and its write.
      other = b.transaction(async (r) => r.meta.set('counter', String(Number(await r.meta.get('counter')) + 1)));
      await new Promise((r) => setTimeout(r, 50));
      await repos.meta.set('counter', String(n + 1));
    });
    await other;
    // Neither lost its update: the second waited for the first (the write lock is taken at BEGIN).
    assert.equal(await counter(a), 2);
  });

  test('a write outside a transaction waits for another process\'s lock without holding the event loop', async () => {
    // Another process (a raw connection) holds the write lock for 150 ms.
    const other = new SQLite(path.join(tmp.dir, 'w.db'));
    other.exec('BEGIN IMMEDIATE');
    const released = new Promise<void>((r) =>
      setTimeout(() => {
        other.exec('COMMIT');
        other.close();
        r();
      }, 150),
    );
    // A timer due in 20 ms must fire on time while the write waits: SQLite's busy handler would have slept
    // inside the call, and the timer would have fired only after the lock was released.
    const due = Date.now() + 20;
    let late = -1;
    const timer = new Promise<void>((r) =>
      setTimeout(() => {
        late = Date.now() - due;
        r();
      }, 20),
    );
    await Promise.all([a.repos.meta.set('outside', 'written'), timer, released]);
    assert.equal(await a.repos.meta.get('outside'), 'written');
    // A timer may fire a millisecond 'early' by Date.now()'s rounding; what matters is that it is not held.
    assert.ok(late >= -2 && late < 60, `the timer fired ${late} ms late`);
  });

  test('a conflict is retried with a fresh transaction, and nothing of the failed attempt stays', async () => {
    await a.repos.meta.set('counter', '0');
    let runs = 0;
    const committed: number[] = [];
    const result = await a.transaction(async (repos) => {
      runs++;
      await repos.meta.set('counter', String(runs * 10));
      repos.afterCommit(() => committed.push(runs));
      if (runs < 3) throw new StoreConflictError('SQLITE_BUSY', new Error('simulated'));
      return 'done';
    });
    assert.equal(result, 'done');
    assert.equal(runs, 3);
    assert.deepEqual(committed, [3], 'after-commit work of rolled-back attempts is dropped');
    assert.equal(await counter(a), 30);
  });

  test('conflicts past the retry budget surface as STORE_UNAVAILABLE; other errors are never retried', async () => {
    let runs = 0;
    await assert.rejects(
      a.transaction(
        async () => {
          runs++;
          throw new StoreConflictError('ER_LOCK_DEADLOCK', new Error('simulated'));
        },
        { attempts: 3 },
      ),
      (e: unknown) => e instanceof StoreConflictError && e.code === 'STORE_UNAVAILABLE',
    );
    assert.equal(runs, 3);
    runs = 0;
    await assert.rejects(
      a.transaction(async () => {
        runs++;
        throw new Error('not a conflict');
      }),
      /not a conflict/,
    );
    assert.equal(runs, 1);
  });

  test('constraint refusals are typed, with the table and columns SQLite names', async () => {
    const user = {
      username: 'dupe', full_name: 'x', email: '', profile: 'auditor', language: 'en-US', password_hash: 'x', password_changed_at: 0,
      must_change_password: true, status: 'active' as const, failed_attempts: 0, locked_at: null, last_login_at: null, created_at: 0, updated_at: 0,
    };
    const id = await a.repos.users.insert(user);
    const dup = await a.repos.users.insert(user).catch((e: unknown) => e);
    assert.ok(dup instanceof StoreConstraintError);
    assert.equal(dup.kind, 'unique');
    assert.equal(dup.code, 'STORE_CONFLICT');
    assert.equal(dup.target.table, 'users');
    assert.ok(isUniqueViolation(dup, { table: 'users' }));
    assert.equal(isUniqueViolation(dup, { table: 'devices' }), false);
    const fk = await a.repos.passwordHistory.add(999_999, 'x', 0).catch((e: unknown) => e);
    assert.ok(fk instanceof StoreConstraintError && fk.kind === 'foreign-key', String(fk));
    const nn = await a.repos.meta.set('n', null as unknown as string).catch((e: unknown) => e);
    assert.ok(nn instanceof StoreConstraintError && nn.is('not-null', { table: 'appliance_meta', column: 'value' }), String(nn));
    // Inside a transaction too, and the transaction is not retried for it.
    let runs = 0;
    await assert.rejects(
      a.transaction(async (repos) => {
        runs++;
        await repos.users.insert(user);
      }),
      (e: unknown) => isUniqueViolation(e, { table: 'users' }),
    );
    assert.equal(runs, 1);
    assert.ok(await a.repos.users.byId(id));
  });

  test("MariaDB's refusals map to the same types", () => {
    const dup = fromMariaDbError(Object.assign(new Error("Duplicate entry 'web-01' for key 'hostname'"), { code: 'ER_DUP_ENTRY', errno: 1062 }));
    assert.ok(dup instanceof StoreConstraintError && dup.is('unique', { table: 'devices', column: 'hostname' }));
    const fk = fromMariaDbError(
      Object.assign(new Error('Cannot add or update a child row: a foreign key constraint fails (`warden`.`credentials`, CONSTRAINT `credentials_device_id_fk` FOREIGN KEY (`device_id`) REFERENCES `devices` (`id`))'), { code: 'ER_NO_REFERENCED_ROW_2', errno: 1452 }),
    );
    assert.ok(fk instanceof StoreConstraintError && fk.kind === 'foreign-key' && fk.target.table === 'credentials' && fk.target.constraint === 'credentials_device_id_fk');
    const nn = fromMariaDbError(Object.assign(new Error("Column 'email' cannot be null"), { code: 'ER_BAD_NULL_ERROR', errno: 1048 }));
    assert.ok(nn instanceof StoreConstraintError && nn.is('not-null', { column: 'email' }));
    for (const [code, errno] of [['ER_LOCK_DEADLOCK', 1213], ['ER_LOCK_WAIT_TIMEOUT', 1205]] as const) {
      assert.ok(fromMariaDbError(Object.assign(new Error('x'), { code, errno })) instanceof StoreConflictError, code);
    }
    const other = new Error('something else');
    assert.equal(fromMariaDbError(other), other);
  });

  test('flags reach callers as booleans and are stored as 0/1', async () => {
    const u = await a.repos.users.byUsername('dupe');
    assert.equal(u!.must_change_password, true);
    await a.repos.users.update(u!.id, { must_change_password: false });
    assert.equal((await a.repos.users.byId(u!.id))!.must_change_password, false);
    // An expression has no origin column, so it comes back as the engine stored it.
    const raw = await sql<{ t: string; v: number }>`SELECT typeof(must_change_password) AS t, must_change_password + 0 AS v FROM users WHERE id = ${u!.id}`.execute(a.db);
    assert.deepEqual(raw.rows[0], { t: 'integer', v: 0 });
  });

  test('a snapshot is a consistent, complete copy of the database, in the file the caller created', async () => {
    await a.repos.meta.set('snap', 'yes');
    const file = path.join(tmp.dir, 'snapshot.db');
    const { ensurePrivateFile } = await import('../../../appliance/config/index.js');
    ensurePrivateFile(file);
    await a.snapshotTo(file);
    assert.ok(existsSync(file));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const copy = new SQLite(file, { readonly: true });
    try {
      assert.equal((copy.prepare("SELECT value FROM appliance_meta WHERE key = 'snap'").get() as { value: string }).value, 'yes');
    } finally {
      copy.close();
    }
  });
});
