// The second step of login: certificate (from this request's TLS handshake), TOTP (enrolment and code),
// Duo (start and callback). Failures are the generic 401; the audit trail has the reason.
import type { TLSSocket, DetailedPeerCertificate } from 'node:tls';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { SecondFactorService } from '../../../appliance/auth/index.js';
import type { PresentedCertificate } from '../../../appliance/pki/index.js';
import { logger } from '../../../appliance/log/index.js';

export interface MfaRouteOptions {
  secondFactor: SecondFactorService;
  /** Where Duo sends the browser back: known only once the server listens (its port may be 0 in config). */
  duoRedirectUrl: () => string;
}

const log = logger('web');

/** The client certificate and the chain it sent in this connection's handshake. */
export function presentedCertificate(request: FastifyRequest): PresentedCertificate {
  const socket = request.raw.socket as TLSSocket;
  if (typeof socket.getPeerCertificate !== 'function') return { leaf: undefined, chain: [] };
  const peer = socket.getPeerCertificate(true) as DetailedPeerCertificate;
  if (!peer || !peer.raw) return { leaf: undefined, chain: [] };
  const chain: Buffer[] = [];
  const seen = new Set<string>([peer.fingerprint256]);
  for (let c = peer.issuerCertificate; c && c.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    chain.push(c.raw);
  }
  return { leaf: peer.raw, chain };
}

export const mfaRoutes: FastifyPluginAsync<MfaRouteOptions> = async (app, { secondFactor, duoRedirectUrl }) => {
  app.post('/api/v1/auth/mfa/certificate', { config: { access: 'mfa' } }, async (request) => {
    const r = await secondFactor.withCertificate(request.session!, presentedCertificate(request), request.clientIp);
    return { completed: true, certificateBound: r.bound };
  });

  app.get('/api/v1/auth/mfa/totp/enrolment', { config: { access: 'mfa' } }, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    return secondFactor.totpEnrolment(request.session!);
  });

  app.post<{ Body: { code: string } }>(
    '/api/v1/auth/mfa/totp',
    {
      config: { access: 'mfa' },
      schema: { body: { type: 'object', additionalProperties: false, required: ['code'], properties: { code: { type: 'string', maxLength: 16 } } } },
    },
    async (request) => {
      await secondFactor.withTotp(request.session!, request.body.code.trim(), request.clientIp);
      return { completed: true };
    },
  );

  app.post('/api/v1/auth/mfa/duo/start', { config: { access: 'mfa' } }, async (request) =>
    secondFactor.duoStart(request.session!, duoRedirectUrl(), request.clientIp),
  );

  // Duo sends the browser back here with a top-level GET: the state parameter is the CSRF defence.
  app.get<{ Querystring: { state?: string; duo_code?: string; code?: string } }>(
    '/api/v1/auth/mfa/duo/callback',
    {
      config: { access: 'mfa' },
      schema: {
        querystring: {
          type: 'object',
          properties: { state: { type: 'string', maxLength: 1024 }, duo_code: { type: 'string', maxLength: 4096 }, code: { type: 'string', maxLength: 4096 } },
        },
      },
    },
    async (request, reply) => {
      const code = request.query.duo_code ?? request.query.code ?? '';
      try {
        await secondFactor.duoCallback(request.session!, { code, state: request.query.state ?? '' }, duoRedirectUrl(), request.clientIp);
        return reply.redirect('/', 302);
      } catch (e) {
        log.info('Duo second factor failed', { code: (e as { code?: string }).code });
        return reply.redirect('/?mfa=failed', 302);
      }
    },
  );
};
