// Agent forwarding through the terminal proxy (`ssh -A`) lets the target ask the user's own agent to sign: a
// power over more than the device's shell, so an access group allows it explicitly, and no existing group
// does until an administrator says so. (An integer like every flag here: see BOOLEAN_COLUMNS.)
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('access_groups')
    .addColumn('allow_agent_forwarding', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('access_groups').dropColumn('allow_agent_forwarding').execute();
}
