// The vault and the access policy: devices (with their catalogue: vendor, type, model, site), credentials
// and protected information sealed under per-record data keys, pinned host keys, access groups, access
// requests and approvals, connectivity results.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('device_catalog')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('name', 'varchar(128)', (c) => c.notNull())
    .addUniqueConstraint('device_catalog_kind_name', ['kind', 'name'])
    .execute();

  await db.schema
    .createTable('devices')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('hostname', 'varchar(253)', (c) => c.notNull().unique())
    .addColumn('address', 'varchar(45)', (c) => c.notNull())
    .addColumn('vendor_id', 'integer', (c) => c.references('device_catalog.id'))
    .addColumn('type_id', 'integer', (c) => c.references('device_catalog.id'))
    .addColumn('model_id', 'integer', (c) => c.references('device_catalog.id'))
    .addColumn('site_id', 'integer', (c) => c.references('device_catalog.id'))
    .addColumn('field1', 'varchar(255)', (c) => c.notNull())
    .addColumn('field2', 'varchar(255)', (c) => c.notNull())
    .addColumn('domain', 'varchar(255)', (c) => c.notNull())
    .addColumn('connectivity', 'varchar(255)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('credentials')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('device_id', 'integer', (c) => c.notNull().references('devices.id'))
    .addColumn('kind', 'varchar(32)', (c) => c.notNull())
    .addColumn('username', 'varchar(255)', (c) => c.notNull())
    .addColumn('secret_kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('secret_sealed', 'text', (c) => c.notNull())
    .addColumn('domain', 'varchar(255)', (c) => c.notNull())
    .addColumn('extra_info', 'varchar(1024)', (c) => c.notNull())
    .addColumn('labels', 'varchar(1024)', (c) => c.notNull())
    .addColumn('owner', 'varchar(64)', (c) => c.notNull())
    .addColumn('auto_change', 'integer', (c) => c.notNull())
    .addColumn('status_control', 'integer', (c) => c.notNull())
    .addColumn('split_view', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('credentials_device').on('credentials').column('device_id').execute();

  // PCI password split: each half of a secret goes to one user, never both halves to the same user.
  await db.schema
    .createTable('credential_split_holders')
    .addColumn('credential_id', 'integer', (c) => c.notNull().references('credentials.id').onDelete('cascade'))
    .addColumn('half', 'integer', (c) => c.notNull())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
    .addColumn('viewed_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('credential_split_holders_pk', ['credential_id', 'half'])
    .execute();

  await db.schema
    .createTable('pinned_host_keys')
    .addColumn('device_id', 'integer', (c) => c.notNull().references('devices.id'))
    .addColumn('protocol', 'varchar(8)', (c) => c.notNull())
    .addColumn('fingerprint', 'varchar(128)', (c) => c.notNull())
    .addColumn('pinned_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('pinned_host_keys_pk', ['device_id', 'protocol'])
    .execute();

  await db.schema
    .createTable('protected_items')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('filename', 'varchar(255)', (c) => c.notNull())
    .addColumn('media_type', 'varchar(128)', (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('content_sealed', 'text', (c) => c.notNull())
    .addColumn('owner', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('access_groups')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('name', 'varchar(128)', (c) => c.notNull().unique())
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('session_allowed', 'integer', (c) => c.notNull())
    .addColumn('password_view_allowed', 'integer', (c) => c.notNull())
    .addColumn('reason_required', 'integer', (c) => c.notNull())
    .addColumn('approval_required', 'integer', (c) => c.notNull())
    .addColumn('approvals_needed', 'integer', (c) => c.notNull())
    .addColumn('time_windows', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  for (const [table, col, ref] of [
    ['access_group_users', 'user_id', 'users.id'],
    ['access_group_approvers', 'user_id', 'users.id'],
    ['access_group_devices', 'device_id', 'devices.id'],
    ['access_group_credentials', 'credential_id', 'credentials.id'],
  ] as const) {
    await db.schema
      .createTable(table)
      .addColumn('group_id', 'integer', (c) => c.notNull().references('access_groups.id').onDelete('cascade'))
      .addColumn(col, 'integer', (c) => c.notNull().references(ref).onDelete('cascade'))
      .addPrimaryKeyConstraint(`${table}_pk`, ['group_id', col])
      .execute();
    await db.schema.createIndex(`${table}_member`).on(table).column(col).execute();
  }

  await db.schema
    .createTable('access_requests')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
    .addColumn('device_id', 'integer', (c) => c.notNull().references('devices.id'))
    .addColumn('credential_id', 'integer', (c) => c.notNull().references('credentials.id'))
    .addColumn('purpose', 'varchar(16)', (c) => c.notNull())
    .addColumn('group_id', 'integer')
    .addColumn('reason', 'varchar(1024)', (c) => c.notNull())
    .addColumn('starts_at', 'bigint', (c) => c.notNull())
    .addColumn('ends_at', 'bigint', (c) => c.notNull())
    .addColumn('approvals_needed', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('emergency', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('decided_at', 'bigint')
    .execute();
  await db.schema.createIndex('access_requests_user').on('access_requests').columns(['user_id', 'status']).execute();

  await db.schema
    .createTable('access_request_decisions')
    .addColumn('request_id', 'integer', (c) => c.notNull().references('access_requests.id').onDelete('cascade'))
    .addColumn('approver_id', 'integer', (c) => c.notNull().references('users.id'))
    .addColumn('decision', 'varchar(8)', (c) => c.notNull())
    .addColumn('comment', 'varchar(1024)', (c) => c.notNull())
    .addColumn('decided_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('access_request_decisions_pk', ['request_id', 'approver_id'])
    .execute();

  await db.schema
    .createTable('connectivity_results')
    .addColumn('device_id', 'integer', (c) => c.notNull().references('devices.id').onDelete('cascade'))
    .addColumn('port', 'integer', (c) => c.notNull())
    .addColumn('protocol', 'varchar(16)', (c) => c.notNull())
    .addColumn('ok', 'integer', (c) => c.notNull())
    .addColumn('detail', 'varchar(255)', (c) => c.notNull())
    .addColumn('checked_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('connectivity_results_pk', ['device_id', 'port'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of [
    'connectivity_results',
    'access_request_decisions',
    'access_requests',
    'access_group_credentials',
    'access_group_devices',
    'access_group_approvers',
    'access_group_users',
    'access_groups',
    'protected_items',
    'pinned_host_keys',
    'credential_split_holders',
    'credentials',
    'devices',
    'device_catalog',
  ]) {
    await db.schema.dropTable(t).execute();
  }
}
