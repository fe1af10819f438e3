// The nodes of a cluster, and where each recording lives. A recording file stays on the node that wrote it
// (recordings.node_id); any node serves it by fetching it from that node's web daemon, whose address and
// pinned certificate fingerprint are here. A row is never deleted: a node that left keeps its row (state
// 'left') so its recordings still name it. node_id null: written before this migration, by the one node
// there was (the cluster's first node adopts them: RecordingsRepository.adoptUnowned).
import { SqliteAdapter, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('cluster_nodes')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    // https://host:port of its web daemon
    .addColumn('internal_url', 'varchar(255)', (c) => c.notNull())
    // hex SHA-256 of its web certificate (DER), lower case
    .addColumn('tls_fingerprint', 'char(64)', (c) => c.notNull())
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('joined_at', 'bigint', (c) => c.notNull())
    .addColumn('left_at', 'bigint')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.alterTable('recordings').addColumn('node_id', 'varchar(64)').execute();
  await db.schema.createIndex('recordings_node').on('recordings').column('node_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // MariaDB names the table of the index to drop; SQLite refuses the clause.
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  await (sqlite ? db.schema.dropIndex('recordings_node') : db.schema.dropIndex('recordings_node').on('recordings')).execute();
  await db.schema.alterTable('recordings').dropColumn('node_id').execute();
  await db.schema.dropTable('cluster_nodes').execute();
}
