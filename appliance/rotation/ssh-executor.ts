// Rotation on Linux/Unix over SSH, no agent on the target: the account changes its own password with
// `passwd` in a PTY (the prompts answered as a person would), and the new password is proved by a fresh login
// with it. The target's host key is checked against the pinned one on every connection (first use pins).
// Secrets travel as Buffers (ssh2's password handler takes one), are never put in a string by this module,
// and never reach an error message: what the target printed is reduced to its last line, which passwd never
// fills with a password (it does not echo).
import net from 'node:net';
import { Client, type ClientChannel } from 'ssh2';
import { sshLogin, SshLoginError, type SshLoginFailure } from '../net/index.js';

export interface RotationTarget {
  address: string;
  port: number;
  username: string;
  /** The host key fingerprint (OpenSSH's SHA256:… form) against the pinned one; 'mismatch' refuses. */
  checkHostKey(fingerprint: string): Promise<'pinned' | 'match' | 'mismatch'>;
}

export type RotationFailure = 'target-unreachable' | 'host-key-mismatch' | 'current-password-refused' | 'current-key-refused' | 'change-account-refused' | 'change-refused' | 'target-timeout';

/** A privileged account of the same target that may set another account's password (root, or sudo to chpasswd). */
export interface ChangeAccount {
  username: string;
  /** Its vaulted secret: the caller zeroes it. */
  secret: Buffer;
  secretKind: 'password' | 'ssh-key';
}

export class RotationError extends Error {
  constructor(
    readonly reason: RotationFailure,
    /** What the target said, at most one line (never a secret), for the audit trail. */
    readonly said = '',
  ) {
    super(said ? `${reason}: ${said}` : reason);
  }
}

/** One way of changing a password on one kind of target (SSH/Unix today; databases and LDAP are other executors). */
export interface PasswordExecutor {
  readonly name: string;
  /** Change the account's password from `current` to `next`; throws RotationError, leaving `current` in force. */
  change(target: RotationTarget, current: Buffer, next: Buffer): Promise<void>;
  /** Whether `secret` logs the account in now (false: refused); throws RotationError when the target cannot be asked. */
  verify(target: RotationTarget, secret: Buffer): Promise<boolean>;
  /**
   * Set the account's password to `next` through `changer`, without the current one (rotation with a change
   * account, and reconciliation); throws RotationError, the account's password then unchanged.
   */
  reset(target: RotationTarget, changer: ChangeAccount, next: Buffer): Promise<void>;
}

/** A Unix account name chpasswd can be given (no colon, no newline, nothing a shell line could misread). */
const UNIX_USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;
/** Printed by the target's shell once sudo let the change account through, before chpasswd reads its line. */
const SUDO_OK = 'WARDEN-SUDO-OK';
/** sudo's prompt (-p), on stderr: only then is the change account's password sent. */
const SUDO_PROMPT = 'WARDEN-SUDO-PASSWORD:';

const ROTATION_FAILURE: Record<SshLoginFailure, RotationFailure> = {
  'host-key-mismatch': 'host-key-mismatch',
  'auth-failed': 'current-password-refused',
  timeout: 'target-timeout',
  unreachable: 'target-unreachable',
};

/**
 * The line of what a target printed that says why, short and printable: the last one that is neither a prompt
 * nor passwd's closing "password unchanged" (which follows every refusal and says nothing of its cause),
 * PAM's own message preferred to passwd's summary of it.
 */
function lastLine(text: string): string {
  const lines = text.replace(/\r/g, '').split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const telling = lines.filter((l) => !/password:\s*$/i.test(l) && !/password unchanged/i.test(l) && !/^changing password for/i.test(l));
  // PAM's own words ("You must wait longer…", "BAD PASSWORD: …") before passwd's generic summary of them.
  const specific = telling.filter((l) => !/^passwd:/i.test(l));
  return (specific.at(-1) ?? telling.at(-1) ?? lines.at(-1) ?? '').replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}

/**
 * What a target said, for the audit trail: one printable line of at most 200 characters, with the given secrets
 * blanked (a server's message may quote the statement that carried a password).
 */
export function targetSaid(what: unknown, ...secrets: Buffer[]): string {
  let m = what instanceof Error ? what.message : String(what);
  for (const s of secrets) if (s.length > 0) m = m.split(s.toString('utf8')).join('***');
  return m.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}

/** Who logs in for an executor, with which kind of secret, and what a refused login means for the rotation. */
export interface LoginAs {
  username: string;
  secretKind: 'password' | 'ssh-key';
  refused: RotationFailure;
}

