// Status control: whether a credential's vaulted password logs in on its target, as last checked (the periodic
// check of credentials with status_control on, or an administrator's "check now"), when, and the target's words.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('credentials').addColumn('status_state', 'varchar(16)', (c) => c.notNull().defaultTo('unchecked')).execute();
  await db.schema.alterTable('credentials').addColumn('status_checked_at', 'bigint').execute();
  await db.schema.alterTable('credentials').addColumn('status_detail', 'varchar(200)', (c) => c.notNull().defaultTo('')).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const column of ['status_detail', 'status_checked_at', 'status_state']) await db.schema.alterTable('credentials').dropColumn(column).execute();
}
