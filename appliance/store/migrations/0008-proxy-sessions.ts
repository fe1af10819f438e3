// Proxied sessions: one row per admission, whatever the protocol — who, from where, which device and
// credential, by which rule, when it started and ended, the bytes each way and how it ended.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('proxy_sessions')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
    .addColumn('username', 'varchar(64)', (c) => c.notNull())
    .addColumn('device_id', 'integer', (c) => c.notNull().references('devices.id'))
    .addColumn('hostname', 'varchar(253)', (c) => c.notNull())
    .addColumn('credential_id', 'integer', (c) => c.notNull().references('credentials.id'))
    .addColumn('credential_username', 'varchar(255)', (c) => c.notNull())
    .addColumn('protocol', 'varchar(8)', (c) => c.notNull())
    .addColumn('source_ip', 'varchar(45)', (c) => c.notNull())
    .addColumn('reason', 'varchar(1024)', (c) => c.notNull())
    .addColumn('rule', 'varchar(255)', (c) => c.notNull())
    .addColumn('group_id', 'integer')
    .addColumn('grant_id', 'integer')
    .addColumn('emergency', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('ended_at', 'bigint')
    .addColumn('end_reason', 'varchar(64)')
    .addColumn('bytes_in', 'bigint', (c) => c.notNull())
    .addColumn('bytes_out', 'bigint', (c) => c.notNull())
    .addColumn('exit_status', 'integer')
    .execute();
  await db.schema.createIndex('proxy_sessions_user').on('proxy_sessions').columns(['user_id', 'started_at']).execute();
  await db.schema.createIndex('proxy_sessions_status').on('proxy_sessions').column('status').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('proxy_sessions').execute();
}
