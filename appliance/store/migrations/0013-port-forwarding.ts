// Port forwarding through the terminal proxy (`ssh -L`, `ssh -W`) is a way to reach more than the device's
// shell: an access group allows it explicitly, and no existing group does until an administrator says so.
// (An integer like every flag here: the store reads the columns in BOOLEAN_COLUMNS as booleans.)
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('access_groups')
    .addColumn('allow_port_forwarding', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('access_groups').dropColumn('allow_port_forwarding').execute();
}
