// The embedded engine: better-sqlite3 (WAL) under Kysely. Everything SQLite-specific lives here: how a write
// transaction takes the lock, how errors become typed, how 0/1 columns become booleans, how a snapshot is made.
import SQLite from 'better-sqlite3';
import { Worker } from 'node:worker_threads';
import { close as fsClose, fdatasync as fsFdatasync, open as fsOpen, statSync } from 'node:fs';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  sql,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
} from 'kysely';
import { BOOLEAN_COLUMNS } from './schema.js';
import { StoreConflictError, fromSqliteError } from './errors.js';

/** How long a write transaction waits for another process's write transaction before it is a conflict. */
export const SQLITE_LOCK_WAIT_MS = 5000;

/**
 * Kysely's SQLite driver prepares every statement anew; preparing costs more than running a small indexed
 * query. The queries are a fixed set (parameters are bound, never spliced), so prepared statements are
 * kept and reused. better-sqlite3 runs them synchronously, so reuse cannot interleave.
 */
class StatementCache {
  private readonly cache = new Map<string, { stmt: SQLite.Statement; flags: string[] }>();
  constructor(
    private readonly db: SQLite.Database,
    private readonly max = 512,
  ) {}

  /** The statement, with the result keys that hold a boolean column (by the column's origin table.column). */
  get(text: string): { stmt: SQLite.Statement; flags: string[] } {
    let entry = this.cache.get(text);
    if (!entry) {
      const stmt = this.db.prepare(text);
      // SQLite reports where each result column comes from even through aliases and joins, so
      // "g.enabled" of "access_groups as g" is known to be access_groups.enabled.
      const flags = stmt.reader ? stmt.columns().filter((c) => c.table !== null && c.column !== null && BOOLEAN_COLUMNS.has(`${c.table}.${c.column}`)).map((c) => c.name) : [];
      entry = { stmt, flags };
      if (this.cache.size >= this.max) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(text, entry);
    }
    return entry;
  }
}

/** A short jittered wait for another process's write lock, growing a little with each attempt (at most 5 ms). */
function lockWait(attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.random() * Math.min(5, 1 + attempt)));
}

/** SQLite binds no booleans: they are stored as 0/1. */
function bindable(parameters: readonly unknown[]): unknown[] {
  return parameters.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
}

class SqliteEngineConnection implements DatabaseConnection {
  constructor(private readonly statements: StatementCache) {}

  /**
   * One statement. SQLite's busy handler is off (it would sleep inside the call, holding the event loop): a
   * statement that finds another process holding the lock (possible only outside a transaction, since
   * transactions take the write lock at BEGIN IMMEDIATE) waits here without blocking and tries again, up to
   * SQLITE_LOCK_WAIT_MS; nothing of a refused statement was written, so trying again is safe.
   */
  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const deadline = Date.now() + SQLITE_LOCK_WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        return this.runOnce<R>(compiled);
      } catch (e) {
        if (!(e instanceof StoreConflictError) || Date.now() >= deadline) throw e;
      }
      await lockWait(attempt);
    }
  }

  private runOnce<R>(compiled: CompiledQuery): QueryResult<R> {
    try {
      const { stmt, flags } = this.statements.get(compiled.sql);
      const params = bindable(compiled.parameters);
      if (stmt.reader) {
        const rows = stmt.all(params) as Record<string, unknown>[];
        if (flags.length > 0) {
          for (const row of rows) for (const f of flags) if (typeof row[f] === 'number') row[f] = row[f] !== 0;
        }
        return { rows: rows as R[] };
      }
      const { changes, lastInsertRowid } = stmt.run(params);
      return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
    } catch (e) {
      throw fromSqliteError(e);
    }
  }

  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not used with the SQLite engine');
  }
}

class SqliteEngineDriver implements Driver {
  private readonly connection: SqliteEngineConnection;
  private queue: Promise<void> = Promise.resolve();
  /** Prepared once: `exec` would parse them again for every transaction. */
  private readonly control: { begin: SQLite.Statement; commit: SQLite.Statement; rollback: SQLite.Statement };

