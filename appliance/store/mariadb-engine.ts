// The cluster engine: MariaDB (Galera) through a mysql2 pool under Kysely, with our own driver so that, as with
// SQLite, everything engine-specific lives here: which host serves (this node first, the others when it is down
// or not Synced), how a write transaction isolates, how errors become typed, how 0/1 columns become booleans.
//
// Across Galera nodes, locks do not travel: certification compares the rows two transactions wrote, so a guard
// is cluster-safe when its check and its act write the same row (a conditional UPDATE of that row, a unique or
// primary key). Every audited transaction appends audit_events at seq = last + 1 (primary key): two audited
// transactions on two nodes at once collide there and one runs again, so every check inside an audited
// transaction (the SSH-key and RDP-ticket limits, the approval count) is serialized cluster-wide by the chain.
import mysql from 'mysql2/promise';
import type { FieldPacket, PoolConnection, Pool, ResultSetHeader } from 'mysql2/promise';
import {
  CompiledQuery,
  MysqlAdapter,
  MysqlIntrospector,
  MysqlQueryCompiler,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import { WardenError } from '../errors/index.js';
import { BOOLEAN_COLUMNS } from './schema.js';
import { StoreConflictError, fromMariaDbError, statementTable } from './errors.js';
import type { StoreEngine } from './sqlite-engine.js';

/** Where a MariaDB server listens: TCP, or (this node only) its Unix socket. */
export interface MariaDbHost {
  host: string;
  port: number;
}

export interface MariaDbEngineOptions {
  /** This node first; the others are used, in order, while it is down or not Synced. */
  hosts: readonly MariaDbHost[];
  /** Reach the first host through its Unix socket instead of TCP (same machine). */
  socketPath?: string;
  user: string;
  password: string;
  database: string;
  /** Pool size per host (default 10). */
  connectionLimit?: number;
  /** How long to wait for a TCP connection to a host before trying the next (default 3 s). */
  connectTimeoutMs?: number;
  /** How long a statement waits for a row lock before it is a conflict (default 5 s, as SQLite's lock wait). */
  lockWaitSeconds?: number;
  /**
   * How long a statement (not DDL: a migration may build an index for long) may go without an answer before
   * its connection counts as lost (default 30 s). A host that vanishes from the network without closing its
   * sockets would otherwise hold the statement until TCP gives up, many minutes later.
   */
  statementTimeoutMs?: number;
}

/** The collation every Warden database is created with: bytes compare as in SQLite (case-sensitive keys). */
export const MARIADB_CHARSET = 'utf8mb4';
export const MARIADB_COLLATION = 'utf8mb4_bin';

/** After failing over, how long before this node is tried again first. */
const PREFERRED_HOST_RETRY_MS = 5000;
/** How long a replaced pool lives on for the connections it had lent out. */
const DISCARDED_POOL_GRACE_MS = 30_000;

/** Statements bounded by statementTimeoutMs: data, not schema. */
const BOUNDED_STATEMENT = /^\s*(select|show|with|insert|update|delete|replace|commit|rollback)\b/i;

/** A statement that only reads: outside a transaction it may be sent again (it changed nothing). */
const READ_ONLY_STATEMENT = /^\s*(select|show|with)\b/i;

/** Errors that say the connection (or the node behind it) is gone or unusable: it is not given back to the pool. */
const CONNECTION_LOST_CODES = new Set(['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'ENOENT', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_SERVER_SHUTDOWN', 'ER_CONNECTION_KILLED']);
/** 1047: WSREP has not yet prepared node for application use (not Synced); 1053 shutdown; 1927 killed; 2006/2013 gone. */
const CONNECTION_LOST_ERRNOS = new Set([1047, 1053, 1927, 2006, 2013]);

export function isConnectionLost(e: unknown): boolean {
  const err = e as { code?: unknown; errno?: unknown; fatal?: unknown };
  if (typeof err?.code === 'string' && CONNECTION_LOST_CODES.has(err.code)) return true;
  if (typeof err?.errno === 'number' && CONNECTION_LOST_ERRNOS.has(err.errno)) return true;
  return err?.fatal === true;
}

/** The node answers but cannot serve the application yet (joining, donor without desync, not primary). */
class NodeNotReadyError extends Error {
  readonly errno = 1047;
  constructor(state: string) {
    super(`the node is not ready (wsrep_ready ${state})`);
  }
}

function bindable(parameters: readonly unknown[]): unknown[] {
  return parameters.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
}

/** Per raw connection: set up once (isolation, Galera's causal reads, lock wait). */
const prepared = new WeakSet<object>();

/**
 * The pools, one per host (made when first needed). New connections come from this node while it answers;
 * when it refuses (down, not Synced) the next host serves, and this node is tried again a few seconds later.
 */
class HostPools {
  private readonly pools: (Pool | undefined)[];
  /** The configured hosts, then the cluster's other members as they announce themselves (learned). */
  private readonly hosts: MariaDbHost[];
  private active = 0;
  private retryFirstAt = 0;
  private wsrep: boolean | undefined;

  constructor(private readonly options: MariaDbEngineOptions) {
    if (options.hosts.length === 0 && !options.socketPath) throw new WardenError('CONFIG_INVALID', 'store.mariadb.hosts is empty');
    this.hosts = [...options.hosts];
    this.pools = Array.from({ length: Math.max(1, options.hosts.length) }, () => undefined);
  }

  /**
   * Add the members of the cluster that are not in the configuration, from the client addresses they
   * announce (wsrep_incoming_addresses: "host:port,[v6]:port"), so a node configured with only itself (the
   * first node, made before any joined) still fails over to its peers when its own server dies. A member
   * that announces nothing usable (AUTO, port 0) is skipped.
   */
  private learn(announced: string): void {
    for (const entry of announced.split(',').map((e) => e.trim())) {
      const m = /^\[([^\]]+)\]:(\d+)$/.exec(entry) ?? /^([^:\s]+):(\d+)$/.exec(entry);
      if (!m) continue;
      const host = m[1]!;
      const port = Number(m[2]);
      if (port <= 0 || port > 65535 || this.hosts.some((h) => h.host === host && h.port === port)) continue;
      this.hosts.push({ host, port });
      this.pools.push(undefined);
    }
  }

  /** Whether the server runs Galera (known after the first connection). */
  get isCluster(): boolean {
    return this.wsrep === true;
  }

  get statementTimeoutMs(): number {
    return this.options.statementTimeoutMs ?? 30_000;
  }

  /** Which host (index in `hosts`) serves new connections now. */
  get activeHost(): number {
    return this.active;
  }

  private pool(i: number): Pool {
    let pool = this.pools[i];
    if (!pool) {
      const o = this.options;
      const target = i === 0 && o.socketPath ? { socketPath: o.socketPath } : { host: this.hosts[i]!.host, port: this.hosts[i]!.port };
      pool = mysql.createPool({
        ...target,
        user: o.user,
        password: o.password,
        database: o.database,
        connectionLimit: o.connectionLimit ?? 10,
        connectTimeout: o.connectTimeoutMs ?? 3000,
        // Every string in and out is UTF-8, and literals compare like the columns: byte for byte.
        charset: 'UTF8MB4_BIN',
        // SUM() and the like come back as DECIMAL: numbers, as from SQLite. BIGINT columns (epoch ms) are
        // numbers already (supportBigNumbers off): exact up to 2^53.
        decimalNumbers: true,
        // Matched rows, not changed rows: "UPDATE ... WHERE" tells whether the row was there, as on SQLite.
        flags: ['FOUND_ROWS'],
        idleTimeout: 60_000,
        enableKeepAlive: true,
      });
      // A connection that dies while idle in the pool: mysql2 drops it; nothing to do but not crash.
      pool.on('connection', (c) => c.on('error', () => undefined));
      this.pools[i] = pool;
    }
    return pool;
  }

  /** Replaced pools not yet ended (their lent connections may still be in use). */
  private readonly discarded = new Set<Pool>();
  /** Which host each connection handed out came from. */
  private readonly hostOf = new WeakMap<PoolConnection, number>();

  /**
   * A connection of this host was found dead: the host's pool is replaced, so its other idle connections
   * (dead too if the server died, until their sockets say so) are not handed out again; the next acquire
   * dials afresh and fails over if the host is down. The old pool ends later, once what it lent is back.
   */
  discard(conn: PoolConnection): void {
    const i = this.hostOf.get(conn);
    if (i === undefined) return;
    const old = this.pools[i];
    if (!old) return;
    this.pools[i] = undefined;
    this.discarded.add(old);
    setTimeout(() => {
      this.discarded.delete(old);
      void old.end().catch(() => undefined);
    }, DISCARDED_POOL_GRACE_MS).unref();
  }

  private order(): number[] {
    const n = this.pools.length;
    const rest = Array.from({ length: n }, (_, i) => i).filter((i) => i !== this.active);
    if (this.active !== 0 && Date.now() >= this.retryFirstAt) return [0, this.active, ...rest.filter((i) => i !== 0)];
    return [this.active, ...rest];
  }

  async acquire(): Promise<PoolConnection> {
    let lastError: unknown;
    for (const i of this.order()) {
      let conn: PoolConnection | undefined;
      try {
        conn = await this.pool(i).getConnection();
        await this.prepare(conn);
        this.hostOf.set(conn, i);
        if (i !== this.active) {
          this.active = i;
          if (i !== 0) this.retryFirstAt = Date.now() + PREFERRED_HOST_RETRY_MS;
        }
        return conn;
      } catch (e) {
        conn?.destroy();
        if (!isConnectionLost(e) && !(e instanceof NodeNotReadyError)) throw fromMariaDbError(e);
        lastError = e;
        if (i === 0 && this.active === 0) this.retryFirstAt = Date.now() + PREFERRED_HOST_RETRY_MS;
      }
    }
    // Every host refused: a conflict, so a write transaction tries again (a node may be coming back).
    throw new StoreConflictError(`no database host answered (${(lastError as Error)?.message ?? 'unknown'})`, lastError);
  }

  private async prepare(conn: PoolConnection): Promise<void> {
    const raw = conn.connection as unknown as object;
    if (prepared.has(raw)) return;
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT @@wsrep_on AS wsrep, @@collation_database AS collation');
    const { wsrep, collation } = rows[0]!;
    if (collation !== MARIADB_COLLATION) {
      throw new WardenError('STORE_UNAVAILABLE', `database ${this.options.database} has collation ${collation}, not ${MARIADB_COLLATION}: create it with CHARACTER SET ${MARIADB_CHARSET} COLLATE ${MARIADB_COLLATION}`);
    }
    const lockWait = this.options.lockWaitSeconds ?? 5;
    // SERIALIZABLE: a plain read inside a write transaction takes a shared lock, so a check-then-write that
    // SQLite serialized with BEGIN IMMEDIATE becomes a lock wait or a deadlock (retried by Store.transaction)
    // instead of a lost update. Reads outside transactions (autocommit) stay consistent reads without locks.
    // PIPES_AS_CONCAT: || concatenates, as in SQLite and standard SQL (MariaDB's default reads it as OR).
    await conn.query(`SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE`);
    await conn.query(`SET SESSION innodb_lock_wait_timeout = ${Number(lockWait)}, SESSION sql_mode = 'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,NO_ZERO_DATE,NO_ZERO_IN_DATE,PIPES_AS_CONCAT'`);
    if (Number(wsrep) === 1) {
      this.wsrep = true;
      const [status] = await conn.query<mysql.RowDataPacket[]>("SHOW STATUS WHERE Variable_name IN ('wsrep_ready', 'wsrep_incoming_addresses')");
      const value = (name: string) => status.find((r) => r.Variable_name === name)?.Value;
      const state = String(value('wsrep_ready') ?? 'OFF');
      this.learn(String(value('wsrep_incoming_addresses') ?? ''));
      if (state !== 'ON') throw new NodeNotReadyError(state);
      // Causal reads: a read waits until this node has applied what the cluster committed before it began,
      // so a user created through node A can log in through node B at once.
      await conn.query('SET SESSION wsrep_sync_wait = 1');
    } else {
      this.wsrep = false;
    }
    prepared.add(raw);
  }

  async end(): Promise<void> {
    await Promise.all([...this.pools, ...this.discarded].map((p) => p?.end().catch(() => undefined)));
    this.discarded.clear();
  }
}

