// Which appliance of a cluster wrote an audit row. The chain stays one chain across the nodes (each append
// takes the next seq, and two nodes that took the same one collide on the primary key: Galera certification
// aborts one, Store.transaction runs it again); this column says where each link was forged. NULL: a row
// written before the appliance knew a node id (a single appliance), hashed as before.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('audit_events').addColumn('node_id', 'varchar(64)').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('audit_events').dropColumn('node_id').execute();
}
