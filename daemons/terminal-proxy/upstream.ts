// The proxy's connection to the target: the vaulted password or private key injected, the target's host key
// checked against the pinned one through the session (first use pins; a changed key refuses). The secret is
// zeroed as soon as the target has accepted or refused it.
import { createHash } from 'node:crypto';
import { Client } from 'ssh2';
import type * as ssh2 from 'ssh2';
import type { ProxySession } from '../../appliance/sessions/index.js';

export type UpstreamFailure = 'host-key-mismatch' | 'target-auth-failed' | 'target-unreachable' | 'target-timeout';

export class UpstreamError extends Error {
  constructor(readonly reason: UpstreamFailure) {
    super(reason);
  }
}

/** OpenSSH's form: SHA256:base64 without padding. */
export function sshFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

export function connectUpstream(session: ProxySession, options: { readyTimeoutMs: number }): Promise<Client> {
  const { target, secret } = session;
  return new Promise((resolve, reject) => {
    const client = new Client();
    let hostKey: 'unchecked' | 'ok' | 'mismatch' | 'error' = 'unchecked';
    let settled = false;
    const settle = (error: UpstreamError | null) => {
      if (settled) return;
      settled = true;
      secret.fill(0);
      if (error) {
        client.end();
        reject(error);
      } else resolve(client);
    };
    client.once('ready', () => settle(null));
    client.on('error', (e: Error & { level?: string }) => {
      if (hostKey === 'mismatch') settle(new UpstreamError('host-key-mismatch'));
      else if (e.level === 'client-authentication') settle(new UpstreamError('target-auth-failed'));
      else if (e.level === 'client-timeout') settle(new UpstreamError('target-timeout'));
      else settle(new UpstreamError('target-unreachable'));
    });
    client.once('close', () => settle(new UpstreamError(hostKey === 'mismatch' ? 'host-key-mismatch' : 'target-unreachable')));
    // A password goes through authHandler, which takes it as a Buffer (the connect option only takes a
    // string): the secret never becomes an immutable string that cannot be zeroed.
    const credential =
      target.secretKind === 'ssh-key'
        ? { privateKey: secret }
        : { authHandler: [{ type: 'password', username: target.username, password: secret as unknown as string }] as unknown as ssh2.AuthenticationType[] };
    try {
      client.connect({
        host: target.address,
        port: target.port,
        username: target.username,
        ...credential,
        readyTimeout: options.readyTimeoutMs,
        // No keyboard-interactive guessing, no agent: exactly the vaulted credential.
        tryKeyboard: false,
        hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
          session.checkHostKey(sshFingerprint(key)).then(
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
      // An unparsable vaulted key: the target is not reachable with what the vault holds.
      settle(new UpstreamError('target-auth-failed'));
    }
  });
}
