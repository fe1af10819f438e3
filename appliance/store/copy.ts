// Copying a whole database from one store to another of either engine: SQLite → MariaDB when an appliance
// becomes a cluster's first node (`orbit cluster init`), MariaDB → a new SQLite file for a backup of a cluster
// (Store.snapshotTo), so a backup stays one portable file. Both stores run the same migrations, so a table is
// the same columns on both sides; only the rows travel, then each table's count is checked.
import { sql, type Kysely, type Transaction } from 'kysely';
import { WardenError } from '../errors/index.js';
import type { Store } from './index.js';

export interface CopyOptions {
  /** After every batch: rows of `table` copied so far, of `total`. */
  onProgress?(table: string, done: number, total: number): void;
  /** Rows per statement at most (default 500; fewer when a table has many columns). */
  batchRows?: number;
}

export interface CopyResult {
  tables: { name: string; rows: number }[];
}

/** Kysely's own bookkeeping: each store keeps its own (the same migrations ran on both). */
const MIGRATION_TABLES = new Set(['kysely_migration', 'kysely_migration_lock']);
/** Rows per transaction on the target: a Galera write set stays small enough to certify and replicate quickly. */
const ROWS_PER_TRANSACTION = 5000;
/** Bytes of values per statement, about (MariaDB's max_allowed_packet is 16 MiB by default). */
const BYTES_PER_STATEMENT = 4 * 1024 * 1024;

// any: tables are named at run time; both stores share the schema of `Database`, checked by the migrations.
type AnyDb = Kysely<any> | Transaction<any>;

async function tablesOf(store: Store): Promise<string[]> {
  const tables = await store.db.introspection.getTables();
  return tables.filter((t) => !t.isView && !MIGRATION_TABLES.has(t.name)).map((t) => t.name);
}

async function migrationsOf(store: Store): Promise<string[]> {
  const rows = await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(store.db);
  return rows.rows.map((r) => r.name);
}

async function primaryKey(store: Store, table: string): Promise<string[]> {
  if (store.engineName === 'sqlite') {
    const rows = await sql<{ name: string; pk: number }>`SELECT name, pk FROM pragma_table_info(${table})`.execute(store.db);
    return rows.rows.filter((r) => r.pk > 0).sort((a, b) => a.pk - b.pk).map((r) => r.name);
  }
  const rows = await sql<{ c: string }>`SELECT COLUMN_NAME AS c FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ${table} AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX`.execute(store.db);
  return rows.rows.map((r) => r.c);
}

/** The tables `table` refers to by foreign key (itself excluded). */
async function parentsOf(store: Store, table: string): Promise<string[]> {
  const rows =
    store.engineName === 'sqlite'
      ? await sql<{ t: string }>`SELECT DISTINCT "table" AS t FROM pragma_foreign_key_list(${table})`.execute(store.db)
      : await sql<{ t: string }>`SELECT DISTINCT REFERENCED_TABLE_NAME AS t FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ${table} AND REFERENCED_TABLE_NAME IS NOT NULL`.execute(store.db);
  return rows.rows.map((r) => r.t).filter((t) => t !== table);
}

/** Parents before children, so every committed batch satisfies its foreign keys. */
async function dependencyOrder(store: Store, tables: string[]): Promise<string[]> {
  const parents = new Map<string, string[]>();
  for (const t of tables) parents.set(t, (await parentsOf(store, t)).filter((p) => tables.includes(p)));
  const ordered: string[] = [];
  const visiting = new Set<string>();
  const visit = (t: string) => {
    if (ordered.includes(t) || visiting.has(t)) return;
    visiting.add(t);
    for (const p of parents.get(t) ?? []) visit(p);
    visiting.delete(t);
    ordered.push(t);
  };
  for (const t of tables) visit(t);
  return ordered;
}

