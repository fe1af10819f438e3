// The RDP listener: bounds the unauthenticated connections (how many at once, and for how long from the TCP
// accept — a socket that never says a word is bounded too) and keeps any one connection's failure to itself.
import net from 'node:net';
import type { Appliance } from '../../appliance/index.js';
import { logger } from '../../appliance/log/index.js';
import { DEFAULT_LIMITS, RdpConnection, type RdpLimits } from './connection.js';

const log = logger('rdp-proxy');

export interface RdpProxyOptions {
  listen: string;
  port: number;
  identity: { cert: Buffer; key: Buffer };
  limits?: Partial<RdpLimits>;
  maxUnauthenticated?: number;
  /** Time from the TCP accept to an authenticated person. */
  authTimeoutMs?: number;
}

export class RdpProxyServer {
  private readonly tcp: net.Server;
  private unauthenticated = 0;
  private readonly connections = new Set<RdpConnection>();

  constructor(
    appliance: Appliance,
    private readonly options: RdpProxyOptions,
  ) {
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    const maxUnauthenticated = options.maxUnauthenticated ?? 100;
    const authTimeoutMs = options.authTimeoutMs ?? 30_000;
    this.tcp = net.createServer((socket) => {
      let authenticated = false;
      this.unauthenticated++;
      socket.on('error', () => {});
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        if (!authenticated) socket.destroy();
      }, authTimeoutMs);
      timer.unref();
      socket.once('close', () => {
        clearTimeout(timer);
        if (!authenticated) this.unauthenticated--;
      });
      if (this.unauthenticated > maxUnauthenticated) {
        log.warn('too many unauthenticated connections: dropping one', { source: socket.remoteAddress });
        socket.destroy();
        return;
      }
      const connection = new RdpConnection(socket, socket.remoteAddress ?? '', {
        appliance,
        identity: options.identity,
        limits,
        onAuthenticated: () => {
          if (!authenticated) {
            authenticated = true;
            this.unauthenticated--;
          }
        },
      });
      this.connections.add(connection);
      void connection.run().finally(() => {
        socket.once('close', () => this.connections.delete(connection));
        if (socket.destroyed) this.connections.delete(connection);
      });
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
    await Promise.all([...this.connections].map((c) => c.shutdown()));
    await closed;
  }
}
