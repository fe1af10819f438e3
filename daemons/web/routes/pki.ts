// Administration of certificate login: trusted CAs (list, show, inactivate/activate), certificate bindings
// (list, revoke), the certificate usage log (JSON or CSV), per-user MFA method, TOTP reset, Duo providers.
import type { FastifyPluginAsync } from 'fastify';
import { CertificateLogin, type DuoService } from '../../../appliance/auth/index.js';
import type { UserAdminService } from '../../../appliance/access/index.js';
import type { TrustStore } from '../../../appliance/pki/index.js';
import { dateParam, pageLimit, pagingProperties } from '../query.js';
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

  // A CA file or a CRL from the console: the file's bytes as base64 (PEM or DER, one CA or a chain), so a DER
  // file survives JSON. The services parse, check and audit; the TLS context is rebuilt at once after.
  const upload = {
    // 4 MiB of file (MAX_BUNDLE_BYTES) is 5.6 MB of base64.
    bodyLimit: 6 * 1024 * 1024,
    schema: {
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['file'],
        properties: { file: { type: 'string', minLength: 1, maxLength: 5_600_000, pattern: '^[A-Za-z0-9+/=\\s]+$' }, force: { type: 'boolean' } },
      },
    },
    config: { permission: 'certificates.manage' as const },
  };
  type Upload = { Body: { file: string; force?: boolean } };

  app.post<Upload>('/api/v1/pki/cas', upload, async (request, reply) => {
    const cas = await trust.install(Buffer.from(request.body.file, 'base64'), actor(request), { force: request.body.force === true });
    await refreshTrust();
    reply.code(201);
    return { cas };
  });

  app.post<Upload>('/api/v1/pki/crls', upload, async (request, reply) => {
    const crl = await trust.installCrl(Buffer.from(request.body.file, 'base64'), actor(request));
    await refreshTrust();
    reply.code(201);
    return { crl };
  });

  for (const [action, active] of [['disable', false], ['enable', true]] as const) {
    app.post<IdRequest>(`/api/v1/pki/cas/:id/${action}`, { schema: idParams, config: { permission: 'certificates.manage' } }, async (request) => {
      const ca = await trust.setActive(Number(request.params.id), active, actor(request));
      await refreshTrust();
      return { ca };
    });
  }

  app.get<{ Querystring: { user?: string; status?: 'bound' | 'revoked'; limit?: string; offset?: string } }>(
    '/api/v1/certificates',
    {
      config: { permission: 'certificates.read' },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            user: { type: 'string', maxLength: 64 },
            status: { type: 'string', enum: ['bound', 'revoked'] },
            ...pagingProperties,
          },
        },
      },
    },
    async (request) => {
      const q = request.query;
      const userId = q.user ? (await users.byUsername(q.user)).id : undefined;
      const filter = { ...(userId !== undefined ? { userId } : {}), ...(q.status ? { status: q.status } : {}) };
      return certificates.page(filter, { limit: pageLimit(q.limit), offset: Number(q.offset ?? 0) });
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
