// Migration 0020 on a database that already holds credentials: each gets its current sealed secret as version 1,
// in force since its last change — copied as it is (nothing unsealed or sealed again), and current.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { up } from '../../../appliance/store/migrations/0020-credential-versions.js';

test('migration 0020 makes every stored credential\'s secret its version 1, current, from its last change', async () => {
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) });
  try {
    await sql`CREATE TABLE credentials (id integer primary key, secret_sealed text not null, created_at bigint not null, updated_at bigint not null)`.execute(db);
    await sql`INSERT INTO credentials VALUES (1, 'sealed-one', 100, 150), (2, 'sealed-two', 200, 200)`.execute(db);
    await up(db);
    const rows = await sql<Record<string, unknown>>`SELECT credential_id, version, secret_sealed, source, created_by, valid_from, valid_until FROM credential_versions ORDER BY credential_id`.execute(db);
    assert.deepEqual(rows.rows, [
      { credential_id: 1, version: 1, secret_sealed: 'sealed-one', source: 'migrated', created_by: '', valid_from: 150, valid_until: null },
      { credential_id: 2, version: 1, secret_sealed: 'sealed-two', source: 'migrated', created_by: '', valid_from: 200, valid_until: null },
    ]);
    await assert.rejects(sql`INSERT INTO credential_versions (credential_id, version, secret_sealed, source, created_by, valid_from) VALUES (1, 1, 'x', 'update', 'a', 300)`.execute(db), /UNIQUE/, 'one row per version number');
  } finally {
    await db.destroy();
  }
});
