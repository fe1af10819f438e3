// Administration of this node's server as its root: over the local socket with the `mariadb` client, whose
// root login is the socket's peer credentials (unix_socket, Debian's default), so no root password exists
// to be kept anywhere. Status, users, the database.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { WardenError } from '../errors/index.js';

export interface AdminConnection {
  socket: string;
  /** The client binary (tests may point elsewhere). */
  client?: string;
}

/** Run SQL as root over the socket; rows as arrays of strings (tab-separated batch output, NULL as null). */
export function adminQuery(conn: AdminConnection, sql: string, opts: { timeoutMs?: number } = {}): Promise<(string | null)[][]> {
  return new Promise((resolve, reject) => {
    // The SQL goes on stdin, never on the command line, where a password in it would be visible in ps.
    const child = execFile(
      conn.client ?? 'mariadb',
      [`--socket=${conn.socket}`, '--user=root', '--batch', '--skip-column-names', '--raw', '--connect-timeout=5'],
      { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new WardenError('CLUSTER_FAILED', `the database server refused an administrative statement: ${stderr.trim().replace(/IDENTIFIED BY '[^']*'/g, "IDENTIFIED BY '…'") || err.message}`, { cause: err }));
          return;
        }
        const rows = stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t').map((v) => (v === 'NULL' ? null : v)));
        resolve(rows);
      },
    );
    child.stdin!.end(sql);
  });
}

/** A password of letters and digits only: it travels through the SST script's shell and a .cnf line. */
export function generatePassword(): string {
  return randomBytes(24).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 32).padEnd(32, 'x');
}

function literal(s: string): string {
  if (/[\0\r\n]/.test(s)) throw new WardenError('INPUT_INVALID', 'a value for an administrative statement contains a control character');
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function identifier(s: string): string {
  if (!/^[A-Za-z0-9_]{1,64}$/.test(s)) throw new WardenError('INPUT_INVALID', `"${s}" is not a plain identifier`);
  return '`' + s + '`';
}

/**
 * The user the donor's mariabackup logs in as during a state transfer: local only, with just what a
 * backup takes. Created on the bootstrap node before any joiner; replicated to the others like any user.
 */
export async function createSstUser(conn: AdminConnection, user: string, password: string): Promise<void> {
  await adminQuery(
    conn,
    `CREATE OR REPLACE USER ${literal(user)}@'localhost' IDENTIFIED BY ${literal(password)};\n` +
      `GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON *.* TO ${literal(user)}@'localhost';\n`,
  );
}

/**
 * The database (utf8mb4, binary collation: byte comparison as SQLite) and the app's user with rights on it
 * alone, reachable from this host's loopback and from the cluster's own addresses (a node whose server is
 * down fails over to a peer's).
 */
export async function createAppDatabase(conn: AdminConnection, o: { database: string; user: string; password: string; hosts: string[] }): Promise<void> {
  const hosts = [...new Set(['localhost', '127.0.0.1', '::1', ...o.hosts])];
  const stmts = [`CREATE DATABASE IF NOT EXISTS ${identifier(o.database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;`];
  for (const h of hosts) {
    stmts.push(`CREATE OR REPLACE USER ${literal(o.user)}@${literal(h)} IDENTIFIED BY ${literal(o.password)};`);
    stmts.push(`GRANT ALL PRIVILEGES ON ${identifier(o.database)}.* TO ${literal(o.user)}@${literal(h)};`);
  }
  await adminQuery(conn, stmts.join('\n') + '\n');
}

export async function dropUser(conn: AdminConnection, user: string, host: string): Promise<void> {
  await adminQuery(conn, `DROP USER IF EXISTS ${literal(user)}@${literal(host)};\n`);
}
