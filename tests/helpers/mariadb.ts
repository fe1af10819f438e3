// A throwaway MariaDB server for tests: its own datadir (copied from a template made once by
// mariadb-install-db and cached), socket and free loopback port, an application account, and a fresh database
// per store. One server per test process, started at first need and killed when the process exits (a watchdog
// kills it too if the process dies without exiting). Galera's single-node form (wsrep on) on request.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { createMariaDbDatabase, type MariaDbStoreOptions } from '../../appliance/store/index.js';

export const MARIADBD = '/usr/sbin/mariadbd';
const INSTALL_DB = '/usr/bin/mariadb-install-db';
export const GALERA_PROVIDER = '/usr/lib/galera/libgalera_smm.so';

/** Small logs and buffers: a test server starts in about a second and holds little memory. */
const SMALL = ['--innodb-log-file-size=8M', '--innodb-buffer-pool-size=32M'];

export function mariadbAvailable(): boolean {
  return existsSync(MARIADBD) && existsSync(INSTALL_DB);
}

function cacheRoot(): string {
  const preferred = process.env.WARDEN_STATE_DIR ?? '/var/cache/warden-build';
  try {
    mkdirSync(preferred, { recursive: true });
    return preferred;
  } catch {
    return tmpdir();
  }
}

/** The template datadir (system tables only), made once per machine and reused by every server. */
export function templateDatadir(): string {
  const version = spawnSync(MARIADBD, ['--version'], { encoding: 'utf8' }).stdout.trim().split(/\s+/)[2] ?? 'unknown';
  const dir = path.join(cacheRoot(), `mariadb-template-${version}`);
  if (existsSync(path.join(dir, 'mysql', 'user.frm')) || existsSync(path.join(dir, 'mysql', 'global_priv.frm'))) return dir;
  // Made beside its final place and renamed: two test processes making it at once both end with a whole one.
  const work = mkdtempSync(`${dir}.tmp-`);
  const r = spawnSync(INSTALL_DB, ['--no-defaults', '--user=root', `--datadir=${path.join(work, 'data')}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...SMALL], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mariadb-install-db failed: ${r.stderr || r.stdout}`);
  try {
    renameSync(path.join(work, 'data'), dir);
  } catch (e) {
    if (!existsSync(dir)) throw e;
  }
  rmSync(work, { recursive: true, force: true });
  return dir;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface MariaDbServer {
  dir: string;
  port: number;
  socketPath: string;
  pid: number;
  /** Whether the server is still running (its pid is ours to signal only then). */
  running(): boolean;
  /** The application account (all privileges on the test databases), over TCP on 127.0.0.1. */
  user: string;
  password: string;
  /** A statement as root (through the socket). */
  admin<T = mysql.RowDataPacket[]>(statement: string, values?: unknown[]): Promise<T>;
  /** A new empty database with Warden's collation, and the store options that open it. */
  freshDatabase(prefix?: string): Promise<MariaDbStoreOptions>;
  /** Kill the server (SIGKILL: tests need no clean shutdown) and remove its files. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Run as a single-node Galera cluster (wsrep on, gcomm://). */
  wsrep?: boolean;
  extraArgs?: string[];
}

let databaseCounter = 0;

export async function startMariaDb(options: StartOptions = {}): Promise<MariaDbServer> {
  const template = templateDatadir();
  const dir = mkdtempSync(path.join(tmpdir(), 'warden-mariadb-'));
  const datadir = path.join(dir, 'data');
  cpSync(template, datadir, { recursive: true });
  mkdirSync(path.join(dir, 'tmp'));
  const port = await freePort();
  const socketPath = path.join(dir, 'mysqld.sock');
  const args = [
    '--no-defaults',
    '--user=root',
    `--datadir=${datadir}`,
    `--socket=${socketPath}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--pid-file=${path.join(dir, 'mysqld.pid')}`,
    `--log-error=${path.join(dir, 'error.log')}`,
    // Its own temporary directory: in CI a server lost an internal temporary table file under the shared /tmp
    // ("Error on delete of '/tmp/#sql-temptable-…MAI'"), which nothing of this server's should share.
    `--tmpdir=${path.join(dir, 'tmp')}`,
    '--skip-name-resolve',
    '--max-connections=400',
    // Tests need no durability across a power cut; the commit protocol and locking are unchanged.
    '--innodb-flush-log-at-trx-commit=0',
    '--skip-performance-schema',
    ...SMALL,
  ];
  if (options.wsrep) {
    const gmcast = await freePort();
    args.push(
      '--wsrep-on=ON',
      `--wsrep-provider=${GALERA_PROVIDER}`,
      '--wsrep-cluster-address=gcomm://',
      `--wsrep-node-address=127.0.0.1:${gmcast}`,
      `--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:${gmcast};ist.recv_addr=127.0.0.1:${await freePort()};gcache.size=16M`,
      '--binlog-format=ROW',
      '--innodb-autoinc-lock-mode=2',
    );
  }
  args.push(...(options.extraArgs ?? []));
  const child: ChildProcess = spawn(MARIADBD, args, { stdio: 'ignore' });
  const pid = child.pid!;
  // If this process dies without its exit handler (SIGKILL), the watchdog takes the server down with it.
  const watchdog = spawn('/bin/sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${pid} 2>/dev/null; do sleep 1; done; kill -9 ${pid} 2>/dev/null; rm -rf '${dir}'`], { stdio: 'ignore', detached: true });
  watchdog.unref();
  child.unref();
  let exited = false;
  child.once('exit', () => (exited = true));

  const deadline = Date.now() + 60_000;
  let root: mysql.Connection | undefined;
  for (;;) {
    if (exited) throw new Error(`mariadbd exited at start: ${readLog(dir)}`);
    try {
      root = await mysql.createConnection({ socketPath, user: 'root' });
      if (options.wsrep) {
        const [rows] = await root.query<mysql.RowDataPacket[]>("SHOW STATUS LIKE 'wsrep_ready'");
        if (rows[0]?.Value !== 'ON') throw new Error('not ready');
      }
      break;
    } catch {
      await root?.end().catch(() => undefined);
      root = undefined;
      if (Date.now() > deadline) {
        process.kill(pid, 'SIGKILL');
        throw new Error(`mariadbd did not start: ${readLog(dir)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const user = 'warden_test';
  const password = randomBytes(12).toString('base64url');
  await root.query(`CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY '${password}'`);
  await root.query(`GRANT ALL PRIVILEGES ON \`wt\\_%\`.* TO '${user}'@'127.0.0.1'`);
  await root.end();

  const stop = async () => {
    // Only while it runs: once it has exited (and been reaped) its pid may belong to another process.
    if (!exited) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    // The child is unref'd (it must not keep a finished test process alive): ref it while its exit is awaited.
    if (!exited) {
      child.ref();
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    dir,
    port,
    socketPath,
    pid,
    running: () => !exited,
    user,
    password,
    async admin<T>(statement: string, values?: unknown[]) {
      const c = await mysql.createConnection({ socketPath, user: 'root', charset: 'UTF8MB4_BIN' });
      try {
        const [rows] = await c.query(statement, values);
        return rows as T;
      } finally {
        await c.end();
      }
    },
    async freshDatabase(prefix = 'wt') {
      const database = `${prefix}_${process.pid}_${++databaseCounter}`;
      await createMariaDbDatabase({ socketPath, user: 'root', password: '' }, database);
      return { engine: 'mariadb', mariadb: { hosts: [{ host: '127.0.0.1', port }], user, password, database } };
    },
    stop,
  };
}

function readLog(dir: string): string {
  try {
    return readFileSync(path.join(dir, 'error.log'), 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

let shared: Promise<MariaDbServer> | undefined;

/** This test process's server (started at first call, killed when the process exits). */
export function testMariaDb(): Promise<MariaDbServer> {
  if (!shared) {
    shared = startMariaDb();
    shared.then(
      (server) => {
        process.once('exit', () => {
          try {
            if (server.running()) process.kill(server.pid, 'SIGKILL');
          } catch {
            // gone
          }
          rmSync(server.dir, { recursive: true, force: true });
        });
      },
      () => undefined,
    );
  }
  return shared;
}

/** Whether fixtures open their stores on MariaDB (WARDEN_TEST_STORE=mariadb) instead of SQLite files. */
export function testStoreEngine(): 'sqlite' | 'mariadb' {
  const v = process.env.WARDEN_TEST_STORE ?? 'sqlite';
  if (v !== 'sqlite' && v !== 'mariadb') throw new Error(`WARDEN_TEST_STORE must be sqlite or mariadb, not ${v}`);
  return v;
}
