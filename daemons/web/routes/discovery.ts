// Discovery (issue 14): run it on a device now, read the review list, import a found account into the vault
// (its password given, or set anew through the discovery credential) or dismiss a finding.
import type { FastifyPluginAsync } from 'fastify';
import type { DiscoveryService } from '../../../appliance/rotation/index.js';
import { actor, idParams, type IdRequest } from '../route-context.js';

export interface DiscoveryRouteOptions {
  discovery: DiscoveryService;
}

const runBody = { body: { type: 'object', additionalProperties: false, properties: { credentialId: { type: 'integer', minimum: 1 } } } } as const;
const importBody = { body: { type: 'object', additionalProperties: false, properties: { secret: { type: 'string', minLength: 1, maxLength: 16384 }, rotate: { type: 'boolean' } } } } as const;
const listQuery = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { device: { type: 'string', pattern: '^[1-9][0-9]{0,9}$' }, review: { type: 'string', enum: ['pending', 'imported', 'dismissed'] }, limit: { type: 'string', pattern: '^[0-9]{1,3}$' }, offset: { type: 'string', pattern: '^[0-9]{1,6}$' } },
  },
} as const;

export const discoveryRoutes: FastifyPluginAsync<DiscoveryRouteOptions> = async (app, { discovery }) => {
  app.post<IdRequest & { Body: { credentialId?: number } }>('/api/v1/devices/:id/discovery', { schema: { ...idParams, ...runBody }, config: { permission: 'credentials.manage' } }, async (request) =>
    discovery.run(actor(request), Number(request.params.id), request.body?.credentialId),
  );
  app.get<{ Querystring: { device?: string; review?: 'pending' | 'imported' | 'dismissed'; limit?: string; offset?: string } }>('/api/v1/discovery/findings', { schema: listQuery, config: { permission: 'devices.read' } }, async (request) => {
    const q = request.query;
    return {
      findings: await discovery.list({
        ...(q.device ? { deviceId: Number(q.device) } : {}),
        ...(q.review ? { review: q.review } : {}),
        limit: Math.min(500, Number(q.limit ?? 100) || 100),
        offset: Number(q.offset ?? 0),
      }),
    };
  });
  app.post<IdRequest & { Body: { secret?: string; rotate?: boolean } }>('/api/v1/discovery/findings/:id/import', { schema: { ...idParams, ...importBody }, config: { permission: 'credentials.manage' } }, async (request) =>
    discovery.importFinding(actor(request), Number(request.params.id), { ...(request.body?.secret !== undefined ? { secret: request.body.secret } : {}), rotate: request.body?.rotate === true }),
  );
  app.post<IdRequest>('/api/v1/discovery/findings/:id/dismiss', { schema: idParams, config: { permission: 'credentials.manage' } }, async (request) => {
    await discovery.dismiss(actor(request), Number(request.params.id));
    return { dismissed: true };
  });
};
