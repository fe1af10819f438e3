// The SSH server: accepts connections, bounds the unauthenticated ones (count and time) and keeps any one
// connection's failure to itself. Each connection is a ProxyConnection.
import ssh2 from 'ssh2';
import type { AddressInfo } from 'node:net';
import type { Appliance } from '../../appliance/index.js';
import { logger } from '../../appliance/log/index.js';
import type { ProxyAuthenticator } from './authenticator.js';
import type { TapFactory } from './data-tap.js';
import { DEFAULT_LIMITS, ProxyConnection, type ProxyLimits } from './connection.js';

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
  /** Time to authenticate (OpenSSH's LoginGraceTime). */
  authTimeoutMs?: number;
}

export class TerminalProxyServer {
  private readonly server: ssh2.Server;
  private unauthenticated = 0;
  private readonly connections = new Set<ssh2.Connection>();

  constructor(
    appliance: Appliance,
    private readonly options: ProxyServerOptions,
  ) {
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    const maxUnauthenticated = options.maxUnauthenticated ?? 100;
    const authTimeoutMs = options.authTimeoutMs ?? 60_000;
    this.server = new ssh2.Server({ hostKeys: [options.hostKey], ident: 'Warden' }, (client, info) => {
      this.connections.add(client);
      let counted = true;
      const uncount = () => {
        if (counted) this.unauthenticated--;
        counted = false;
      };
      this.unauthenticated++;
      client.on('close', () => {
        uncount();
        this.connections.delete(client);
      });
      client.on('error', () => {});
      if (this.unauthenticated > maxUnauthenticated) {
        log.warn('too many unauthenticated connections: dropping one', { source: info.ip });
        client.end();
        return;
      }
      const timer = setTimeout(() => {
        if (!connection.authenticated) client.end();
      }, authTimeoutMs);
      timer.unref();
      const connection = new ProxyConnection(client, info.ip, {
        appliance,
        authenticator: options.authenticator,
        taps: options.taps,
        limits,
        onAuthenticated: () => {
          clearTimeout(timer);
          uncount();
        },
      });
    });
    this.server.on('error', (e: Error) => log.error('ssh server error', { error: e.message }));
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.listen, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  /** Stop accepting; end every connection (their sessions close with 'proxy-stopped' through their own close). */
  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const c of this.connections) c.end();
    });
  }
}
