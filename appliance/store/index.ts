// The store: schema, migrations, repositories and transactions (with retry on conflict) over Kysely.
// SQLite (better-sqlite3, WAL) is the embedded engine; the MariaDB/Galera engine plugs in as another
// StoreEngine with the same migrations. Nothing above this module sees which engine runs.
import { Kysely, Migrator, type Migration, type MigrationProvider } from 'kysely';
import { WardenError } from '../errors/index.js';
import { ensurePrivateFile, restrictExistingFile } from '../config/index.js';
import type { Database } from './schema.js';
import { Repositories } from './repositories.js';
import { StoreConflictError, isUniqueViolation } from './errors.js';
import { sqliteEngine, type StoreEngine } from './sqlite-engine.js';
import { mariadbEngine, type MariaDbEngineOptions, type MariaDbHost } from './mariadb-engine.js';
import { readMariaDbPassword } from './mariadb-password.js';
import * as m0001 from './migrations/0001-foundation.js';
import * as m0002 from './migrations/0002-mfa.js';
import * as m0003 from './migrations/0003-vault-access.js';
import * as m0004 from './migrations/0004-access-findings.js';
import * as m0005 from './migrations/0005-auth-findings.js';
import * as m0006 from './migrations/0006-pki-findings.js';
import * as m0008 from './migrations/0008-proxy-sessions.js';
import * as m0007 from './migrations/0007-change-feed.js';
import * as m0009 from './migrations/0009-recordings.js';
import * as m0010 from './migrations/0010-commands.js';
import * as m0011 from './migrations/0011-ssh-keys.js';
import * as m0012 from './migrations/0012-live-sessions.js';
import * as m0013 from './migrations/0013-port-forwarding.js';
import * as m0014 from './migrations/0014-agent-forwarding.js';
import * as m0015 from './migrations/0015-certificate-chain.js';
import * as m0016 from './migrations/0016-rdp-tickets.js';
import * as m0017 from './migrations/0017-cluster-nodes.js';
import * as m0019 from './migrations/0019-audit-node.js';
import * as m0020 from './migrations/0020-credential-versions.js';
import * as m0021 from './migrations/0021-credential-status.js';
import * as m0022 from './migrations/0022-rotation-triggers.js';
import * as m0023 from './migrations/0023-password-templates.js';
import * as m0024 from './migrations/0024-exclusive-checkout.js';
import * as m0025 from './migrations/0025-discovery.js';
import * as m0026 from './migrations/0026-group-rotation-schedule.js';
import { ChangeFeed } from './change-feed.js';
import { copyDatabase } from './copy.js';

export * from './schema.js';
export * from './repositories.js';
export * from './devices-repository.js';
export * from './credentials-repository.js';
export * from './discovery-repository.js';
export * from './host-keys-repository.js';
export * from './protected-items-repository.js';
export * from './access-groups-repository.js';
export * from './access-requests-repository.js';
export * from './connectivity-repository.js';
export * from './recordings-repository.js';
export { StoreConstraintError, StoreConflictError, isStoreConstraint, isUniqueViolation, type ConstraintKind } from './errors.js';
export * from './change-feed.js';
export * from './job-leases.js';
export * from './ssh-keys-repository.js';
export * from './session-commands-repository.js';
export * from './session-hosts-repository.js';
export * from './rdp-tickets-repository.js';
export * from './cluster-nodes-repository.js';
export * from './dashboard-repository.js';
export { copyDatabase, type CopyOptions, type CopyResult } from './copy.js';

export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001-foundation': m0001,
  '0002-mfa': m0002,
  '0003-vault-access': m0003,
  '0004-access-findings': m0004,
  '0005-auth-findings': m0005,
  '0006-pki-findings': m0006,
  '0007-change-feed': m0007,
  '0008-proxy-sessions': m0008,
  '0009-recordings': m0009,
  '0010-commands': m0010,
  '0011-ssh-keys': m0011,
  '0012-live-sessions': m0012,
  '0013-port-forwarding': m0013,
  '0014-agent-forwarding': m0014,
  '0015-certificate-chain': m0015,
  '0016-rdp-tickets': m0016,
  '0017-cluster-nodes': m0017,
  '0019-audit-node': m0019,
  '0020-credential-versions': m0020,
  '0021-credential-status': m0021,
  '0022-rotation-triggers': m0022,
  '0023-password-templates': m0023,
  '0024-exclusive-checkout': m0024,
  '0025-discovery': m0025,
  '0026-group-rotation-schedule': m0026,
};