/** The booleans of a result (by each column's origin table.column, through aliases and joins). */
function booleanFields(fields: readonly FieldPacket[] | undefined): string[] {
  if (!fields) return [];
  const out: string[] = [];
  for (const f of fields) if (f.orgTable && f.orgName && BOOLEAN_COLUMNS.has(`${f.orgTable}.${f.orgName}`)) out.push(f.name);
  return out;
}

class MariaDbConnection implements DatabaseConnection {
  /** Set when the connection must not go back to the pool. */
  broken = false;
  /** Between BEGIN and COMMIT/ROLLBACK: a lost connection then loses the transaction (Store.transaction reruns it). */
  inTransaction = false;

  constructor(
    public raw: PoolConnection,
    private readonly keys: UniqueKeys,
    private readonly pools: HostPools,
  ) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    let result: unknown;
    let fields: FieldPacket[] | undefined;
    const timeout = BOUNDED_STATEMENT.test(compiled.sql) ? this.pools.statementTimeoutMs : undefined;
    const send = async () => (await this.raw.query({ sql: compiled.sql, values: bindable(compiled.parameters), ...(timeout ? { timeout } : {}) })) as [unknown, FieldPacket[]];
    try {
      [result, fields] = await send();
    } catch (e) {
      if (this.inTransaction || !isConnectionLost(e) || !READ_ONLY_STATEMENT.test(compiled.sql)) throw await this.mapError(e, compiled.sql);
      // A read outside a transaction on a connection found dead (its server died; the pool had not heard
      // yet): sent once more on a connection dialled now, from another host if this one is down. Without
      // this, the first request after a node's death fails although its peers answer.
      this.pools.discard(this.raw);
      this.raw.destroy();
      this.broken = true;
      this.raw = await this.pools.acquire();
      this.broken = false;
      try {
        [result, fields] = await send();
      } catch (again) {
        throw await this.mapError(again, compiled.sql);
      }
    }
    if (Array.isArray(result)) {
      const flags = booleanFields(fields);
      if (flags.length > 0) {
        for (const row of result as Record<string, unknown>[]) for (const f of flags) if (typeof row[f] === 'number') row[f] = row[f] !== 0;
      }
      return { rows: result as R[] };
    }
    const header = result as ResultSetHeader;
    return {
      numAffectedRows: BigInt(header.affectedRows ?? 0),
      ...(header.insertId ? { insertId: BigInt(header.insertId) } : {}),
      rows: [],
    };
  }

  async mapError(e: unknown, statement: string): Promise<unknown> {
    if (isConnectionLost(e)) {
      this.broken = true;
      this.pools.discard(this.raw);
      // Before the commit nothing of the transaction is kept by the server: running it again is safe.
      return new StoreConflictError(String((e as { code?: unknown }).code ?? 'connection lost'), e);
    }
    const err = e as { errno?: unknown };
    const columns = err?.errno === 1062 ? await this.keys.lookup(this.raw) : undefined;
    return fromMariaDbError(e, { statement, ...(columns ? { uniqueKeyColumns: columns } : {}) });
  }

  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not used with the MariaDB engine');
  }
}