/** A logged-in connection with `secret` (the appliance's one SSH login: net/ssh-login), or why not as a RotationError. */
export async function loginAs(target: RotationTarget, secret: Buffer, as: LoginAs, timeoutMs: number): Promise<Client> {
  const socket = net.connect({ host: target.address, port: target.port }).on('error', () => {});
  try {
    return await sshLogin(new Client(), { socket, username: as.username, secret, secretKind: as.secretKind, checkHostKey: (fp) => target.checkHostKey(fp), readyTimeoutMs: timeoutMs });
  } catch (e) {
    socket.destroy();
    if (!(e instanceof SshLoginError)) throw e;
    throw new RotationError(e.reason === 'auth-failed' ? as.refused : ROTATION_FAILURE[e.reason]);
  }
}

/**
 * Run a command over a logged-in connection, `input` on its standard input (never on its command line), and
 * answer its exit code and the last telling line it printed (for the audit trail); RotationError on a timeout.
 */
export function runCommand(client: Client, command: string, input: Buffer | string, timeoutMs: number): Promise<{ code: number | null; said: string }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, channel) => {
      if (err) return reject(new RotationError('change-refused', err.message));
      let out = '';
      let code: number | null = null;
      const timer = setTimeout(() => {
        channel.close();
        reject(new RotationError('target-timeout', lastLine(out)));
      }, timeoutMs);
      channel.on('data', (d: Buffer) => (out = (out + d.toString('utf8')).slice(-8192)));
      channel.stderr.on('data', (d: Buffer) => (out = (out + d.toString('utf8')).slice(-8192)));
      channel.on('exit', (c: number | null) => (code = c));
      channel.on('close', () => {
        clearTimeout(timer);
        resolve({ code, said: lastLine(out) });
      });
      channel.end(input);
    });
  });
}

export interface SshExecutorOptions {
  /** For each connection and for the whole change. */
  timeoutMs?: number;
}

export class SshPasswdExecutor implements PasswordExecutor {
  readonly name = 'ssh-passwd';
  private readonly timeoutMs: number;

  constructor(opts: SshExecutorOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 20_000;
  }

  private connect(target: RotationTarget, secret: Buffer, as?: LoginAs): Promise<Client> {
    return loginAs(target, secret, as ?? { username: target.username, secretKind: 'password', refused: 'current-password-refused' }, this.timeoutMs);
  }

  /**
   * Log in as the change account and have chpasswd set the password: as root directly, otherwise through
   * sudo (the change account's password sent only if sudo asks for it; a NOPASSWD rule asks nothing). The new password goes
   * to chpasswd's standard input, never onto a command line another user of the target could read.
   */
  async reset(target: RotationTarget, changer: ChangeAccount, next: Buffer): Promise<void> {
    if (!UNIX_USER.test(target.username)) throw new RotationError('change-refused', 'the account name is not one chpasswd takes');
    const client = await this.connect(target, changer.secret, { username: changer.username, secretKind: changer.secretKind, refused: 'change-account-refused' });
    try {
      // Run by the change account's own shell. sudo -v proves the account to sudo (a rule that may stay as narrow
      // as `/usr/sbin/chpasswd`), the marker says so, and the second sudo finds that proof (kept per parent
      // process when there is no terminal) without asking again.
      const command =
        changer.username === 'root'
          ? `echo ${SUDO_OK} >&2 && LC_ALL=C exec chpasswd`
          : // Not -k (it would keep the proof from being stored) and no exec (the proof is the shell's, its children's).
            `LC_ALL=C sudo -S -p '${SUDO_PROMPT}' -v && echo ${SUDO_OK} >&2 && LC_ALL=C sudo -n chpasswd`;
      const channel = await new Promise<ClientChannel>((resolve, reject) => client.exec(command, (err, ch) => (err ? reject(new RotationError('change-refused', err.message)) : resolve(ch))));
      await this.feedChpasswd(channel, target.username, changer, next);
    } finally {
      client.end();
    }
  }

