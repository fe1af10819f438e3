// Second factors: the trusted CA store and CRLs, certificate bindings and their usage log, TOTP secrets,
// external MFA providers (Duo), the per-user MFA method and the MFA stage of a web session.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('trusted_cas')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('subject', 'varchar(1024)', (c) => c.notNull())
    .addColumn('issuer', 'varchar(1024)', (c) => c.notNull())
    .addColumn('serial', 'varchar(128)', (c) => c.notNull())
    .addColumn('fingerprint', 'char(95)', (c) => c.notNull().unique())
    .addColumn('not_before', 'bigint', (c) => c.notNull())
    .addColumn('not_after', 'bigint', (c) => c.notNull())
    .addColumn('self_signed', 'integer', (c) => c.notNull())
    .addColumn('parent_id', 'integer', (c) => c.references('trusted_cas.id'))
    .addColumn('active', 'integer', (c) => c.notNull())
    .addColumn('pem', 'text', (c) => c.notNull())
    .addColumn('installed_at', 'bigint', (c) => c.notNull())
    .addColumn('installed_by', 'varchar(64)', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('crls')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('ca_id', 'integer', (c) => c.notNull().references('trusted_cas.id'))
    .addColumn('this_update', 'bigint', (c) => c.notNull())
    .addColumn('next_update', 'bigint')
    .addColumn('entries', 'integer', (c) => c.notNull())
    .addColumn('der', 'text', (c) => c.notNull())
    .addColumn('installed_at', 'bigint', (c) => c.notNull())
    .addColumn('installed_by', 'varchar(64)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('revoked_serials')
    .addColumn('ca_id', 'integer', (c) => c.notNull().references('trusted_cas.id'))
    .addColumn('serial', 'varchar(128)', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint', (c) => c.notNull())
    .addColumn('crl_id', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('revoked_serials_pk', ['ca_id', 'serial'])
    .execute();

  await db.schema
    .createTable('user_certificates')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('fingerprint', 'char(95)', (c) => c.notNull())
    .addColumn('issuer', 'varchar(1024)', (c) => c.notNull())
    .addColumn('serial', 'varchar(128)', (c) => c.notNull())
    .addColumn('subject', 'varchar(1024)', (c) => c.notNull())
    .addColumn('email', 'varchar(255)', (c) => c.notNull())
    .addColumn('not_before', 'bigint', (c) => c.notNull())
    .addColumn('not_after', 'bigint', (c) => c.notNull())
    .addColumn('pem', 'text', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('bound_at', 'bigint', (c) => c.notNull())
    .addColumn('first_used_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .addColumn('revoked_by', 'varchar(64)')
    .execute();
  await db.schema.createIndex('user_certificates_user').on('user_certificates').columns(['user_id', 'status']).execute();

  await db.schema
    .createTable('certificate_events')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('ts', 'bigint', (c) => c.notNull())
    .addColumn('event', 'varchar(16)', (c) => c.notNull())
    .addColumn('user_id', 'integer')
    .addColumn('username', 'varchar(64)')
    .addColumn('fingerprint', 'char(95)')
    .addColumn('subject', 'varchar(1024)')
    .addColumn('code', 'varchar(64)')
    .addColumn('ip', 'varchar(45)')
    .execute();
  await db.schema.createIndex('certificate_events_user_ts').on('certificate_events').columns(['user_id', 'ts']).execute();
  await db.schema.createIndex('certificate_events_ts').on('certificate_events').column('ts').execute();

  await db.schema
    .createTable('totp_credentials')
    .addColumn('user_id', 'integer', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('secret_sealed', 'text', (c) => c.notNull())
    .addColumn('confirmed', 'integer', (c) => c.notNull())
    .addColumn('last_time_step', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('mfa_providers')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('name', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('api_host', 'varchar(255)', (c) => c.notNull())
    .addColumn('client_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('client_secret_sealed', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema.alterTable('users').addColumn('mfa_method', 'varchar(16)', (c) => c.notNull().defaultTo('none')).execute();
  await db.schema.alterTable('web_sessions').addColumn('stage', 'varchar(16)', (c) => c.notNull().defaultTo('complete')).execute();
  await db.schema.alterTable('web_sessions').addColumn('mfa_method', 'varchar(16)').execute();
  await db.schema.alterTable('web_sessions').addColumn('certificate_fingerprint', 'char(95)').execute();
  await db.schema.alterTable('web_sessions').addColumn('mfa_state', 'varchar(128)').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const c of ['mfa_state', 'certificate_fingerprint', 'mfa_method', 'stage']) await db.schema.alterTable('web_sessions').dropColumn(c).execute();
  await db.schema.alterTable('users').dropColumn('mfa_method').execute();
  for (const t of ['mfa_providers', 'totp_credentials', 'certificate_events', 'user_certificates', 'revoked_serials', 'crls', 'trusted_cas']) {
    await db.schema.dropTable(t).execute();
  }
}
