// Session recordings: one row per recording file — which session, where the file is (a name inside the
// recordings directory, never a path), how far it got, and its data key wrapped under the master key. The
// key lives here rather than only in the file's header so that a master key rotation re-wraps it in the same
// transaction as every other sealed value; the file itself is never rewritten.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('recordings')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('session_id', 'varchar(36)', (c) => c.notNull().unique().references('proxy_sessions.id'))
    .addColumn('file', 'varchar(255)', (c) => c.notNull())
    .addColumn('protocol', 'varchar(8)', (c) => c.notNull())
    .addColumn('key_sealed', 'text', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('ended_at', 'bigint')
    .addColumn('bytes', 'bigint', (c) => c.notNull())
    .addColumn('chunks', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('recordings_started').on('recordings').column('started_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('recordings').execute();
}