  private feedChpasswd(channel: ClientChannel, username: string, changer: ChangeAccount, next: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      let said = '';
      let stage: 'sudo' | 'chpasswd' = 'sudo';
      let asked = 0;
      let exitCode: number | null = null;
      const timer = setTimeout(() => {
        channel.close();
        reject(new RotationError('target-timeout', lastLine(said)));
      }, this.timeoutMs);
      const onText = (text: string) => {
        said = (said + text).slice(-8192);
        if (stage === 'sudo' && said.includes(SUDO_PROMPT)) {
          said = said.split(SUDO_PROMPT).join('\n');
          // Asked once: answered. Asked again: the change account's password is not sudo's; stop.
          if (++asked > 1 || changer.secretKind !== 'password') {
            channel.close();
            return;
          }
          const line = Buffer.concat([changer.secret, Buffer.from('\n')]);
          channel.write(line);
          line.fill(0);
        }
        if (stage === 'sudo' && said.includes(SUDO_OK)) {
          stage = 'chpasswd';
          said = said.split(SUDO_OK).join('');
          const line = Buffer.concat([Buffer.from(`${username}:`), next, Buffer.from('\n')]);
          channel.end(line);
          line.fill(0);
        }
      };
      channel.on('data', (d: Buffer) => onText(d.toString('utf8')));
      channel.stderr.on('data', (d: Buffer) => onText(d.toString('utf8')));
      channel.on('exit', (code: number | null) => {
        exitCode = code;
      });
      channel.on('close', () => {
        clearTimeout(timer);
        if (stage === 'chpasswd' && exitCode === 0) return resolve();
        if (stage === 'sudo') {
          const why = changer.secretKind !== 'password' && asked > 0 ? 'sudo asks the change account for a password, and the vault holds its SSH key' : lastLine(said) || 'sudo refused the change account';
          return reject(new RotationError('change-refused', why));
        }
        reject(new RotationError('change-refused', lastLine(said) || `chpasswd exited with ${exitCode ?? 'a signal'}`));
      });
    });
  }

  async verify(target: RotationTarget, secret: Buffer): Promise<boolean> {
    try {
      const client = await this.connect(target, secret);
      client.end();
      return true;
    } catch (e) {
      if (e instanceof RotationError && e.reason === 'current-password-refused') return false;
      throw e;
    }
  }

  async change(target: RotationTarget, current: Buffer, next: Buffer): Promise<void> {
    const client = await this.connect(target, current);
    try {
      const channel = await new Promise<ClientChannel>((resolve, reject) =>
        // C locale: the prompts are read in English. A PTY: passwd asks on the terminal, and does not echo.
        client.exec('LC_ALL=C LANG=C passwd', { pty: { term: 'dumb', cols: 200, rows: 24, width: 0, height: 0, modes: {} } }, (err, ch) => (err ? reject(new RotationError('change-refused', err.message)) : resolve(ch))),
      );
      await this.answer(channel, current, next);
    } finally {
      client.end();
    }
  }

  /**
   * Answer passwd's prompts: the current password once, the new one twice. A second "New password" prompt means
   * the target refused the new one (too weak, too similar, reused): the change stops there, the old one stands.
   */
  private answer(channel: ClientChannel, current: Buffer, next: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      let seen = '';
      let pending = '';
      let step: 'current' | 'new' | 'retype' | 'done' = 'current';
      let newPrompts = 0;
      let exitCode: number | null = null;
      const send = (secret: Buffer) => {
        const line = Buffer.concat([secret, Buffer.from('\n')]);
        channel.write(line);
        line.fill(0);
      };
      const fail = (e: RotationError) => {
        clearTimeout(timer);
        channel.close();
        reject(e);
      };
      const timer = setTimeout(() => fail(new RotationError('target-timeout', lastLine(seen))), this.timeoutMs);
      channel.on('data', (d: Buffer) => {
        const text = d.toString('utf8');
        seen = (seen + text).slice(-8192);
        pending += text;
        // Each prompt ends a chunk with ": " and no newline after it.
        if (!/:\s*$/.test(pending)) return;
        const prompt = pending;
        pending = '';
        if (/(current|\(current\)|old)[^\n]*password:\s*$/i.test(prompt) && step === 'current') {
          step = 'new';
          send(current);
        } else if (/(new|enter new)[^\n]*password:\s*$/i.test(prompt) && !/retype|again|re-enter/i.test(prompt.split('\n').at(-1) ?? '')) {
          if (++newPrompts > 1) return fail(new RotationError('change-refused', lastLine(seen.slice(0, seen.length - prompt.length)) || lastLine(prompt)));
          step = 'retype';
          send(next);
        } else if (/(retype|again|re-enter)[^\n]*password:\s*$/i.test(prompt) && step === 'retype') {
          step = 'done';
          send(next);
        }
      });
      channel.on('exit', (code: number | null) => {
        exitCode = code;
      });
      channel.on('close', () => {
        clearTimeout(timer);
        if (exitCode === 0 && step === 'done') return resolve();
        // The current password refused by passwd itself (the login took it: rare, a PAM stack that differs);
        // an age or policy refusal ("You must wait longer…") is the target refusing the change.
        if (step === 'new' && /authentication failure|incorrect/i.test(seen) && !/wait longer|must|not allowed/i.test(seen)) return reject(new RotationError('current-password-refused', lastLine(seen)));
        reject(new RotationError('change-refused', lastLine(seen) || `passwd exited with ${exitCode ?? 'a signal'}`));
      });
      channel.stderr.on('data', (d: Buffer) => {
        seen = (seen + d.toString('utf8')).slice(-8192);
      });
    });
  }
}
