// Rotation of MariaDB/MySQL accounts (SET PASSWORD / ALTER USER), over mysql2 — the driver the store already uses. No agent.
// The connection must be TLS: the statement that sets a password carries it, so a
// server that offers no TLS is refused before anything is sent. The server's certificate is pinned like an SSH
// host key (trust on first use, protocol `mysql`) and checked after the login and before the new password leaves
// this process; the login itself is challenge-response for MariaDB's native and ed25519 plugins, so an
// interceptor would learn neither password (MySQL 8's caching_sha2 sends the current one inside that TLS).
// The account is the one the server matched for the login, so a credential names just the user. Through a change account the account is `user@host` when written so, else its one row in
// mysql.user (several hosts: refused, name it). mysql2 takes passwords as strings only: the Buffers are turned
// into strings here, for the length of one connection.
import type { TLSSocket } from 'node:tls';
import mysql from 'mysql2/promise';
import type { Connection } from 'mysql2/promise';
import { RotationError, targetSaid, type ChangeAccount, type PasswordExecutor, type RotationTarget } from './ssh-executor.js';
import { tlsCertificateFingerprint } from './certificate-pin.js';

/** MySQL's error codes that mean the login itself was refused. */
const LOGIN_REFUSED = new Set(['ER_ACCESS_DENIED_ERROR', 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR', 'ER_DBACCESS_DENIED_ERROR']);

/** `user` or `user@host` (the account name as MySQL writes it, without quotes). */
function splitAccount(name: string): { user: string; host: string | undefined } {
  const at = name.lastIndexOf('@');
  return at > 0 ? { user: name.slice(0, at), host: name.slice(at + 1) } : { user: name, host: undefined };
}

export class MysqlExecutor implements PasswordExecutor {
  readonly name = 'mysql-alter-user';
  /** The pinned-key protocol of the servers this executor talks to. */
  static readonly pinProtocol = 'mysql' as const;

  constructor(private readonly timeoutMs = 20_000) {}

  /**
   * A logged-in TLS connection whose certificate matches the pinned one (first use pins), or why not. `refused`:
   * what a refused login means (the account's password, or the change account's).
   */
  private async connect(target: RotationTarget, user: string, secret: Buffer, refused: 'current-password-refused' | 'change-account-refused'): Promise<Connection> {
    let conn: Connection;
    try {
      conn = await mysql.createConnection({
        host: target.address,
        port: target.port,
        user,
        password: secret.toString('utf8'),
        // Encrypted always; who the server is, is the pin's job (below), as for SSH.
        ssl: { rejectUnauthorized: false },
        connectTimeout: this.timeoutMs,
        multipleStatements: false,
      });
    } catch (e) {
      const code = (e as { code?: string }).code ?? '';
      if (LOGIN_REFUSED.has(code)) throw new RotationError(refused);
      if (code === 'HANDSHAKE_NO_SSL_SUPPORT' || /ssl|tls/i.test((e as Error).message ?? '')) throw new RotationError('target-unreachable', 'the server offers no TLS: a new password would cross the network in clear');
      if (code === 'ETIMEDOUT') throw new RotationError('target-timeout');
      throw new RotationError('target-unreachable', targetSaid(e, secret));
    }
    try {
      const socket = (conn as unknown as { connection: { stream: TLSSocket } }).connection.stream;
      const cert = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
      if (!cert?.raw) throw new RotationError('target-unreachable', 'the server offers no TLS: a new password would cross the network in clear');
      if ((await target.checkHostKey(tlsCertificateFingerprint(cert.raw))) === 'mismatch') throw new RotationError('host-key-mismatch');
      return conn;
    } catch (e) {
      await conn.end().catch(() => undefined);
      throw e;
    }
  }

  async verify(target: RotationTarget, secret: Buffer): Promise<boolean> {
    try {
      await (await this.connect(target, splitAccount(target.username).user, secret, 'current-password-refused')).end();
      return true;
    } catch (e) {
      if (e instanceof RotationError && e.reason === 'current-password-refused') return false;
      throw e;
    }
  }

  async change(target: RotationTarget, current: Buffer, next: Buffer): Promise<void> {
    const conn = await this.connect(target, splitAccount(target.username).user, current, 'current-password-refused');
    try {
      // The account the server matched for this login, whatever host part it has, without any privilege:
      // MariaDB's SET PASSWORD (ALTER USER would want CREATE USER), MySQL's ALTER USER USER().
      const [rows] = await conn.query('SELECT VERSION() AS v');
      const mariadb = /mariadb/i.test(String((rows as { v: string }[])[0]?.v));
      await conn.query(mariadb ? 'SET PASSWORD = PASSWORD(?)' : 'ALTER USER USER() IDENTIFIED BY ?', [next.toString('utf8')]);
    } catch (e) {
      throw new RotationError('change-refused', targetSaid(e, next, current));
    } finally {
      await conn.end().catch(() => undefined);
    }
  }

  async reset(target: RotationTarget, changer: ChangeAccount, next: Buffer): Promise<void> {
    if (changer.secretKind !== 'password') throw new RotationError('change-account-refused', 'a database change account logs in with a password');
    const conn = await this.connect(target, splitAccount(changer.username).user, changer.secret, 'change-account-refused');
    try {
      const { user, host: named } = splitAccount(target.username);
      let host = named;
      if (host === undefined) {
        const [rows] = await conn.query('SELECT Host AS host FROM mysql.user WHERE User = ?', [user]);
        const hosts = (rows as { host: string }[]).map((r) => r.host);
        if (hosts.length !== 1) throw new RotationError('change-refused', hosts.length === 0 ? 'no such account on the server' : `the account exists for ${hosts.length} hosts: name one as user@host`);
        host = hosts[0]!;
      }
      await conn.query('ALTER USER ?@? IDENTIFIED BY ?', [user, host, next.toString('utf8')]);
    } catch (e) {
      if (e instanceof RotationError) throw e;
      throw new RotationError('change-refused', targetSaid(e, next, changer.secret));
    } finally {
      await conn.end().catch(() => undefined);
    }
  }
}
