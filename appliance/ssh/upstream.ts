// The proxy's connection to the target: the vaulted password or private key injected, the target's host key
// checked against the pinned one through the session (first use pins; a changed key refuses). The secret is
// zeroed as soon as the target has accepted or refused it.
import { createHash } from 'node:crypto';
import net from 'node:net';
import { Client } from 'ssh2';
import type * as ssh2 from 'ssh2';
import type { ProxySession } from '../sessions/index.js';
import { coalesceWrites } from './socket-writes.js';

export type UpstreamFailure = 'host-key-mismatch' | 'target-auth-failed' | 'target-unreachable' | 'target-timeout';

export class UpstreamError extends Error {
  constructor(readonly reason: UpstreamFailure) {
    super(reason);
  }
}

/**
 * How long a peer gets to take what is still queued for it after the proxy hangs up. A client or target that
 * stops reading (or never speaks) would otherwise hold its socket, and the bytes queued on it, for ever: an
 * end() waits for them, and for the peer's own end.
 */
export const HANG_UP_GRACE_MS = 2000;

/** Each upstream client's own socket: ssh2's destroy() does nothing once end() was called. */
const sockets = new WeakMap<Client, net.Socket>();

/** End an upstream connection; cut it if the target does not take the goodbye in time. */
export function dropUpstream(up: Client | null): void {
  if (!up) return;
  up.end();
  const socket = sockets.get(up);
  if (socket) setTimeout(() => socket.destroy(), HANG_UP_GRACE_MS).unref();
}

/** OpenSSH's form: SHA256:base64 without padding. */
export function sshFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/**
 * `agent`: the session allows agent forwarding (ssh2 then accepts the target's agent channels and hands them to
 * it, once a channel asked the target for forwarding); it is never offered for the proxy's own authentication.
 */
export function connectUpstream(session: ProxySession, options: { readyTimeoutMs: number; agent?: ssh2.BaseAgent }): Promise<Client> {
  const { target, secret } = session;
  return new Promise((resolve, reject) => {
    const client = new Client();
    // The proxy's own socket, so it can be cut (see dropUpstream); ssh2 reports its errors, and a key ssh2
    // cannot parse must not leave one unheard.
    const socket = net.connect({ host: target.address, port: target.port }).on('error', () => {});
    coalesceWrites(socket);
    sockets.set(client, socket);
    let hostKey: 'unchecked' | 'ok' | 'mismatch' | 'error' = 'unchecked';
    let settled = false;
    const settle = (error: UpstreamError | null) => {
      if (settled) return;
      settled = true;
      secret.fill(0);
      if (error) {
        dropUpstream(client);
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
        ? // Named, not ssh2's default order, which tries any configured agent after the key: the forwarded agent
          // is the user's, never the proxy's means of logging in.
          { privateKey: secret, authHandler: ['none', 'publickey'] as ssh2.AuthenticationType[] }
        : { authHandler: [{ type: 'password', username: target.username, password: secret as unknown as string }] as unknown as ssh2.AuthenticationType[] };
    try {
      client.connect({
        sock: socket,
        username: target.username,
        ...credential,
        ...(options.agent ? { agent: options.agent } : {}),
        readyTimeout: options.readyTimeoutMs,
        // No compression, whatever ssh2's defaults: the proxy's one event loop would deflate every byte.
        algorithms: { compress: ['none'] },
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
