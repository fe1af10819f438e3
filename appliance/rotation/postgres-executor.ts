// Rotation of PostgreSQL roles (ALTER ROLE … PASSWORD), over node-postgres (pg). No agent. The new password
// never leaves this process: what is sent is its SCRAM-SHA-256 verifier (RFC 5802/7677, PostgreSQL's stored
// form), as psql's \password does — so neither the network nor the server's statement log (log_statement)
// sees it, and the server stores exactly what it would have made itself. Logins are SCRAM challenge-response
// where the server's pg_hba asks for it. The role changes its own password (ALTER ROLE CURRENT_USER, no
// privilege needed); a change account with CREATEROLE (or a superuser) sets another role's.
// The verifier is computed here because no library exports it (libpq's PQencryptPasswordConn has no JS
// binding in pg); it is PBKDF2 and two HMACs over node:crypto.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import pg from 'pg';
import { RotationError, targetSaid, type ChangeAccount, type PasswordExecutor, type RotationTarget } from './ssh-executor.js';

/** PostgreSQL's default iteration count for SCRAM verifiers (scram_iterations). */
const SCRAM_ITERATIONS = 4096;

/**
 * The SCRAM-SHA-256 verifier of `password`: SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>. The
 * passwords rotation makes are printable ASCII, which SASLprep leaves as they are; others are refused.
 */
export function scramVerifier(password: Buffer, salt = randomBytes(16), iterations = SCRAM_ITERATIONS): string {
  if (!password.every((b) => b >= 0x21 && b <= 0x7e)) throw new RotationError('change-refused', 'only printable ASCII passwords are turned into SCRAM verifiers here');
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  salted.fill(0);
  clientKey.fill(0);
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** SQLSTATE 28P01 (invalid_password), 28000 (invalid_authorization_specification): the login was refused. */
const LOGIN_REFUSED = new Set(['28P01', '28000']);

export class PostgresExecutor implements PasswordExecutor {
  readonly name = 'postgres-alter-role';

  constructor(private readonly timeoutMs = 20_000) {}

  /** A logged-in connection to the `postgres` database (which every role may reach by default), or why not. */
  private async connect(target: RotationTarget, user: string, secret: Buffer, refused: 'current-password-refused' | 'change-account-refused'): Promise<pg.Client> {
    // pg takes the password as a string (or a function returning one): held for this one connection.
    const client = new pg.Client({ host: target.address, port: target.port, user, password: secret.toString('utf8'), database: 'postgres', connectionTimeoutMillis: this.timeoutMs });
    client.on('error', () => {});
    try {
      await client.connect();
      return client;
    } catch (e) {
      await client.end().catch(() => undefined);
      const code = (e as { code?: string }).code ?? '';
      if (LOGIN_REFUSED.has(code)) throw new RotationError(refused);
      if (/timeout/i.test((e as Error).message ?? '')) throw new RotationError('target-timeout');
      throw new RotationError('target-unreachable', targetSaid(e, secret));
    }
  }

  async verify(target: RotationTarget, secret: Buffer): Promise<boolean> {
    try {
      await (await this.connect(target, target.username, secret, 'current-password-refused')).end();
      return true;
    } catch (e) {
      if (e instanceof RotationError && e.reason === 'current-password-refused') return false;
      throw e;
    }
  }

  private async alter(client: pg.Client, role: string | 'CURRENT_USER', next: Buffer, ...secrets: Buffer[]): Promise<void> {
    try {
      const name = role === 'CURRENT_USER' ? 'CURRENT_USER' : client.escapeIdentifier(role);
      // ALTER ROLE takes no bind parameters: the verifier is quoted by the driver (it holds no secret).
      await client.query(`ALTER ROLE ${name} PASSWORD ${client.escapeLiteral(scramVerifier(next))}`);
    } catch (e) {
      if (e instanceof RotationError) throw e;
      throw new RotationError('change-refused', targetSaid(e, next, ...secrets));
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async change(target: RotationTarget, current: Buffer, next: Buffer): Promise<void> {
    await this.alter(await this.connect(target, target.username, current, 'current-password-refused'), 'CURRENT_USER', next, current);
  }

  async reset(target: RotationTarget, changer: ChangeAccount, next: Buffer): Promise<void> {
    if (changer.secretKind !== 'password') throw new RotationError('change-account-refused', 'a database change account logs in with a password');
    await this.alter(await this.connect(target, changer.username, changer.secret, 'change-account-refused'), target.username, next, changer.secret);
  }
}
