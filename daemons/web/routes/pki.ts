// Administration of certificate login: trusted CAs (list, show, inactivate/activate), certificate bindings
// (list, revoke), the certificate usage log (JSON or CSV), per-user MFA method, TOTP reset, Duo providers.
import type { FastifyPluginAsync } from 'fastify';
import { CertificateLogin, type DuoService } from '../../../appliance/auth/index.js';
import type { UserAdminService } from '../../../appliance/access/index.js';
import type { TrustStore } from '../../../appliance/pki/index.js';
import { dateParam } from '../query.js';
import { actor, idParams, type IdRequest } from '../route-context.js';

export interface PkiRouteOptions {
  trust: TrustStore;
  certificates: CertificateLogin;
  users: UserAdminService;
  duo: DuoService;
  /** Swap the TLS context at once after a CA changed here (other processes hear it on the change feed). */
  refreshTrust: () => Promise<void>;
}

export const pkiRoutes: FastifyPluginAsync<PkiRouteOptions> = async (app, { trust, certificates, users, duo, refreshTrust }) => {
  app.get('/api/v1/pki/cas', { config: { permission: 'certificates.read' } }, async () => ({ cas: await trust.list() }));

  app.get<IdRequest>('/api/v1/pki/cas/:id', { schema: idParams, config: { permission: 'certificates.read' } }, async (request) => ({
    ca: await trust.get(Number(request.params.id)),
  }));

  for (const [action, active] of [['disable', false], ['enable', true]] as const) {
    app.post<IdRequest>(`/api/v1/pki/cas/:id/${action}`, { schema: idParams, config: { permission: 'certificates.manage' } }, async (request) => {
      const ca = await trust.setActive(Number(request.params.id), active, actor(request));
      await refreshTrust();
      return { ca };
    });
  }

  app.get<{ Querystring: { user?: string; status?: 'bound' | 'revoked' } }>(
    '/api/v1/certificates',
    {
      config: { permission: 'certificates.read' },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { user: { type: 'string', maxLength: 64 }, status: { type: 'string', enum: ['bound', 'revoked'] } },
        },
      },
    },
    async (request) => {
      const userId = request.query.user ? (await users.byUsername(request.query.user)).id : undefined;
      return { certificates: await certificates.list({ ...(userId !== undefined ? { userId } : {}), ...(request.query.status ? { status: request.query.status } : {}) }) };
    },
  );

  app.post<IdRequest>('/api/v1/certificates/:id/revoke', { schema: idParams, config: { permission: 'certificates.manage' } }, async (request) => ({
    certificate: await certificates.revoke(Number(request.params.id), actor(request)),
  }));

  app.get<{ Querystring: { user?: string; since?: string; until?: string; format?: 'json' | 'csv'; limit?: string } }>(
    '/api/v1/certificates/usage',
    {
      config: { permission: 'certificates.read' },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            user: { type: 'string', maxLength: 64 },
            since: { type: 'string', maxLength: 40 },
            until: { type: 'string', maxLength: 40 },
            format: { type: 'string', enum: ['json', 'csv'] },
            limit: { type: 'string', pattern: '^[1-9][0-9]{0,4}$' },
          },
        },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const userId = q.user ? (await users.byUsername(q.user)).id : undefined;
      const since = dateParam(q.since, 'since');
      const until = dateParam(q.until, 'until');
      const entries = await certificates.usage({
        ...(userId !== undefined ? { userId } : {}),
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
        ...(q.limit ? { limit: Number(q.limit) } : {}),
      });
      if (q.format === 'csv') {
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', 'attachment; filename="certificate-usage.csv"')
          .header('cache-control', 'no-store')
          .send(CertificateLogin.usageCsv(entries));
      }
      return { usage: entries };
    },
  );

  app.post<IdRequest & { Body: { method: string } }>(
    '/api/v1/users/:id/mfa',
    {
      config: { permission: 'users.manage' },
      schema: { ...idParams, body: { type: 'object', additionalProperties: false, required: ['method'], properties: { method: { type: 'string', enum: ['none', 'certificate', 'totp', 'duo'] } } } },
    },
    async (request) => ({ user: await users.view(await users.setMfaMethod(actor(request), Number(request.params.id), request.body.method)) }),
  );

  app.post<IdRequest>('/api/v1/users/:id/totp/reset', { schema: idParams, config: { permission: 'users.manage' } }, async (request, reply) => {
    await users.resetTotp(actor(request), Number(request.params.id));
    return reply.code(204).send();
  });

  app.get('/api/v1/mfa/providers', { config: { permission: 'settings.read' } }, async () => ({
    providers: await duo.list(),
    sessionCookieSameSite: await duo.cookieSameSite(),
  }));

  app.post('/api/v1/mfa/providers', { schema: { body: { type: 'object' } }, config: { permission: 'settings.manage' } }, async (request, reply) => {
    reply.code(201);
    return duo.save(actor(request), request.body);
  });

  app.put<IdRequest>('/api/v1/mfa/providers/:id', { schema: { ...idParams, body: { type: 'object' } }, config: { permission: 'settings.manage' } }, async (request) =>
    duo.save(actor(request), request.body, Number(request.params.id)),
  );
};
