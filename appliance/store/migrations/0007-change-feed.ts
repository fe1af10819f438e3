// The change feed between processes and the job leases. `change_feed` is append-only: each daemon follows it
// by `seq > last`; its seq comes from the one-row `change_feed_head`, taken in the announcing transaction,
// so seq order is commit order on every engine (a later seq cannot commit while an earlier one is open) and
// a rolled-back announcement leaves no row and no gap. `job_leases`: which process runs a periodic job now.
import type { Kysely } from 'kysely';

/** Grants that ended before this instant are not announced (nothing runs under them after an upgrade). */
export const GRANT_EXPIRY_WATERMARK = 'grants.expiry_announced_until';

interface Db {
  change_feed_head: { id: number; seq: number };
  appliance_meta: { key: string; value: string };
}

export async function up(raw: Kysely<unknown>): Promise<void> {
  await raw.schema
    .createTable('change_feed')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('topic', 'varchar(64)', (c) => c.notNull())
    .addColumn('subject', 'varchar(128)', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await raw.schema.createIndex('change_feed_created_at').on('change_feed').column('created_at').execute();
  await raw.schema
    .createTable('change_feed_head')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .execute();
  await raw.schema
    .createTable('job_leases')
    .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('holder', 'varchar(128)', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('last_started_at', 'bigint', (c) => c.notNull())
    .execute();
  await raw.schema.createIndex('access_requests_ends_at').on('access_requests').columns(['status', 'ends_at']).execute();
  const db = raw as unknown as Kysely<Db>;
  await db.insertInto('change_feed_head').values({ id: 1, seq: 0 }).execute();
  await db.insertInto('appliance_meta').values({ key: GRANT_EXPIRY_WATERMARK, value: String(Date.now()) }).execute();
}

export async function down(raw: Kysely<unknown>): Promise<void> {
  const db = raw as unknown as Kysely<Db>;
  await db.deleteFrom('appliance_meta').where('key', '=', GRANT_EXPIRY_WATERMARK).execute();
  await raw.schema.dropIndex('access_requests_ends_at').execute();
  for (const t of ['job_leases', 'change_feed_head', 'change_feed']) await raw.schema.dropTable(t).execute();
}
