// What the database refused, as typed errors: services ask "which constraint?", never match an engine's
// message. Each engine's codes are translated here and nowhere else.
import { WardenError } from '../errors/index.js';

export type ConstraintKind = 'unique' | 'foreign-key' | 'not-null' | 'check';

/** A write refused by a constraint (unique index, foreign key, NOT NULL, CHECK). */
export class StoreConstraintError extends WardenError {
  constructor(
    readonly kind: ConstraintKind,
    /** What the engine named: the table (when known), the columns (SQLite) or the index/constraint name (MariaDB). */
    readonly target: { table?: string; columns?: string[]; constraint?: string },
    /** The engine's own code (SQLITE_CONSTRAINT_UNIQUE, ER_DUP_ENTRY...), for logs. */
    readonly engineCode: string,
    cause: unknown,
  ) {
    const what = target.columns?.length ? target.columns.map((c) => (target.table ? `${target.table}.${c}` : c)).join(', ') : (target.constraint ?? target.table ?? 'unnamed');
    super('STORE_CONFLICT', `${kind} constraint ${what} refused the write`, { cause });
    this.name = 'StoreConstraintError';
  }

  /** True when this refusal is by `kind`, on `table` if given, on a constraint over `column` (or named after it) if given. */
  is(kind: ConstraintKind, where: { table?: string; column?: string } = {}): boolean {
    if (this.kind !== kind) return false;
    if (where.table !== undefined && this.target.table !== undefined && this.target.table !== where.table) return false;
    if (where.column !== undefined) {
      const col = where.column;
      return (this.target.columns?.includes(col) ?? false) || (this.target.constraint?.includes(col) ?? false);
    }
    return true;
  }
}

/**
 * Two writers collided (SQLite: the database stayed locked; MariaDB/Galera: deadlock, lock wait timeout,
 * certification failure). `Store.transaction` runs the transaction again; this escapes only when the
 * retries are spent, as a STORE_UNAVAILABLE.
 */
export class StoreConflictError extends WardenError {
  constructor(
    readonly engineCode: string,
    cause: unknown,
  ) {
    super('STORE_UNAVAILABLE', `the database is busy (${engineCode})`, { cause });
    this.name = 'StoreConflictError';
  }
}

export function isStoreConstraint(e: unknown, kind?: ConstraintKind, where?: { table?: string; column?: string }): e is StoreConstraintError {
  return e instanceof StoreConstraintError && (kind === undefined || e.is(kind, where));
}

/** A unique index refused the write. */
export function isUniqueViolation(e: unknown, where?: { table?: string; column?: string }): e is StoreConstraintError {
  return isStoreConstraint(e, 'unique', where);
}

interface EngineError {
  code?: unknown;
  errno?: unknown;
  message?: unknown;
}

/** better-sqlite3's SqliteError (extended result codes) → a typed error; anything else is returned as is. */
export function fromSqliteError(e: unknown): unknown {
  const err = e as EngineError;
  const code = typeof err?.code === 'string' ? err.code : '';
  if (!code.startsWith('SQLITE_')) return e;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return new StoreConflictError(code, e);
  const message = String(err.message ?? '');
  // SQLite names the columns: "UNIQUE constraint failed: users.username_key" (several, comma-separated).
  const columns = (prefix: string) => {
    const m = new RegExp(`^${prefix} constraint failed: (.+)$`).exec(message);
    if (!m) return {};
    const parts = m[1]!.split(',').map((p) => p.trim());
    const table = parts[0]!.includes('.') ? parts[0]!.split('.')[0] : undefined;
    return { ...(table ? { table } : {}), columns: parts.map((p) => (p.includes('.') ? p.slice(p.indexOf('.') + 1) : p)) };
  };
  switch (code) {
    case 'SQLITE_CONSTRAINT_UNIQUE':
    case 'SQLITE_CONSTRAINT_PRIMARYKEY':
      return new StoreConstraintError('unique', columns('UNIQUE'), code, e);
    case 'SQLITE_CONSTRAINT_FOREIGNKEY':
      return new StoreConstraintError('foreign-key', {}, code, e);
    case 'SQLITE_CONSTRAINT_NOTNULL':
      return new StoreConstraintError('not-null', columns('NOT NULL'), code, e);
    case 'SQLITE_CONSTRAINT_CHECK': {
      const m = /^CHECK constraint failed: (.+)$/.exec(message);
      return new StoreConstraintError('check', m ? { constraint: m[1]! } : {}, code, e);
    }
    default:
      return e;
  }
}

