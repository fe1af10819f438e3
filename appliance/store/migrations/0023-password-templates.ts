// Password templates (issue 14): the shape of the passwords rotation makes — length, character classes, the
// characters a target refuses — per device type (a table, matched without case) and per credential (a column);
// a credential's own wins over its device type's, which wins over the appliance's default.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('credentials').addColumn('password_template', 'text').execute();
  await db.schema
    .createTable('password_templates')
    // Lower-cased device type.
    .addColumn('device_type', 'varchar(128)', (c) => c.primaryKey())
    .addColumn('template', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('password_templates').execute();
  await db.schema.alterTable('credentials').dropColumn('password_template').execute();
}
