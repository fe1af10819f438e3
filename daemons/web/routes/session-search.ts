// Search over recorded sessions for auditors and administrators: who ran this command, where, when, and the
// second of the recording to play it from.
import type { FastifyPluginAsync } from 'fastify';
import type { SessionSearch } from '../../../appliance/sessions/index.js';

export interface SessionSearchRouteOptions {
  search: SessionSearch;
}

export const sessionSearchRoutes: FastifyPluginAsync<SessionSearchRouteOptions> = async (app, { search }) => {
  app.get<{ Querystring: { command?: string; text?: string; user?: string; device?: string; since?: string; before?: string; limit?: string } }>(
    '/api/v1/sessions',
    {
      config: { permission: 'recordings.view' },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            command: { type: 'string', maxLength: 256 },
            text: { type: 'string', maxLength: 256 },
            user: { type: 'string', maxLength: 64 },
            device: { type: 'string', maxLength: 253 },
            since: { type: 'string', maxLength: 40 },
            before: { type: 'string', pattern: '^[1-9][0-9]{0,15}$' },
            limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$' },
          },
        },
      },
    },
    // Newest first; `nextBefore` (null on the last page) asks for the next, older page.
    async (request) => search.page(request.query),
  );
};
