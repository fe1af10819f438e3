// Live proxied sessions: who is connected where right now, with the bytes so far (auditors and administrators),
// and ending one (administrators: access.manage). The session may run in another process or machine: the
// list comes from the store, the end travels on the change feed (SessionService.requestEnd).
import type { FastifyPluginAsync } from 'fastify';
import type { SessionService } from '../../../appliance/sessions/index.js';
import { actor } from '../route-context.js';

export interface LiveSessionRouteOptions {
  sessions: SessionService;
}

const SESSION_ID = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

export const liveSessionRoutes: FastifyPluginAsync<LiveSessionRouteOptions> = async (app, { sessions }) => {
  // Either permission lists (audit.read or access.manage): the service checks, the route config holds one.
  // Paged as every console list: 50 a page unless asked, at most 500, with how many are open.
  app.get<{ Querystring: { limit?: string; offset?: string } }>(
    '/api/v1/sessions/live',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'string', pattern: '^([1-9][0-9]?|[1-4][0-9]{2}|500)$' }, offset: { type: 'string', pattern: '^[0-9]{1,7}$' } },
        },
      },
    },
    async (request) => {
      const limit = Number(request.query.limit ?? 50);
      const offset = Number(request.query.offset ?? 0);
      return { ...(await sessions.pageLiveSessions(request.session!.user, { limit, offset })), limit, offset };
    },
  );

  app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>(
    '/api/v1/sessions/:id/end',
    {
      config: { permission: 'access.manage' },
      schema: {
        params: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', pattern: SESSION_ID } } },
        body: { type: ['object', 'null'], additionalProperties: false, properties: { reason: { type: 'string', minLength: 1, maxLength: 256 } } },
      },
    },
    async (request, reply) => {
      await sessions.requestEnd({ ...actor(request), profile: request.session!.user.profile }, request.params.id, request.body?.reason);
      // Accepted, not done: the process holding the session disconnects it when it hears the request.
      return reply.code(202).send({ requested: true, sessionId: request.params.id });
    },
  );
};