/**
 * The columns of every unique key (MariaDB names the key in a duplicate-entry error, often just PRIMARY):
 * read once from information_schema when a first such error needs it, so the typed error names columns as
 * SQLite's does.
 */
class UniqueKeys {
  private map: Map<string, string[]> | undefined;

  async lookup(conn: PoolConnection): Promise<(table: string, key: string) => string[] | undefined> {
    if (!this.map) {
      const map = new Map<string, string[]>();
      try {
        const [rows] = await conn.query<mysql.RowDataPacket[]>(
          'SELECT TABLE_NAME AS t, INDEX_NAME AS k, COLUMN_NAME AS c FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND NON_UNIQUE = 0 ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX',
        );
        for (const r of rows) {
          const id = `${r.t}.${r.k}`;
          map.set(id, [...(map.get(id) ?? []), String(r.c)]);
        }
      } catch {
        return () => undefined;
      }
      this.map = map;
    }
    const map = this.map;
    return (table, key) => map.get(`${table}.${key}`);
  }
}

class MariaDbDriver implements Driver {
  private readonly keys = new UniqueKeys();

  constructor(readonly pools: HostPools) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    // A wrapper per lease: a read may swap the connection underneath (see executeQuery).
    return new MariaDbConnection(await this.pools.acquire(), this.keys, this.pools);
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    if (settings.isolationLevel || settings.accessMode) {
      const parts = [settings.isolationLevel ? `ISOLATION LEVEL ${settings.isolationLevel.toUpperCase()}` : '', settings.accessMode ? settings.accessMode.toUpperCase() : ''].filter(Boolean);
      await connection.executeQuery(CompiledQuery.raw(`SET TRANSACTION ${parts.join(', ')}`));
    }
    (connection as MariaDbConnection).inTransaction = true;
    await connection.executeQuery(CompiledQuery.raw('BEGIN'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as MariaDbConnection;
    c.inTransaction = false;
    try {
      await c.raw.query({ sql: 'COMMIT', timeout: this.pools.statementTimeoutMs });
    } catch (e) {
      if (isConnectionLost(e)) {
        c.broken = true;
        // The server may have committed before the connection dropped: running the transaction again could
        // apply it twice. Not a conflict: the caller learns the outcome is unknown.
        throw new WardenError('STORE_UNAVAILABLE', `the database connection was lost during COMMIT: the outcome is unknown (${(e as Error).message})`, { cause: e });
      }
      // Galera's certification failure surfaces here as ER_LOCK_DEADLOCK: nothing was committed.
      throw await c.mapError(e, 'COMMIT');
    }
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as MariaDbConnection;
    c.inTransaction = false;
    if (c.broken) return;
    try {
      await c.raw.query('ROLLBACK');
    } catch (e) {
      // A lost connection rolls back on the server by itself.
      if (!isConnectionLost(e)) throw e;
      c.broken = true;
    }
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const c = connection as MariaDbConnection;
    if (c.broken) {
      c.raw.destroy();
    } else {
      c.raw.release();
    }
  }

  async destroy(): Promise<void> {
    await this.pools.end();
  }
}

/**
 * Kysely's MySQL adapter takes the migration lock with GET_LOCK, which MariaDB keeps even with wsrep on
 * (checked on a Galera node) — per node: two nodes migrating at once are kept apart only by Galera refusing
 * the second's DDL. Migrations run from one node at a time (cluster init, then upgrades node by node).
 */
class MariaDbAdapter extends MysqlAdapter {}

class MariaDbDialect implements Dialect {
  constructor(private readonly pools: HostPools) {}
  createDriver(): Driver {
    return new MariaDbDriver(this.pools);
  }
  createQueryCompiler(): QueryCompiler {
    return new MysqlQueryCompiler();
  }
  createAdapter(): DialectAdapter {
    return new MariaDbAdapter();
  }
  // any: Kysely's own signature for introspectors.
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new MysqlIntrospector(db);
  }
}

