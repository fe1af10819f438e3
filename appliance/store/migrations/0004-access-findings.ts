// Protected items belong to a device or to an access group, so the access policy decides who opens them.
// Items stored before have neither owner; the policy keeps those for credential managers only.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // SQLite adds one column per ALTER TABLE.
  await db.schema.alterTable('protected_items').addColumn('device_id', 'integer', (c) => c.references('devices.id')).execute();
  await db.schema.alterTable('protected_items').addColumn('group_id', 'integer', (c) => c.references('access_groups.id')).execute();
  await db.schema.createIndex('protected_items_device').on('protected_items').column('device_id').execute();
  await db.schema.createIndex('protected_items_group').on('protected_items').column('group_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('protected_items_group').execute();
  await db.schema.dropIndex('protected_items_device').execute();
  await db.schema.alterTable('protected_items').dropColumn('group_id').execute();
  await db.schema.alterTable('protected_items').dropColumn('device_id').execute();
}
