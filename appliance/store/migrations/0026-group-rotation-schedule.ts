// Rotation schedules per access group (issue 14): a group may set how many days its credentials' secrets live; a
// credential without its own interval takes the shortest of its enabled groups', else the appliance's.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('access_groups').addColumn('rotation_interval_days', 'integer').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('access_groups').dropColumn('rotation_interval_days').execute();
}
