// Command rules on access groups, and the commands and output text of proxied sessions with a full-text
// index over both. The tables are portable; the index is the engine's own: on SQLite, FTS5 tables with the
// trigram tokenizer (substring search, so "rm -rf" matches as typed) kept in step by triggers; on MariaDB a
// FULLTEXT index on the same columns (words: it narrows, a substring check confirms; see session search).
import { SqliteAdapter, sql, type Kysely } from 'kysely';

function isSqlite(db: Kysely<unknown>): boolean {
  return db.getExecutor().adapter instanceof SqliteAdapter;
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('access_group_command_rules')
    .addColumn('group_id', 'integer', (c) => c.notNull().references('access_groups.id').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('pattern', 'varchar(512)', (c) => c.notNull())
    .addColumn('action', 'varchar(8)', (c) => c.notNull())
    .addPrimaryKeyConstraint('access_group_command_rules_pk', ['group_id', 'position'])
    .execute();
  // 'rules': what no rule matches runs; 'allow-list': only what an allow rule matches runs.
  await db.schema.alterTable('access_groups').addColumn('command_mode', 'varchar(16)', (c) => c.notNull().defaultTo('rules')).execute();

  await db.schema
    .createTable('session_commands')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('session_id', 'varchar(36)', (c) => c.notNull().references('proxy_sessions.id'))
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('offset_ms', 'bigint', (c) => c.notNull())
    .addColumn('command', 'text', (c) => c.notNull())
    .addColumn('exit_status', 'integer')
    .addColumn('action', 'varchar(8)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('session_commands_session').on('session_commands').columns(['session_id', 'at']).execute();
  await db.schema
    .createTable('session_output_text')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('session_id', 'varchar(36)', (c) => c.notNull().references('proxy_sessions.id'))
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('offset_ms', 'bigint', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .execute();
  // The search filters sessions by device (host name) and user name.
  await db.schema.createIndex('proxy_sessions_hostname').on('proxy_sessions').columns(['hostname', 'started_at']).execute();
  await db.schema.createIndex('proxy_sessions_username').on('proxy_sessions').columns(['username', 'started_at']).execute();
  await db.schema.createIndex('session_output_text_session').on('session_output_text').columns(['session_id', 'at']).execute();

  if (isSqlite(db)) {
    // External-content FTS5 tables: the text is stored once (in the base table), the index refers to rowids.
    // case_sensitive 0: "RM -RF" is found by "rm -rf".
    await sql`CREATE VIRTUAL TABLE session_commands_fts USING fts5(command, content='session_commands', content_rowid='id', tokenize='trigram case_sensitive 0')`.execute(db);
    await sql`CREATE VIRTUAL TABLE session_output_text_fts USING fts5(text, content='session_output_text', content_rowid='id', tokenize='trigram case_sensitive 0')`.execute(db);
    for (const [table, column] of [
      ['session_commands', 'command'],
      ['session_output_text', 'text'],
    ] as const) {
      const fts = sql.raw(`${table}_fts`);
      const t = sql.raw(table);
      const col = sql.raw(column);
      await sql`CREATE TRIGGER ${sql.raw(`${table}_ai`)} AFTER INSERT ON ${t} BEGIN INSERT INTO ${fts}(rowid, ${col}) VALUES (new.id, new.${col}); END`.execute(db);
      await sql`CREATE TRIGGER ${sql.raw(`${table}_ad`)} AFTER DELETE ON ${t} BEGIN INSERT INTO ${fts}(${fts}, rowid, ${col}) VALUES ('delete', old.id, old.${col}); END`.execute(db);
      await sql`CREATE TRIGGER ${sql.raw(`${table}_au`)} AFTER UPDATE OF ${col} ON ${t} BEGIN INSERT INTO ${fts}(${fts}, rowid, ${col}) VALUES ('delete', old.id, old.${col}); INSERT INTO ${fts}(rowid, ${col}) VALUES (new.id, new.${col}); END`.execute(db);
    }
  } else {
    // MariaDB: a FULLTEXT index folds case only under a case-insensitive collation (the database's utf8mb4_bin
    // would make "RM" miss "rm"), so the two searched columns get one; nothing compares them for equality
    // (setExitStatus confirms the exact text itself). No stopwords: "the" or "which" must narrow like any word
    // (the list is fixed per index when it is made; the migrator runs on one connection, so this SET holds).
    await sql`ALTER TABLE session_commands MODIFY command TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL`.execute(db);
    await sql`ALTER TABLE session_output_text MODIFY text TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL`.execute(db);
    await sql`SET SESSION innodb_ft_enable_stopword = OFF`.execute(db);
    try {
      await sql`CREATE FULLTEXT INDEX session_commands_ft ON session_commands (command)`.execute(db);
      await sql`CREATE FULLTEXT INDEX session_output_text_ft ON session_output_text (text)`.execute(db);
    } finally {
      await sql`SET SESSION innodb_ft_enable_stopword = ON`.execute(db);
    }
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (isSqlite(db)) {
    for (const t of ['session_commands', 'session_output_text']) {
      for (const s of ['ai', 'ad', 'au']) await sql`DROP TRIGGER IF EXISTS ${sql.raw(`${t}_${s}`)}`.execute(db);
      await sql`DROP TABLE IF EXISTS ${sql.raw(`${t}_fts`)}`.execute(db);
    }
  } else {
    await sql`DROP INDEX session_commands_ft ON session_commands`.execute(db);
    await sql`DROP INDEX session_output_text_ft ON session_output_text`.execute(db);
  }
  await db.schema.dropIndex('proxy_sessions_username').execute();
  await db.schema.dropIndex('proxy_sessions_hostname').execute();
  await db.schema.dropTable('session_output_text').execute();
  await db.schema.dropTable('session_commands').execute();
  await db.schema.alterTable('access_groups').dropColumn('command_mode').execute();
  await db.schema.dropTable('access_group_command_rules').execute();
}
