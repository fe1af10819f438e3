// Exclusive checkout, "shared access, not simultaneous" (issue 14): a credential marked exclusive is held by one
// user at a time — through a proxied session (while it lasts) or a password view (for the appliance's checkout
// time) — and others are told who holds it and until when. One row per held credential; check-in deletes it.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('credentials').addColumn('exclusive', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema
    .createTable('credential_checkouts')
    .addColumn('credential_id', 'integer', (c) => c.primaryKey().references('credentials.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.notNull())
    .addColumn('username', 'varchar(128)', (c) => c.notNull())
    // session | password-view
    .addColumn('purpose', 'varchar(16)', (c) => c.notNull())
    .addColumn('session_id', 'varchar(64)')
    .addColumn('checked_out_at', 'bigint', (c) => c.notNull())
    // Null while a session holds it (it ends with the session).
    .addColumn('expires_at', 'bigint')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('credential_checkouts').execute();
  await db.schema.alterTable('credentials').dropColumn('exclusive').execute();
}