/** The table a statement writes (Kysely's MySQL SQL: insert into `t`, update `t`, delete from `t`). */
export function statementTable(statement: string): string | undefined {
  return /^\s*(?:insert\s+(?:ignore\s+)?into|replace\s+into|update|delete\s+from)\s+`?([A-Za-z0-9_]+)`?/i.exec(statement)?.[1];
}

export interface MariaDbErrorContext {
  /** The statement that failed: names the table when the message does not. */
  statement?: string;
  /** The columns of a unique key by table and key name (MariaDB's message names only the key, often PRIMARY). */
  uniqueKeyColumns?: (table: string, key: string) => string[] | undefined;
}

/**
 * MariaDB/MySQL driver errors (mariadb and mysql2 both set `code` to the ER_ name and `errno` to its number)
 * → a typed error. Galera reports a certification failure as ER_LOCK_DEADLOCK.
 */
export function fromMariaDbError(e: unknown, context: MariaDbErrorContext = {}): unknown {
  const err = e as EngineError;
  const code = typeof err?.code === 'string' ? err.code : '';
  const errno = typeof err?.errno === 'number' ? err.errno : -1;
  const message = String(err?.message ?? '');
  const quoted = (re: RegExp) => re.exec(message)?.[1];
  const written = context.statement ? statementTable(context.statement) : undefined;
  // 1213 deadlock (and Galera's certification failure), 1205 lock wait timeout, 1020 a row changed since it
  // was read (ER_CHECKREAD), 1047 the node left the primary component mid-transaction (WSREP not ready).
  if (['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'ER_CHECKREAD', 'ER_UNKNOWN_COM_ERROR'].includes(code) || [1213, 1205, 1020, 1047].includes(errno)) {
    return new StoreConflictError(code || `errno ${errno}`, e);
  }
  if (code === 'ER_DUP_ENTRY' || errno === 1062) {
    // "Duplicate entry 'x' for key 'username_key'" (MySQL 8 prefixes the table: 'users.username_key').
    const key = quoted(/for key '([^']+)'\s*$/);
    const [named, constraint] = key?.includes('.') ? [key.slice(0, key.indexOf('.')), key.slice(key.indexOf('.') + 1)] : [undefined, key];
    const table = named ?? written;
    const columns = table && constraint ? context.uniqueKeyColumns?.(table, constraint) : undefined;
    return new StoreConstraintError('unique', { ...(table ? { table } : {}), ...(columns ? { columns } : {}), ...(constraint ? { constraint } : {}) }, code || 'ER_DUP_ENTRY', e);
  }
  if (['ER_NO_REFERENCED_ROW_2', 'ER_ROW_IS_REFERENCED_2', 'ER_NO_REFERENCED_ROW', 'ER_ROW_IS_REFERENCED'].includes(code) || [1452, 1451, 1216, 1217].includes(errno)) {
    const constraint = quoted(/CONSTRAINT `([^`]+)`/);
    const table = quoted(/fails \(`[^`]+`\.`([^`]+)`/) ?? written;
    const column = quoted(/FOREIGN KEY \(`([^`]+)`\)/);
    return new StoreConstraintError('foreign-key', { ...(table ? { table } : {}), ...(column ? { columns: [column] } : {}), ...(constraint ? { constraint } : {}) }, code || `errno ${errno}`, e);
  }
  if (code === 'ER_BAD_NULL_ERROR' || errno === 1048 || code === 'ER_NO_DEFAULT_FOR_FIELD' || errno === 1364) {
    const column = quoted(/Column '([^']+)' cannot be null/) ?? quoted(/Field '([^']+)' doesn't have a default value/);
    return new StoreConstraintError('not-null', { ...(written ? { table: written } : {}), ...(column ? { columns: [column] } : {}) }, code || 'ER_BAD_NULL_ERROR', e);
  }
  if (code === 'ER_CONSTRAINT_FAILED' || errno === 4025 || code === 'ER_CHECK_CONSTRAINT_VIOLATED' || errno === 3819) {
    const constraint = quoted(/CONSTRAINT `([^`]+)`/) ?? quoted(/Check constraint '([^']+)'/);
    return new StoreConstraintError('check', { ...(written ? { table: written } : {}), ...(constraint ? { constraint } : {}) }, code || `errno ${errno}`, e);
  }
  return e;
}