export interface MariaDbEngine extends StoreEngine {
  readonly name: 'mariadb';
  /** Whether the server runs Galera (wsrep on); known once a connection was made. */
  readonly isCluster: boolean;
  /** Which host serves now (0: this node; the configured hosts, then the members the cluster announced). */
  readonly activeHost: number;
}

/**
 * One write transaction at a time in this process, the others waiting their turn before they take a
 * connection (so reads are not starved of the pool meanwhile). SQLite's engine queues every statement of
 * the process the same way. Without it, concurrent writers of one process each take SERIALIZABLE's shared
 * locks and then want the same rows (the audit chain's head, a unique name's gap): InnoDB deadlocks, and
 * every collision costs a rollback and a rerun — measured: 2 processes of 15 writers ran out of reruns.
 * Between processes and nodes, the row locks and Galera's certification still decide (the audit head is
 * read FOR UPDATE so local appenders queue), and Store.transaction reruns what they refuse.
 */
class WriteTurns {
  private tail: Promise<void> = Promise.resolve();

  async take(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const before = this.tail;
    this.tail = before.then(() => mine);
    await before;
    let done = false;
    return () => {
      if (!done) {
        done = true;
        release();
      }
    };
  }
}

/** Check a first connection (so a wrong password or a missing database fails here), then serve. */
export async function mariadbEngine(options: MariaDbEngineOptions): Promise<MariaDbEngine> {
  const pools = new HostPools(options);
  const first = await pools.acquire();
  first.release();
  const turns = new WriteTurns();
  return {
    name: 'mariadb',
    writeTurn: () => turns.take(),
    dialect: new MariaDbDialect(pools),
    // InnoDB's commit is durable itself (innodb_flush_log_at_trx_commit=1; on Galera, on every node that
    // certified it): nothing to wait for after it.
    flush: async () => {},
    flushes: 0,
    get isCluster() {
      return pools.isCluster;
    },
    get activeHost() {
      return pools.activeHost;
    },

    async close() {
      // The pools end with the Kysely instance (driver.destroy).
    },
    async snapshotTo() {
      // Store.snapshotTo copies a MariaDB store into a new SQLite file (copy.ts): the store, not the engine,
      // can open that second store.
      throw new WardenError('STORE_UNAVAILABLE', 'a MariaDB snapshot is made by Store.snapshotTo');
    },
  };
}

/** Create the database Warden's store lives in, with the collation the engine requires (an account that may). */
export async function createMariaDbDatabase(connection: { host?: string; port?: number; socketPath?: string; user: string; password: string }, database: string): Promise<void> {
  if (!/^[A-Za-z0-9_]{1,64}$/.test(database)) throw new WardenError('CONFIG_INVALID', `database name ${database} must be letters, digits and _`);
  const conn = await mysql.createConnection({ ...connection, charset: 'UTF8MB4_BIN' });
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET ${MARIADB_CHARSET} COLLATE ${MARIADB_COLLATION}`);
  } finally {
    await conn.end();
  }
}

export { statementTable };
