// The proxy's connection to the target: the vaulted password or private key injected, the target's host key
// checked against the pinned one through the session (first use pins; a changed key refuses). The secret is
// zeroed as soon as the target has accepted or refused it.
import net from 'node:net';
import { Client } from 'ssh2';
import type * as ssh2 from 'ssh2';
import type { ProxySession } from '../sessions/index.js';
import { coalesceWrites } from './socket-writes.js';
import { sshLogin, SshLoginError, type SshLoginFailure } from '../net/index.js';

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

/**
 * `agent`: the session allows agent forwarding (ssh2 then accepts the target's agent channels and hands them to
 * it, once a channel asked the target for forwarding); it is never offered for the proxy's own authentication.
 */
export async function connectUpstream(session: ProxySession, options: { readyTimeoutMs: number; agent?: ssh2.BaseAgent }): Promise<Client> {
  const { target, secret } = session;
  const client = new Client();
  // The proxy's own socket, so it can be cut (see dropUpstream); ssh2 reports its errors, and a key ssh2
  // cannot parse must not leave one unheard.
  const socket = net.connect({ host: target.address, port: target.port }).on('error', () => {});
  coalesceWrites(socket);
  sockets.set(client, socket);
  try {
    return await sshLogin(client, {
      socket,
      username: target.username,
      secret,
      secretKind: target.secretKind,
      checkHostKey: (fp) => session.checkHostKey(fp),
      readyTimeoutMs: options.readyTimeoutMs,
      ...(options.agent ? { agent: options.agent } : {}),
    });
  } catch (e) {
    dropUpstream(client);
    throw e instanceof SshLoginError ? new UpstreamError(UPSTREAM_FAILURE[e.reason]) : e;
  } finally {
    // Injected or refused, the secret is no longer needed.
    secret.fill(0);
  }
}

const UPSTREAM_FAILURE: Record<SshLoginFailure, UpstreamFailure> = {
  'host-key-mismatch': 'host-key-mismatch',
  'auth-failed': 'target-auth-failed',
  timeout: 'target-timeout',
  unreachable: 'target-unreachable',
};
