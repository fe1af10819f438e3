// Live sessions across processes: each process that holds proxied sessions keeps a lease row (session_hosts)
// alive while it does; a session row names its process, so the sessions of a process that died (SIGKILL, a
// crash, a lost machine) are found by the lapsed lease and marked interrupted. The bytes a live session moved
// so far are written to its row from time to time, with the time they were written (progress_at).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('session_hosts')
    .addColumn('id', 'varchar(128)', (c) => c.primaryKey())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  // No foreign key to session_hosts: a host row is deleted when its process is declared dead, its
  // sessions' rows stay (interrupted) with the name of the process that held them.
  await db.schema.alterTable('proxy_sessions').addColumn('host_id', 'varchar(128)').execute();
  await db.schema.alterTable('proxy_sessions').addColumn('progress_at', 'bigint').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('proxy_sessions').dropColumn('progress_at').execute();
  await db.schema.alterTable('proxy_sessions').dropColumn('host_id').execute();
  await db.schema.dropTable('session_hosts').execute();
}
