// The web daemon's HTTP layer: HTTPS (TLS 1.2+) with the API and pages, and a plain-HTTP listener that
// only redirects. Decisions come from the appliance; this file is protocol glue.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import websocket from '@fastify/websocket';
import type { Appliance } from '../../appliance/index.js';
import type { WardenConfig } from '../../appliance/config/index.js';
import { requirePermission } from '../../appliance/access/index.js';
import { AuthError, WardenError } from '../../appliance/errors/index.js';
import { normalizeIp } from '../../appliance/net/index.js';
import { logger } from '../../appliance/log/index.js';
import { installJsonParser } from './json-body.js';
import { replyError } from './http-errors.js';
import { SESSION_COOKIE } from './route-context.js';
import { authRoutes } from './routes/auth.js';
import { userRoutes } from './routes/users.js';
import { settingsRoutes } from './routes/settings.js';
import { pageRoutes } from './routes/pages.js';
import { mfaRoutes } from './routes/mfa.js';
import { pkiRoutes } from './routes/pki.js';
import { accessRoutes } from './routes/access.js';
import { auditRoutes } from './routes/audit.js';
import { sessionSearchRoutes } from './routes/session-search.js';
import { liveSessionRoutes } from './routes/live-sessions.js';
import { recordingRoutes } from './routes/recordings.js';
import { sshKeyRoutes } from './routes/ssh-keys.js';
import { rdpTicketRoutes } from './routes/rdp-tickets.js';
import { internalRoutes } from './routes/internal.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { terminalRoutes, OpenTerminals, MAX_FRAME_BYTES } from './routes/terminal.js';
import { rotationRoutes } from './routes/rotation.js';
import { discoveryRoutes } from './routes/discovery.js';
import { watchTlsFiles } from './tls-files.js';
import { readTlsPair, type TlsPair } from '../../appliance/pki/index.js';

const log = logger('web');

/** Mozilla "intermediate" TLS 1.2 suites (forward secret AEAD only); TLS 1.3 suites are OpenSSL's defaults. */
const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** The web section of the deploy-time config: listen address, ports, TLS files, body limit. */
export type WebServerOptions = WardenConfig['web'];

/**
 * TLS settings of the HTTPS listener. Every handshake asks for a client certificate and names the active
 * trusted CAs (so browsers offer only matching certificates), but never rejects: the application decides,
 * so a missing or bad certificate is an audited "Invalid user credentials", not a TLS alert.
 */
