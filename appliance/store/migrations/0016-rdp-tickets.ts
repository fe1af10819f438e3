// One-time RDP tickets: the web issues one (in an .rdp file), the RDP proxy redeems it once instead of a
// password. Only the ticket's SHA-256 is kept; the row binds it to the user, the target and the client's
// address, says how the person authenticated on the web (the forced-certificate gate reads it), and is
// marked used by the one redemption. Rows are purged some minutes after they expire.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('rdp_tickets')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    // hex SHA-256 of the ticket
    .addColumn('ticket_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('device_id', 'integer', (c) => c.notNull().references('devices.id').onDelete('cascade'))
    .addColumn('credential_id', 'integer', (c) => c.notNull().references('credentials.id').onDelete('cascade'))
    .addColumn('source_ip', 'varchar(45)', (c) => c.notNull())
    .addColumn('auth_method', 'varchar(32)', (c) => c.notNull())
    .addColumn('certificate_fingerprint', 'varchar(128)')
    .addColumn('reason', 'varchar(1024)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .execute();
  await db.schema.createIndex('rdp_tickets_hash').unique().on('rdp_tickets').column('ticket_hash').execute();
  await db.schema.createIndex('rdp_tickets_expires').on('rdp_tickets').column('expires_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('rdp_tickets').execute();
}