  constructor(private readonly db: SQLite.Database) {
    this.connection = new SqliteEngineConnection(new StatementCache(db));
    this.control = { begin: db.prepare('BEGIN IMMEDIATE'), commit: db.prepare('COMMIT'), rollback: db.prepare('ROLLBACK') };
  }

  async init(): Promise<void> {}

  /** SQLite has one connection: callers take turns, in order. */
  async acquireConnection(): Promise<DatabaseConnection> {
    let release!: () => void;
    const previous = this.queue;
    this.queue = new Promise((r) => (release = r));
    await previous;
    this.release = release;
    return this.connection;
  }

  private release: () => void = () => {};

  async releaseConnection(): Promise<void> {
    const r = this.release;
    this.release = () => {};
    r();
  }

  /**
   * BEGIN IMMEDIATE: the write lock is taken before the first read, so a transaction that reads and then
   * writes cannot find, at its first write, that another process wrote since its snapshot (SQLITE_BUSY,
   * which no waiting can cure). While another process holds the lock, wait for it without blocking the
   * event loop (SQLite's own busy handler sleeps inside the call); after SQLITE_LOCK_WAIT_MS it is a conflict.
   */
  async beginTransaction(): Promise<void> {
    const deadline = Date.now() + SQLITE_LOCK_WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        this.control.begin.run();
        return;
      } catch (e) {
        const mapped = fromSqliteError(e);
        if (!(mapped instanceof StoreConflictError) || Date.now() >= deadline) throw mapped;
      }
      await lockWait(attempt);
    }
  }

  async commitTransaction(): Promise<void> {
    try {
      this.control.commit.run();
    } catch (e) {
      throw fromSqliteError(e);
    }
    // This process's next transaction would otherwise take the lock again within microseconds, and a
    // writer in another process, polling for it, would rarely see it free: leave it a moment.
    await new Promise((r) => setImmediate(r));
  }

  async rollbackTransaction(): Promise<void> {
    // Some errors (SQLITE_FULL, SQLITE_IOERR...) end the transaction themselves.
    if (this.db.inTransaction) this.control.rollback.run();
  }

  async destroy(): Promise<void> {
    this.db.close();
  }
}

class SqliteEngineDialect implements Dialect {
  constructor(private readonly db: SQLite.Database) {}
  createDriver(): Driver {
    return new SqliteEngineDriver(this.db);
  }
  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }
  createAdapter(): DialectAdapter {
    return new SqliteAdapter();
  }
  // any: Kysely's own signature for introspectors.
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}

/** What the store needs of an engine beyond Kysely's dialect. The MariaDB engine implements the same. */
export interface StoreEngine {
  readonly name: 'sqlite' | 'mariadb';
  readonly dialect: Dialect;
  /** Write a consistent copy of the whole database to `file` while writers keep running (any: whatever the schema). */
  snapshotTo(db: Kysely<any>, file: string): Promise<void>;
  /**
   * Resolve once everything committed before the call is on disk. Commits themselves do not wait for the
   * disk (that would hold the event loop); a durable transaction waits here before it is acknowledged.
   */
  flush(): Promise<void>;
  /** How many flushes reached the disk (group commit: one serves every commit made before it started). */
  readonly flushes: number;
  /**
   * Wait for this process's turn to run a write transaction; call the function returned when it ended.
   * Absent where the engine queues writers itself (SQLite: one connection, BEGIN IMMEDIATE).
   */
  writeTurn?(): Promise<() => void>;
  close(): Promise<void>;
}

export interface SqliteEngineOptions {
  /**
   * Checkpoint the WAL on a worker thread (every `checkpointIntervalMs`, default 1 s) instead of inside the
   * commit that crosses SQLite's threshold on the event loop. For the daemons; short-lived tools keep
   * SQLite's automatic checkpoint.
   */
  backgroundCheckpoint?: boolean;
  checkpointIntervalMs?: number;
}