async function openSqlite(options: SqliteStoreOptions): Promise<StoreEngine> {
  try {
    // SQLite creates its files 0644 less the umask, and gives -wal/-shm the mode of the database file:
    // so the database is made 0600 before SQLite sees it, and files left by older versions are fixed.
    // (0660 in the appliance's shared state directory, where every daemon writes it: config/private-files.)
    ensurePrivateFile(options.sqlitePath);
    for (const suffix of ['-wal', '-shm', '-journal']) restrictExistingFile(options.sqlitePath + suffix, { write: true });
    return await sqliteEngine(options.sqlitePath, { ...(options.backgroundCheckpoint ? { backgroundCheckpoint: true } : {}), ...(options.checkpointIntervalMs ? { checkpointIntervalMs: options.checkpointIntervalMs } : {}) });
  } catch (e) {
    throw new WardenError('STORE_UNAVAILABLE', `cannot open database ${options.sqlitePath}: ${(e as Error).message}`, { cause: e });
  }
}

async function openMariaDb(options: MariaDbStoreOptions): Promise<StoreEngine> {
  const m = options.mariadb;
  const where = `${m.database} on ${m.socketPath ?? m.hosts.map((h) => `${h.host}:${h.port}`).join(', ')}`;
  try {
    const password = m.password ?? (m.passwordFile ? readMariaDbPassword(m.passwordFile) : '');
    const engineOptions: MariaDbEngineOptions = {
      hosts: m.hosts,
      user: m.user,
      password,
      database: m.database,
      ...(m.socketPath ? { socketPath: m.socketPath } : {}),
      ...(m.connectionLimit ? { connectionLimit: m.connectionLimit } : {}),
      ...(m.statementTimeoutMs ? { statementTimeoutMs: m.statementTimeoutMs } : {}),
    };
    return await mariadbEngine(engineOptions);
  } catch (e) {
    if (e instanceof WardenError && e.code === 'CONFIG_INVALID') throw e;
    throw new WardenError('STORE_UNAVAILABLE', `cannot open database ${where}: ${(e as Error).message}`, { cause: e });
  }
}

class InCodeMigrations implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

export interface SqliteStoreOptions {
  engine?: 'sqlite';
  sqlitePath: string;
  /** Checkpoint the WAL beside the event loop (daemons); see `SqliteEngineOptions`. */
  backgroundCheckpoint?: boolean;
  checkpointIntervalMs?: number;
}

/** How to reach the MariaDB (Galera) store: warden.json's store.mariadb, or a password given directly. */
export interface MariaDbStoreConnection {
  /** This node first, then the other nodes in the order they are tried while it is down or not Synced. */
  hosts: readonly MariaDbHost[];
  user: string;
  database: string;
  /** This node's server by its Unix socket (instead of hosts[0] over TCP). */
  socketPath?: string | undefined;
  /** A private file (0600 or 0640) holding the password on its first line. */
  passwordFile?: string | undefined;
  /** The password itself (tests, `orbit cluster init`); passwordFile otherwise. */
  password?: string | undefined;
  connectionLimit?: number;
  /** See MariaDbEngineOptions.statementTimeoutMs (default 30 s). */
  statementTimeoutMs?: number;
}

export interface MariaDbStoreOptions {
  engine: 'mariadb';
  mariadb: MariaDbStoreConnection;
  /** Unused by this engine (a config keeps it for a return to SQLite); accepted so a config's store section passes as is. */
  sqlitePath?: string;
  backgroundCheckpoint?: boolean;
  checkpointIntervalMs?: number;
}

/** `{ sqlitePath }` alone is SQLite, as before the MariaDB engine. */
export type StoreOptions = SqliteStoreOptions | MariaDbStoreOptions;

export { createMariaDbDatabase, MARIADB_COLLATION, MARIADB_CHARSET, type MariaDbHost, type MariaDbEngineOptions } from './mariadb-engine.js';

/** How often a transaction that collided with another writer is run, at most, before STORE_UNAVAILABLE. */
export const TRANSACTION_ATTEMPTS = 12;
/**
 * No new attempt starts this long after the first: a conflict that is a lock wait which timed out (SQLite
 * after SQLITE_LOCK_WAIT_MS, MariaDB after innodb_lock_wait_timeout) has already waited.
 */
export const TRANSACTION_RETRY_WINDOW_MS = 10_000;

export interface TransactionOptions {
  /** Runs in all, at most (default TRANSACTION_ATTEMPTS). */
  attempts?: number;
  /** false: the commit may skip its own flush to disk (see Store.transaction). */
  durable?: boolean;
}

