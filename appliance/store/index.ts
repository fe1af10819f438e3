// The store: schema, migrations and repositories over Kysely. SQLite (better-sqlite3, WAL) is the embedded
// engine; the MariaDB/Galera engine plugs in here with the same migrations.
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql, type Migration, type MigrationProvider } from 'kysely';
import { WardenError } from '../errors/index.js';
import { ensurePrivateFile, restrictExistingFile } from '../config/index.js';
import type { Database } from './schema.js';
import { Repositories } from './repositories.js';
import * as m0001 from './migrations/0001-foundation.js';
import * as m0002 from './migrations/0002-mfa.js';
import * as m0003 from './migrations/0003-vault-access.js';
import * as m0004 from './migrations/0004-access-findings.js';
import * as m0005 from './migrations/0005-auth-findings.js';
import * as m0006 from './migrations/0006-pki-findings.js';

export * from './schema.js';
export * from './repositories.js';
export * from './policy-repository.js';

const MIGRATIONS: Record<string, Migration> = {
  '0001-foundation': m0001,
  '0002-mfa': m0002,
  '0003-vault-access': m0003,
  '0004-access-findings': m0004,
  '0005-auth-findings': m0005,
  '0006-pki-findings': m0006,
};

class InCodeMigrations implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

/**
 * Kysely's SQLite driver prepares every statement anew; preparing costs more than running a small indexed
 * query. The queries are a fixed set (parameters are bound, never spliced), so prepared statements are
 * kept and reused. better-sqlite3 runs them synchronously, so reuse cannot interleave.
 */
function withStatementCache(db: SQLite.Database, max = 512): SQLite.Database {
  const cache = new Map<string, SQLite.Statement>();
  const prepare = db.prepare.bind(db);
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop !== 'prepare') {
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      }
      return (sql: string) => {
        let stmt = cache.get(sql);
        if (!stmt) {
          stmt = prepare(sql);
          if (cache.size >= max) cache.delete(cache.keys().next().value!);
          cache.set(sql, stmt);
        }
        return stmt;
      };
    },
  });
}

export interface StoreOptions {
  sqlitePath: string;
}

export class Store {
  readonly db: Kysely<Database>;
  readonly repos: Repositories;
  private closed = false;

  private constructor(db: Kysely<Database>) {
    this.db = db;
    this.repos = new Repositories(db);
  }

  /** Open (creating if needed) and migrate to the latest schema. */
  static async open(options: StoreOptions): Promise<Store> {
    let sqlite: SQLite.Database;
    try {
      // SQLite creates its files 0644 less the umask, and gives -wal/-shm the mode of the database file:
      // so the database is made 0600 before SQLite sees it, and files left by older versions are fixed.
      ensurePrivateFile(options.sqlitePath);
      for (const suffix of ['-wal', '-shm', '-journal']) restrictExistingFile(options.sqlitePath + suffix);
      sqlite = new SQLite(options.sqlitePath);
      sqlite.pragma('journal_mode = WAL');
      // FULL: an audit row acknowledged is an audit row on disk, even across power loss.
      sqlite.pragma('synchronous = FULL');
      sqlite.pragma('foreign_keys = ON');
      // The web daemon and orbit write the same file; wait for each other instead of failing.
      sqlite.pragma('busy_timeout = 5000');
    } catch (e) {
      throw new WardenError('STORE_UNAVAILABLE', `cannot open database ${options.sqlitePath}: ${(e as Error).message}`, { cause: e });
    }
    const store = new Store(new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) }));
    await store.migrate();
    return store;
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({ db: this.db, provider: new InCodeMigrations() });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
      throw new WardenError('STORE_UNAVAILABLE', `database migration ${failed} failed: ${(error as Error).message}`, { cause: error });
    }
  }

  /**
   * Run `fn` in one transaction: all its writes land, or none. `durable: false` is for writes worth nothing
   * after a power loss (a login's reservations before its hash): that commit skips its fsync, which would
   * hold the event loop (better-sqlite3 is synchronous); the next durable commit syncs it along. It stays
   * atomic and crash-safe (WAL with synchronous=NORMAL); on the connection, held for the whole transaction,
   * FULL is back before anything else runs.
   */
  async transaction<T>(fn: (repos: Repositories) => Promise<T>, opts: { durable?: boolean } = {}): Promise<T> {
    let repos: Repositories | undefined;
    const run = (db: Kysely<Database>) => db.transaction().execute((trx) => fn((repos = new Repositories(trx, true))));
    const result =
      opts.durable === false
        ? await this.db.connection().execute(async (conn) => {
            await sql`pragma synchronous = NORMAL`.execute(conn);
            try {
              return await run(conn);
            } finally {
              await sql`pragma synchronous = FULL`.execute(conn);
            }
          })
        : await run(this.db);
    repos?.runCommitted();
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.destroy();
  }
}

/** A unique index refused the write (SQLite's SQLITE_CONSTRAINT_UNIQUE/PRIMARYKEY, MariaDB's ER_DUP_ENTRY). */
export function isUniqueViolation(e: unknown): boolean {
  const code = String((e as { code?: unknown })?.code ?? '');
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'ER_DUP_ENTRY';
}