/** Open the SQLite file with the pragmas the appliance relies on. */
export async function sqliteEngine(sqlitePath: string, options: SqliteEngineOptions = {}): Promise<StoreEngine> {
  const db = new SQLite(sqlitePath);
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a commit appends to the WAL without an fsync, which better-sqlite3 would run on the
  // event loop. Durability comes from `flush()`: an fdatasync of the WAL on libuv's thread pool that every
  // durable transaction awaits before it is acknowledged — one flush for all commits made before it began
  // (group commit). So an audit row acknowledged is still an audit row on disk, and no commit blocks.
  // Checkpoints sync the WAL and the database file themselves.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  // No busy handler: it would sleep inside a call, holding the event loop. The driver waits for another
  // process's lock itself, asynchronously (BEGIN IMMEDIATE and statements outside transactions).
  db.pragma('busy_timeout = 0');
  // Only while the worker runs is the commit's own checkpoint off: a WAL nobody checkpoints would grow
  // without bound. Should the worker die, commits checkpoint again as SQLite does by default.
  let closing = false;
  const checkpointer = options.backgroundCheckpoint
    ? await startCheckpointer(sqlitePath, options.checkpointIntervalMs ?? 1000, () => {
        if (!closing && db.open) db.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_AUTOCHECKPOINT}`);
      })
    : undefined;
  if (checkpointer) db.pragma('wal_autocheckpoint = 0');
  const walPath = `${sqlitePath}-wal`;
  let wal: { fd: number; ino: number } | undefined;
  let running: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  let flushes = 0;

  /** One fdatasync of the WAL file as it is now (reopened if SQLite replaced it). */
  async function syncOnce(): Promise<void> {
    // A stat is a few microseconds here; on the thread pool it would queue behind password hashes, and the
    // commit waiting for this flush with it.
    const ino = statSync(walPath, { throwIfNoEntry: false })?.ino;
    if (ino === undefined) return; // no WAL yet: nothing uncommitted to disk
    if (!wal || wal.ino !== ino) {
      if (wal) await close(wal.fd).catch(() => undefined);
      wal = { fd: await openFd(walPath, 'r'), ino };
    }
    await fdatasync(wal.fd);
    flushes++;
  }

  function flush(): Promise<void> {
    if (!running) {
      running = syncOnce().finally(() => {
        running = undefined;
      });
      return running;
    }
    // A flush is under way and may have begun before this caller's commit: the next one covers it, and is
    // shared by everyone who arrives meanwhile.
    queued ??= running
      .catch(() => undefined)
      .then(() => {
        queued = undefined;
        return flush();
      });
    return queued;
  }

  return {
    name: 'sqlite',
    dialect: new SqliteEngineDialect(db),
    flush,
    get flushes() {
      return flushes;
    },
    async close() {
      await running?.catch(() => undefined);
      await queued?.catch(() => undefined);
      closing = true;
      if (checkpointer) await stopCheckpointer(checkpointer);
      if (wal) await close(wal.fd).catch(() => undefined);
      wal = undefined;
    },
    async snapshotTo(kysely, file) {
      // VACUUM INTO writes a consistent, compact copy while the appliance keeps running. It accepts an
      // existing empty file, so the caller can create it with the mode it wants first.
      await sql`VACUUM INTO ${file}`.execute(kysely);
    },
  };
}

const SQLITE_DEFAULT_AUTOCHECKPOINT = 1000;

async function startCheckpointer(sqlitePath: string, intervalMs: number, onLost: () => void): Promise<Worker> {
  const worker = new Worker(new URL('./sqlite-checkpointer.js', import.meta.url), { workerData: { sqlitePath, intervalMs } });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  // The process may end without closing the store (an error path): the idle worker must not keep it alive.
  worker.unref();
  worker.on('error', onLost);
  worker.on('exit', onLost);
  return worker;
}

/** Let the worker finish a last checkpoint and close its connection. */
function stopCheckpointer(worker: Worker): Promise<void> {
  return new Promise((resolve) => {
    worker.ref();
    worker.once('exit', () => resolve());
    worker.postMessage('close');
  });
}

function openFd(file: string, flags: string): Promise<number> {
  return new Promise((resolve, reject) => fsOpen(file, flags, (err, fd) => (err ? reject(err) : resolve(fd))));
}

function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsFdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

function close(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsClose(fd, (err) => (err ? reject(err) : resolve())));
}
