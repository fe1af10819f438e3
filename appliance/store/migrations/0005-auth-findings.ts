// Security findings on login: user names unique by their case-folded confusable skeleton, and the failure
// counters per source address that throttle password spraying across accounts.
import { sql, type Kysely } from 'kysely';
import { usernameKey } from '../../i18n/index.js';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').addColumn('username_key', 'varchar(256)').execute();
  // Backfill: the oldest account keeps the plain key; a later look-alike (created before this rule) gets its
  // id appended, so it stays usable while the index refuses any new look-alike.
  const users = await sql<{ id: number; username: string }>`SELECT id, username FROM users ORDER BY id`.execute(db);
  const seen = new Set<string>();
  for (const u of users.rows) {
    let key = usernameKey(u.username);
    if (seen.has(key)) key = `${key}#${u.id}`;
    seen.add(key);
    await sql`UPDATE users SET username_key = ${key} WHERE id = ${u.id}`.execute(db);
  }
  await db.schema.createIndex('users_username_key').unique().on('users').column('username_key').execute();

  await db.schema
    .createTable('login_throttle')
    // "ip:<address>" (IPv6 by its /64): one row per source, shared by every account it guesses at.
    .addColumn('source', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('window_start', 'bigint', (c) => c.notNull())
    .addColumn('blocked_until', 'bigint')
    /** How many blocks in a row: each doubles the next block's length. */
    .addColumn('strikes', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('login_throttle').execute();
  await db.schema.dropIndex('users_username_key').execute();
  await db.schema.alterTable('users').dropColumn('username_key').execute();
}