async function count(db: AnyDb, table: string): Promise<number> {
  const r = await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

function approximateBytes(row: Record<string, unknown>): number {
  let n = 0;
  for (const v of Object.values(row)) n += typeof v === 'string' ? Buffer.byteLength(v) : 8;
  return n;
}

/**
 * Copy every table of `source` into `target` (both migrated to the same version), then check each table's
 * row count; STORE_COPY_MISMATCH names the first table that differs. The target must not hold an appliance
 * yet (no users, no audit events): its rows (those the migrations seed) are replaced. The source is read in
 * one transaction, so the copy is one consistent moment of it: on SQLite that transaction holds the write
 * lock (stop the daemons first: their writes would wait), on MariaDB it is a consistent snapshot that lets
 * writers go on. The target is written in transactions of a few thousand rows (Galera certifies each write
 * set as one), parents before children: SQLite checks foreign keys at each commit, MariaDB not while the
 * source's rows (which satisfied them) arrive.
 */
export async function copyDatabase(source: Store, target: Store, opts: CopyOptions = {}): Promise<CopyResult> {
  const [sourceMigrations, targetMigrations] = await Promise.all([migrationsOf(source), migrationsOf(target)]);
  if (sourceMigrations.join() !== targetMigrations.join()) {
    throw new WardenError('CONFLICT', `the two databases are not at the same schema version (source ${sourceMigrations.at(-1) ?? 'none'}, target ${targetMigrations.at(-1) ?? 'none'})`);
  }
  const targetTables = new Set(await tablesOf(target));
  // SQLite's full-text tables (FTS5 and its shadow tables) exist only there and are filled by triggers.
  const tables = await dependencyOrder(source, (await tablesOf(source)).filter((t) => targetTables.has(t)).sort());
  if ((await count(target.db, 'users')) > 0 || (await count(target.db, 'audit_events')) > 0) {
    throw new WardenError('CONFLICT', 'the target database already holds an appliance (users or audit events): refusing to copy over it');
  }
  const keys = new Map<string, string[]>();
  for (const t of tables) keys.set(t, await primaryKey(source, t));

  const copyAll = async (from: AnyDb): Promise<CopyResult> => {
    const totals = new Map<string, number>();
    for (const t of tables) totals.set(t, await count(from, t));
    // The rows the target's migrations seeded (the change feed's head, a watermark) give way to the source's.
    await inTargetTransaction(target, async (trx) => {
      for (const t of [...tables].reverse()) await trx.deleteFrom(t).execute();
    });
    for (const table of tables) {
      const total = totals.get(table)!;
      opts.onProgress?.(table, 0, total);
      let done = 0;
      let pending: Record<string, unknown>[] = [];
      const flush = async () => {
        if (pending.length === 0) return;
        const rows = pending;
        pending = [];
        await inTargetTransaction(target, async (trx) => {
          const columns = Object.keys(rows[0]!).length;
          const perStatement = Math.max(1, Math.min(opts.batchRows ?? 500, Math.floor(30_000 / Math.max(1, columns))));
          let start = 0;
          while (start < rows.length) {
            let end = start;
            let bytes = 0;
            while (end < rows.length && end - start < perStatement && (end === start || bytes < BYTES_PER_STATEMENT)) bytes += approximateBytes(rows[end++]!);
            await trx.insertInto(table).values(rows.slice(start, end)).execute();
            start = end;
          }
        });
        done += rows.length;
        opts.onProgress?.(table, done, total);
      };
      for await (const page of readPages(from, table, keys.get(table)!)) {
        pending.push(...page);
        if (pending.length >= ROWS_PER_TRANSACTION) await flush();
      }
      await flush();
    }
    const copied: CopyResult['tables'] = [];
    for (const table of tables) {
      const expected = totals.get(table)!;
      const got = await count(target.db, table);
      if (got !== expected) {
        throw new WardenError('STORE_COPY_MISMATCH', `table ${table}: ${expected} rows in the source, ${got} in the copy`, { details: { table, source: expected, target: got } });
      }
      copied.push({ name: table, rows: got });
    }
    return { tables: copied };
  };

  if (source.engineName === 'mariadb') {
    // A consistent snapshot at REPEATABLE READ, read-only: no locks, writers on every node go on.
    return source.db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute((trx) => copyAll(trx));
  }
  return source.db.transaction().execute((trx) => copyAll(trx));
}

/** A table's rows in primary-key order, a page at a time (after the last key seen when the key is one column). */
async function* readPages(db: AnyDb, table: string, key: string[], pageSize = 2000): AsyncGenerator<Record<string, unknown>[]> {
  if (key.length === 1) {
    const k = key[0]!;
    let last: unknown;
    for (;;) {
      let q = db.selectFrom(table).selectAll().orderBy(k).limit(pageSize);
      if (last !== undefined) q = q.where(k, '>', last);
      const rows = (await q.execute()) as Record<string, unknown>[];
      if (rows.length === 0) return;
      yield rows;
      last = rows.at(-1)![k];
      if (rows.length < pageSize) return;
    }
  }
  // Composite keys belong to small link tables: offset paging is cheap enough there.
  for (let offset = 0; ; offset += pageSize) {
    let q = db.selectFrom(table).selectAll();
    for (const k of key) q = q.orderBy(k);
    const rows = (await q.limit(pageSize).offset(offset).execute()) as Record<string, unknown>[];
    if (rows.length === 0) return;
    yield rows;
    if (rows.length < pageSize) return;
  }
}

/**
 * A transaction on the target with foreign keys set aside while its rows arrive: SQLite defers them to the
 * commit (still checked: a row of a table that refers to itself may come before its parent), MariaDB skips them
 * for this connection.
 */
async function inTargetTransaction(target: Store, fn: (trx: Transaction<any>) => Promise<void>): Promise<void> {
  await target.db.transaction().execute(async (trx) => {
    if (target.engineName === 'sqlite') {
      await sql`PRAGMA defer_foreign_keys = ON`.execute(trx);
      await fn(trx);
      return;
    }
    await sql`SET SESSION foreign_key_checks = 0`.execute(trx);
    try {
      await fn(trx);
    } finally {
      await sql`SET SESSION foreign_key_checks = 1`.execute(trx);
    }
  });
}
