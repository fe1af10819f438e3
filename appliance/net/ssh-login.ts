// The appliance logging in to a target over SSH with a vaulted secret — the one way every part does it (the
// terminal proxy's and the web terminal's upstream connection, credential rotation): the host key checked
// against the pinned one first, exactly the vaulted credential offered (no keyboard-interactive guessing, no
// agent of the appliance's), no compression, and every way it can fail sorted into one of four reasons.
import { createHash } from 'node:crypto';
import type net from 'node:net';
import type { Client } from 'ssh2';
import type * as ssh2 from 'ssh2';

export type SshLoginFailure = 'host-key-mismatch' | 'auth-failed' | 'timeout' | 'unreachable';

export class SshLoginError extends Error {
  constructor(readonly reason: SshLoginFailure) {
    super(reason);
  }
}

/** OpenSSH's form: SHA256:base64 without padding. */
export function sshFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

export interface SshLoginOptions {
  /** The socket the connection runs over, already connecting: the caller keeps it (to cut it) and listens for its errors. */
  socket: net.Socket;
  username: string;
  /**
   * A password (given to ssh2 as a Buffer through its auth handler: never an immutable string) or a private
   * key. Not zeroed here: the caller does, once the login settled.
   */
  secret: Buffer;
  secretKind: 'password' | 'ssh-key' | string;
  /** The fingerprint against the pinned one (first use pins): 'mismatch' refuses before any secret is sent. */
  checkHostKey(fingerprint: string): Promise<'pinned' | 'match' | 'mismatch'>;
  readyTimeoutMs: number;
  /** The user's forwarded agent, for the target's agent channels (never used to log in). */
  agent?: ssh2.BaseAgent;
}

/**
 * Log `client` in; resolves once ready, rejects with an SshLoginError (the client then ends itself). A private
 * key ssh2 cannot parse is 'auth-failed': the target is not reachable with what the vault holds.
 */
export function sshLogin(client: Client, opts: SshLoginOptions): Promise<Client> {
  return new Promise((resolve, reject) => {
    let hostKey: 'unchecked' | 'ok' | 'mismatch' | 'error' = 'unchecked';
    let settled = false;
    const settle = (reason: SshLoginFailure | null) => {
      if (settled) return;
      settled = true;
      if (reason === null) return resolve(client);
      client.end();
      reject(new SshLoginError(reason));
    };
    client.once('ready', () => settle(null));
    client.on('error', (e: Error & { level?: string }) => {
      if (hostKey === 'mismatch') settle('host-key-mismatch');
      else if (e.level === 'client-authentication') settle('auth-failed');
      else if (e.level === 'client-timeout') settle('timeout');
      else settle('unreachable');
    });
    client.once('close', () => settle(hostKey === 'mismatch' ? 'host-key-mismatch' : 'unreachable'));
    const credential =
      opts.secretKind === 'ssh-key'
        ? // Named, not ssh2's default order, which tries any configured agent after the key: a forwarded agent
          // is the user's, never the appliance's means of logging in.
          { privateKey: opts.secret, authHandler: ['none', 'publickey'] as ssh2.AuthenticationType[] }
        : { authHandler: [{ type: 'password', username: opts.username, password: opts.secret as unknown as string }] as unknown as ssh2.AuthenticationType[] };
    try {
      client.connect({
        sock: opts.socket,
        username: opts.username,
        ...credential,
        ...(opts.agent ? { agent: opts.agent } : {}),
        readyTimeout: opts.readyTimeoutMs,
        // No compression, whatever ssh2's defaults: one event loop would deflate every byte.
        algorithms: { compress: ['none'] },
        tryKeyboard: false,
        hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
          opts.checkHostKey(sshFingerprint(key)).then(
            (r) => {
              hostKey = r === 'mismatch' ? 'mismatch' : 'ok';
              verify(r !== 'mismatch');
            },
            () => {
              hostKey = 'error';
              verify(false);
            },
          );
        },
      });
    } catch {
      settle('auth-failed');
    }
  });
}
