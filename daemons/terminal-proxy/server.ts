// The SSH server: accepts TCP connections itself, bounds the unauthenticated ones (how many at once, and for
// how long — counted from the TCP accept, so a socket that never says a word is bounded too) and keeps any one
// connection's failure to itself. The SSH protocol is ssh2's; each connection is a ProxyConnection.
import net from 'node:net';
import ssh2 from 'ssh2';
import type { Appliance } from '../../appliance/index.js';
import { logger } from '../../appliance/log/index.js';
import type { ProxyAuthenticator } from './authenticator.js';
import type { TapFactory } from '../../appliance/ssh/index.js';
import { DEFAULT_LIMITS, ProxyConnection } from './connection.js';
import { coalesceWrites } from '../../appliance/ssh/index.js';
import type { ProxyLimits } from './connection.js';

const log = logger('terminal-proxy');

export interface ProxyServerOptions {
  listen: string;
  port: number;
  hostKey: Buffer;
  authenticator: ProxyAuthenticator;
  taps: TapFactory;
  limits?: Partial<ProxyLimits>;
  /** Connections not yet authenticated, at most (OpenSSH's MaxStartups spirit: beyond it, dropped at once). */
  maxUnauthenticated?: number;
  /** Time to authenticate from the TCP accept (OpenSSH's LoginGraceTime). */
  authTimeoutMs?: number;
}

interface Pending {
  socket: net.Socket;
  authenticated: boolean;
}

export class TerminalProxyServer {
  private readonly ssh: ssh2.Server;
  private readonly tcp: net.Server;
  private unauthenticated = 0;
  /** Accepted sockets by "address:port", until the SSH layer picks them up by the same key. */
  private readonly byPeer = new Map<string, Pending>();
  private readonly sockets = new Set<net.Socket>();
  private readonly connections = new Set<ProxyConnection>();

  constructor(
    appliance: Appliance,
    private readonly options: ProxyServerOptions,
  ) {
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    const maxUnauthenticated = options.maxUnauthenticated ?? 100;
    const authTimeoutMs = options.authTimeoutMs ?? 60_000;
    // No compression (what OpenSSH clients ask for by default): `ssh -C` would have the proxy deflate every
    // byte of every session it carries, on its one event loop.
    this.ssh = new ssh2.Server({ hostKeys: [options.hostKey], ident: 'Warden', algorithms: { compress: ['none'] } }, (client, info) => {
      const pending = this.byPeer.get(`${info.ip}:${info.port}`);
      client.on('error', () => {});
      const connection = new ProxyConnection(client, info.ip, {
        appliance,
        authenticator: options.authenticator,
        taps: options.taps,
        limits,
        destroySocket: () => pending?.socket.destroy(),
        onAuthenticated: () => {
          if (pending && !pending.authenticated) {
            pending.authenticated = true;
            this.unauthenticated--;
          }
        },
      });
      this.connections.add(connection);
      client.on('close', () => this.connections.delete(connection));
    });
    this.ssh.on('error', (e: Error) => log.error('ssh server error', { error: e.message }));
    this.tcp = net.createServer((socket) => {
      const key = `${socket.remoteAddress}:${socket.remotePort}`;
      const pending: Pending = { socket, authenticated: false };
      this.sockets.add(socket);
      this.unauthenticated++;
      socket.on('error', () => {});
      socket.once('close', () => {
        this.sockets.delete(socket);
        if (this.byPeer.get(key) === pending) this.byPeer.delete(key);
        if (!pending.authenticated) this.unauthenticated--;
        clearTimeout(timer);
      });
      const timer = setTimeout(() => {
        if (!pending.authenticated) socket.destroy();
      }, authTimeoutMs);
      timer.unref();
      if (this.unauthenticated > maxUnauthenticated) {
        log.warn('too many unauthenticated connections: dropping one', { source: socket.remoteAddress });
        socket.destroy();
        return;
      }
      this.byPeer.set(key, pending);
      coalesceWrites(socket);
      this.ssh.injectSocket(socket);
    });
    this.tcp.on('error', (e: Error) => log.error('listener error', { error: e.message }));
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.tcp.once('error', reject);
      this.tcp.listen(this.options.port, this.options.listen, () => {
        this.tcp.off('error', reject);
        resolve((this.tcp.address() as net.AddressInfo).port);
      });
    });
  }

  /** Stop accepting; end every connection, its session row closed ('proxy-stopped') before this resolves. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.tcp.close(() => resolve()));
    const sessions = Promise.all([...this.connections].map((c) => c.shutdown()));
    // A socket that never became an SSH client, or one that does not leave, goes after a short grace.
    setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, 2000).unref();
    await sessions;
    await closed;
  }
}
