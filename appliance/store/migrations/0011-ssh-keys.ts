// SSH public keys a user registered for logging in to the terminal proxy: the key's wire-format blob, its
// SHA256 fingerprint as OpenSSH prints it, unique per user (the same key may serve two accounts of one person).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('user_ssh_keys')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('algorithm', 'varchar(64)', (c) => c.notNull())
    // base64 of the wire-format blob (at most 16 KiB raw: an RSA-16384 key is about 2 KiB)
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'varchar(64)', (c) => c.notNull())
    .addColumn('comment', 'varchar(255)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint')
    .execute();
  await db.schema.createIndex('user_ssh_keys_user_fingerprint').unique().on('user_ssh_keys').columns(['user_id', 'fingerprint']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('user_ssh_keys').execute();
}
