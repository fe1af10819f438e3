// Every secret a credential has held, with the period it was the vault's: an auditor tells which password was
// valid at a past moment, and a password view names the version it showed. A row carries the same sealed value
// as the credential row did (sealed for `credential:<id>`), so no secret is unsealed or sealed again here. The
// credentials already stored get their current secret as version 1, valid from their last change.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('credential_versions')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('credential_id', 'integer', (c) => c.notNull().references('credentials.id').onDelete('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('secret_sealed', 'text', (c) => c.notNull())
    // create | update | rotation | migrated
    .addColumn('source', 'varchar(16)', (c) => c.notNull())
    .addColumn('created_by', 'varchar(128)', (c) => c.notNull())
    .addColumn('valid_from', 'bigint', (c) => c.notNull())
    .addColumn('valid_until', 'bigint')
    .execute();
  await db.schema.createIndex('credential_versions_number').unique().on('credential_versions').columns(['credential_id', 'version']).execute();
  await sql`INSERT INTO credential_versions (credential_id, version, secret_sealed, source, created_by, valid_from, valid_until)
            SELECT id, 1, secret_sealed, 'migrated', '', updated_at, NULL FROM credentials`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('credential_versions').execute();
}