/** Full jitter over an exponential ceiling: colliding writers spread out instead of colliding again. */
function backoff(attempt: number): Promise<void> {
  const ceiling = Math.min(200, 4 * 2 ** attempt);
  return new Promise((r) => setTimeout(r, Math.random() * ceiling));
}

/**
 * A collision that running the transaction again can resolve: the engine's conflict, or two writers that
 * took the same next place in the audit chain (possible on MariaDB, where a transaction reads the head
 * without the table lock SQLite's BEGIN IMMEDIATE takes).
 */
function isRetryable(e: unknown): boolean {
  return e instanceof StoreConflictError || isUniqueViolation(e, { table: 'audit_events', column: 'seq' });
}

export class Store {
  readonly db: Kysely<Database>;
  readonly repos: Repositories;
  /** What the other processes announced (and this one): follow it to hear their changes. */
  readonly feed: ChangeFeed;
  private closed = false;

  private constructor(
    private readonly engine: StoreEngine,
    db: Kysely<Database>,
  ) {
    this.db = db;
    this.repos = new Repositories(db, false, engine.name);
    this.feed = new ChangeFeed(this.repos.changes);
  }

  /** Which engine runs underneath (for status output; services never branch on it). */
  get engineName(): StoreEngine['name'] {
    return this.engine.name;
  }

  /** Open (creating if needed) and migrate to the latest schema. */
  static async open(options: StoreOptions): Promise<Store> {
    const engine = options.engine === 'mariadb' ? await openMariaDb(options) : await openSqlite(options);
    const store = new Store(engine, new Kysely<Database>({ dialect: engine.dialect }));
    try {
      await store.migrate();
    } catch (e) {
      await store.close().catch(() => undefined);
      throw e;
    }
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
   * Run `fn` in one write transaction: all its writes land, or none. Every write transaction of the
   * appliance runs here. If it collides with a writer in another process (SQLite: the lock stayed taken;
   * MariaDB/Galera: deadlock, lock wait timeout, certification failure) it is rolled back and run again,
   * after a jittered wait, up to `attempts` runs within TRANSACTION_RETRY_WINDOW_MS; then the
   * StoreConflictError (STORE_UNAVAILABLE) escapes. `fn` may
   * therefore run more than once: it must act only through `repos` (work for after the commit goes to
   * `repos.afterCommit`, which a rolled-back attempt drops). Constraint refusals are StoreConstraintError.
   * A transaction returns only once its commit is on disk (`engine.flush()`, shared by every commit made
   * before it began: group commit, off the event loop). `durable: false` is for writes worth nothing after a
   * power loss (a login's reservations before its hash): it does not wait, and the next durable commit takes
   * it along. It stays atomic and crash-safe. Never for a transaction with an audit row.
   */
  async transaction<T>(fn: (repos: Repositories) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const attempts = Math.max(1, options.attempts ?? TRANSACTION_ATTEMPTS);
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      let repos: Repositories | undefined;
      const endTurn = await this.engine.writeTurn?.();
      try {
        const result = await this.db.transaction()
          .execute((trx) => fn((repos = new Repositories(trx, true, this.engine.name))))
          .finally(() => endTurn?.());
        // Acknowledged only once on disk; what runs after the commit (exporters, the audit anchor) waits too.
        if (options.durable !== false) await this.engine.flush();
        repos?.runCommitted();
        return result;
      } catch (e) {
        if (attempt + 1 >= attempts || !isRetryable(e) || Date.now() - started >= TRANSACTION_RETRY_WINDOW_MS) throw e;
        await backoff(attempt);
      }
    }
  }

  /**
   * Write a consistent copy of the whole database to `file` (an existing empty file keeps its mode): always a
   * SQLite file, so a backup of a cluster restores on a single appliance as well (MariaDB: copyDatabase into
   * a new SQLite store, from one consistent snapshot while writers go on).
   */
  async snapshotTo(file: string): Promise<void> {
    if (this.engine.name === 'mariadb') {
      const copy = await Store.open({ sqlitePath: file });
      try {
        await copyDatabase(this, copy);
      } finally {
        await copy.close();
      }
      return;
    }
    await this.engine.snapshotTo(this.db, file);
  }

  /** How many flushes of committed writes reached the disk in this process (one serves many commits). */
  get flushes(): number {
    return this.engine.flushes;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.engine.close();
    await this.db.destroy();
  }
}
