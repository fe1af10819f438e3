// Discovery (issue 14): what a run over SSH found on a device — local accounts (which are privileged, and why) and
// each account's authorized SSH keys — kept as a review list: a finding is new, changed or gone since the last
// run, and pending until an administrator imports it into the vault or dismisses it. The device remembers the
// credential its discovery runs with, so the scheduled run can repeat it.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('discovery_findings')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('device_id', 'integer', (c) => c.notNull().references('devices.id').onDelete('cascade'))
    // account | ssh-key
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    // The account name; for a key, account:fingerprint.
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull())
    .addColumn('detail_hash', 'varchar(64)', (c) => c.notNull())
    // new | changed | unchanged | gone (as of the last run)
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    // pending | imported | dismissed
    .addColumn('review', 'varchar(16)', (c) => c.notNull())
    .addColumn('credential_id', 'integer')
    .addColumn('first_seen', 'bigint', (c) => c.notNull())
    .addColumn('last_seen', 'bigint', (c) => c.notNull())
    .addColumn('reviewed_by', 'varchar(128)')
    .execute();
  await db.schema.createIndex('discovery_findings_name').unique().on('discovery_findings').columns(['device_id', 'kind', 'name']).execute();
  await db.schema.createIndex('discovery_findings_review').on('discovery_findings').columns(['review', 'device_id']).execute();
  await db.schema.alterTable('devices').addColumn('discovery_credential_id', 'integer').execute();
  await db.schema.alterTable('devices').addColumn('discovered_at', 'bigint').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('discovery_findings').execute();
  for (const c of ['discovered_at', 'discovery_credential_id']) await db.schema.alterTable('devices').dropColumn(c).execute();
}