function tlsMaterial(pair: TlsPair, clientCas: string[]) {
  return {
    cert: pair.cert,
    key: pair.key,
    minVersion: 'TLSv1.2' as const,
    ciphers: TLS12_CIPHERS,
    honorCipherOrder: true,
    requestCert: true,
    rejectUnauthorized: false,
    ...(clientCas.length > 0 ? { ca: clientCas } : {}),
  };
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export class WebServer {
  readonly app: FastifyInstance;
  private redirect: http.Server | undefined;
  private trustRevision = -1;
  private trustChangesAt = Number.POSITIVE_INFINITY;
  private clientCas: string[] = [];
  /** Fires when a CA's validity begins or ends (the advertised set changes by the clock alone). */
  private trustClock: NodeJS.Timeout | undefined;
  private unfollowTrust: (() => void) | undefined;
  /** The certificate and key served now: CA list changes reuse them, only a checked new pair replaces them. */
  private tlsPair: TlsPair;
  private unwatchTls: (() => void) | undefined;
  /** The port actually listened on (config may say 0). */
  httpsPort = 0;

  private constructor(
    private readonly appliance: Appliance,
    private opts: WebServerOptions,
    clientCas: string[],
  ) {
    this.tlsPair = readTlsPair(opts);
    this.app = Fastify({
      https: tlsMaterial(this.tlsPair, clientCas),
      bodyLimit: opts.bodyLimit,
      trustProxy: false,
      return503OnClosing: true,
      forceCloseConnections: 'idle',
      logger: false,
      // Unknown fields are an error, not silently dropped; types are not coerced.
      ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    });
    this.build();
  }

  static async create(appliance: Appliance, opts: WebServerOptions): Promise<WebServer> {
    const revision = await appliance.trust.revision();
    const advertised = await appliance.trust.advertisedAuthorities();
    const server = new WebServer(appliance, opts, advertised.pems);
    server.clientCas = advertised.pems;
    server.trustRevision = revision;
    server.trustChangesAt = advertised.changesAt;
    // orbit (or another daemon) changes the trust store from its own process: the change feed tells us.
    // Subscribed before listening, so no change between reading the CAs and serving is missed.
    const refresh = async () => {
      await server.refreshTrust().catch((e: unknown) => void log.warn('trust store check failed', { error: e }));
    };
    server.unfollowTrust = appliance.changes.on('trust.changed', refresh);
    appliance.changes.onGap(refresh);
    return server;
  }

  private build(): void {
    const app = this.app;
    const appliance = this.appliance;
    installJsonParser(app);
    void app.register(cookie);
    // The console's terminal (routes/terminal.ts). When the daemon stops, every terminal's session ends
    // ('web-stopped': recording, then row) before the WebSockets are dropped and the store closes.
    const terminals = new OpenTerminals();
    void app.register(websocket, {
      options: { maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false },
      preClose: async function (this: FastifyInstance) {
        await terminals.closeAll('web-stopped');
        for (const client of this.websocketServer.clients) client.close(1001, 'stopping');
        await new Promise<void>((resolve) => this.websocketServer.close(() => resolve()));
      },
    });
    app.decorateRequest('session', undefined);
    app.decorateRequest('clientIp', '');
    app.setErrorHandler((err, request, reply) => replyError(err, request, reply));
    app.setNotFoundHandler((request, reply) => replyError(new WardenError('NOT_FOUND', 'no such resource'), request, reply));

    app.addHook('onRequest', async (request, reply) => {
      request.clientIp = normalizeIp(request.socket.remoteAddress ?? '');
      reply.header('strict-transport-security', 'max-age=31536000');
      reply.header('x-content-type-options', 'nosniff');
      reply.header('x-frame-options', 'DENY');
      reply.header('referrer-policy', 'no-referrer');
      await appliance.auth.checkIp(request.clientIp);

      const access = request.routeOptions.config.access ?? 'session';
      if (UNSAFE.has(request.method)) this.checkOrigin(request);
      if (access === 'public') return;
      const token = request.cookies[SESSION_COOKIE];
      if (!token) throw new AuthError('AUTH_SESSION_INVALID', 'no session cookie');
      const session = await appliance.auth.authenticate(token, request.clientIp);
      request.session = session;
      if (UNSAFE.has(request.method)) {
        const sent = request.headers['x-csrf-token'];
        if (typeof sent !== 'string' || !sameToken(sent, session.csrfToken)) throw new WardenError('AUTH_CSRF', 'missing or wrong CSRF token');
      }
      if (access === 'mfa') return;
      if (session.mfaRequired) throw new WardenError('MFA_REQUIRED', `the ${session.mfaRequired} second factor is due`, { details: { method: session.mfaRequired } });
      if (session.passwordChangeRequired && access !== 'password-change') {
        throw new WardenError('AUTH_PASSWORD_CHANGE_REQUIRED', 'the password must be changed first');
      }
      const permission = request.routeOptions.config.permission;
      if (permission) requirePermission(session.user.profile, permission);
    });

    app.get('/healthz', { config: { access: 'public' } }, async () => ({ status: 'ok' }));
    // Each route file is a plugin given exactly the services it uses; the hooks above reach into it.
    const { auth, users, duo, settings, secondFactor, trust, certificates, audit } = appliance;
    const { devices, credentials, hostKeys, protectedItems, accessGroups, accessDecisions, accessRequests, passwordView, connectivity } = appliance;
    void app.register(authRoutes, { auth, users, duo, accessRequests });
    void app.register(userRoutes, { users });
    void app.register(settingsRoutes, { settings });
    void app.register(mfaRoutes, { secondFactor, duoRedirectUrl: () => this.duoRedirectUrl() });
    void app.register(pkiRoutes, { trust, certificates, users, duo, refreshTrust: () => this.refreshTrust() });
    void app.register(accessRoutes, {
      devices,
      credentials,
      hostKeys,
      protectedItems,
      accessGroups,
      accessDecisions,
      accessRequests,
      passwordView,
      connectivity,
      sshProxy: { host: appliance.config.web.publicHost, port: appliance.config.terminalProxy.port },
    });
    void app.register(auditRoutes, { audit });
    void app.register(sessionSearchRoutes, { search: appliance.sessions.search });
    void app.register(liveSessionRoutes, { sessions: appliance.sessions });
    void app.register(recordingRoutes, { recordings: appliance.recordings });
    void app.register(sshKeyRoutes, { sshKeys: appliance.sshKeys, users });
    void app.register(rdpTicketRoutes, { rdpTickets: appliance.rdpTickets, accessDecisions, publicAddress: appliance.config.rdpProxy.publicAddress });
    void app.register(internalRoutes, { remoteRecordings: appliance.remoteRecordings });
    void app.register(dashboardRoutes, { dashboard: appliance.dashboard });
    void app.register(terminalRoutes, { appliance, terminals });
    void app.register(rotationRoutes, { rotation: appliance.rotation, credentials });
    void app.register(discoveryRoutes, { discovery: appliance.discovery });
    void app.register(pageRoutes, { settings });
  }

  /**
   * Swap the TLS context when the advertised CAs may have changed: the trust store's revision moved (a CA
   * installed, inactivated, a CRL) or a CA's validity began or ended.
   */
  async refreshTrust(): Promise<void> {
    const revision = await this.appliance.trust.revision();
    if (revision === this.trustRevision && Date.now() < this.trustChangesAt) return;
    const advertised = await this.appliance.trust.advertisedAuthorities();
    this.trustRevision = revision;
    this.trustChangesAt = advertised.changesAt;
    this.armTrustClock();
    this.clientCas = advertised.pems;
    this.swapTlsContext();
    log.info('trusted CA list changed: TLS context swapped', { revision, advertised: advertised.pems.length });
  }

  private armTrustClock(): void {
    clearTimeout(this.trustClock);
    if (!Number.isFinite(this.trustChangesAt)) return;
    // setTimeout holds at most ~24.8 days; a later change is re-armed from there.
    const wait = Math.min(Math.max(0, this.trustChangesAt - Date.now()), 2 ** 31 - 1);
    this.trustClock = setTimeout(() => {
      if (Date.now() < this.trustChangesAt) return this.armTrustClock();
      this.refreshTrust().catch((e) => log.warn('trust store check failed', { error: e }));
    }, wait);
    this.trustClock.unref();
  }

  /** Where Duo sends the browser back: our public name and the port we actually listen on. */
  duoRedirectUrl(): string {
    const port = this.httpsPort === 443 ? '' : `:${this.httpsPort}`;
    return `https://${this.opts.publicHost}${port}/api/v1/auth/mfa/duo/callback`;
  }

  /** Cross-site requests are refused: a browser's Origin on a state change must be our own. */
  private checkOrigin(request: FastifyRequest): void {
    const origin = request.headers.origin;
    if (origin === undefined) return;
    const host = request.headers.host;
    if (!host || origin !== `https://${host}`) throw new WardenError('AUTH_CSRF', 'cross-origin request refused');
  }

  async start(): Promise<{ httpsPort: number; httpPort: number }> {
    await this.app.listen({ host: this.opts.listen, port: this.opts.httpsPort });
    const httpsPort = (this.app.server.address() as AddressInfo).port;
    this.httpsPort = httpsPort;
    this.armTrustClock();
    this.watchTls();
    // Awaited: peers pin what this node serves from the moment it says it is ready.
    await this.publishPin();
    let httpPort = 0;
    if (this.opts.httpRedirect) {
      this.redirect = http.createServer((req, res) => this.redirectToHttps(req, res, httpsPort));
      this.redirect.headersTimeout = 10_000;
      this.redirect.requestTimeout = 10_000;
      await new Promise<void>((resolve, reject) => {
        this.redirect!.once('error', reject);
        this.redirect!.listen(this.opts.httpPort, this.opts.listen, () => resolve());
      });
      httpPort = (this.redirect.address() as AddressInfo).port;
    }
    return { httpsPort, httpPort };
  }

  private redirectToHttps(req: http.IncomingMessage, res: http.ServerResponse, httpsPort: number): void {
    // Only a syntactically clean host name or address from the Host header; anything else gets publicHost.
    const hostHeader = (req.headers.host ?? '').replace(/:\d+$/, '');
    const host = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]{1,253})$/i.test(hostHeader) ? hostHeader : this.opts.publicHost;
    const path = (req.url ?? '/').startsWith('/') ? req.url! : '/';
    const port = httpsPort === 443 ? '' : `:${httpsPort}`;
    res.writeHead(301, { location: `https://${host}${port}${path}`, 'content-length': '0', connection: 'close' });
    res.end();
  }

  /**
   * Swap certificate and key on the live server from the files `opts` names (SIGHUP, or the files changed):
   * new handshakes use them, no restart. A pair that does not work throws, and the one in use stays.
   */
  reloadTls(opts: Pick<WebServerOptions, 'tlsCert' | 'tlsKey'>): void {
    const pair = readTlsPair(opts);
    const moved = opts.tlsCert !== this.opts.tlsCert || opts.tlsKey !== this.opts.tlsKey;
    this.opts = { ...this.opts, tlsCert: opts.tlsCert, tlsKey: opts.tlsKey };
    if (moved && this.unwatchTls) this.watchTls();
    if (pair.cert.equals(this.tlsPair.cert) && pair.key.equals(this.tlsPair.key)) return;
    const previous = this.tlsPair.fingerprint;
    this.tlsPair = pair;
    this.swapTlsContext();
    log.info('TLS certificate reloaded', { fingerprint: pair.fingerprint, previous });
    void this.publishPin();
  }

  /** On a cluster, peers pin this node's certificate: tell them (through the store) which one it serves now. */
  private async publishPin(): Promise<void> {
    const fingerprint = this.tlsPair.fingerprint;
    await this.appliance.remoteRecordings.publishOwnPin(fingerprint).then(() => undefined, (e: Error) => log.warn('could not publish this node\'s certificate pin; peers will refuse its internal calls', { error: e.message, fingerprint }));
  }

  /** The TLS context of the pair in use and the advertised CAs, for new handshakes. */
  private swapTlsContext(): void {
    (this.app.server as unknown as { setSecureContext(o: object): void }).setSecureContext(tlsMaterial(this.tlsPair, this.clientCas));
  }

  /** Follow the certificate and key files: a replaced pair is served as soon as it is whole and checked. */
  private watchTls(): void {
    this.unwatchTls?.();
    this.unwatchTls = watchTlsFiles(
      this.opts,
      () => {
        try {
          this.reloadTls(this.opts);
        } catch (e) {
          log.warn('new TLS certificate or key refused; still serving the previous one', { reason: (e as Error).message, fingerprint: this.tlsPair.fingerprint });
        }
      },
      (e) => log.warn('cannot watch the TLS certificate files; SIGHUP reloads them', { error: e.message }),
    );
  }

  /** Stop accepting, let in-flight requests finish, then close. */
  async stop(): Promise<void> {
    clearTimeout(this.trustClock);
    this.unfollowTrust?.();
    this.unwatchTls?.();
    const redirect = this.redirect;
    await Promise.all([
      this.app.close(),
      redirect ? new Promise<void>((resolve) => redirect.close(() => resolve())) : Promise.resolve(),
    ]);
    redirect?.closeAllConnections();
  }
}
