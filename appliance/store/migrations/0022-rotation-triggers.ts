// Rotation's triggers and its privileged helper (issue 14): a credential may name a change account — another
// credential of the same device allowed to set its password (root, or sudo to chpasswd) — which rotates it
// without knowing the current password and reconciles it when the vaulted one stopped working; its own
// rotation interval (null: the appliance's); and the rotations waiting to run (after use, by schedule, to
// reconcile), one per credential, kept in the database so a daemon that stops loses none of them.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('credentials').addColumn('change_credential_id', 'integer').execute();
  await db.schema.alterTable('credentials').addColumn('rotation_interval_days', 'integer').execute();
  await db.schema
    .createTable('rotation_queue')
    .addColumn('credential_id', 'integer', (c) => c.primaryKey().references('credentials.id').onDelete('cascade'))
    // after-use | after-view | schedule | reconcile
    .addColumn('trigger_kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('reason', 'varchar(200)', (c) => c.notNull())
    .addColumn('due_at', 'bigint', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'varchar(200)', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('rotation_queue_due').on('rotation_queue').column('due_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('rotation_queue').execute();
  for (const column of ['rotation_interval_days', 'change_credential_id']) await db.schema.alterTable('credentials').dropColumn(column).execute();
}
