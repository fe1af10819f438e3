// Session recordings for auditors: the list, one recording, its verification and its asciicast export,
// all read-only. The service checks the permission again; the route's config refuses early.
import { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { RecordingService } from '../../../appliance/sessions/index.js';
import { dateParam } from '../query.js';

export interface RecordingRouteOptions {
  recordings: RecordingService;
}

const uuidParams = {
  params: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' } } },
} as const;
type UuidRequest = { Params: { id: string } };

function auditor(request: FastifyRequest): { username: string; ip: string; profile: string } {
  const u = request.session!.user;
  return { username: u.username, ip: request.clientIp, profile: u.profile };
}

export const recordingRoutes: FastifyPluginAsync<RecordingRouteOptions> = async (app, { recordings }) => {
  // Keyset paging (`before`: the nextBefore of the page before, `{ recordings, nextBefore }`); a caller that
  // sends no `before` gets the newest page as it always did, with nextBefore beside it.
  app.get<{ Querystring: { user?: string; device?: string; since?: string; until?: string; before?: string; limit?: string } }>(
    '/api/v1/recordings',
    {
      config: { permission: 'recordings.view' },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            user: { type: 'string', maxLength: 64 },
            device: { type: 'string', maxLength: 253 },
            since: { type: 'string', maxLength: 40 },
            until: { type: 'string', maxLength: 40 },
            before: { type: 'string', maxLength: 60 },
            limit: { type: 'string', pattern: '^[1-9][0-9]{0,2}$' },
          },
        },
      },
    },
    async (request) => {
      const q = request.query;
      const since = dateParam(q.since, 'since');
      const until = dateParam(q.until, 'until');
      return recordings.page(auditor(request), {
        limit: Number(q.limit ?? 100),
        ...(q.user ? { user: q.user } : {}),
        ...(q.device ? { device: q.device } : {}),
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
        ...(q.before ? { before: q.before } : {}),
      });
    },
  );

  // The commands of the recording's session with their place in it: the list beside the player.
  app.get<UuidRequest & { Querystring: { limit?: string; offset?: string } }>(
    '/api/v1/recordings/:id/commands',
    {
      config: { permission: 'recordings.view' },
      schema: {
        ...uuidParams,
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
      return { ...(await recordings.commands(auditor(request), request.params.id, { limit, offset })), limit, offset };
    },
  );

  app.get<UuidRequest>('/api/v1/recordings/:id', { config: { permission: 'recordings.view' }, schema: uuidParams }, async (request) => ({
    recording: await recordings.get(auditor(request), request.params.id),
  }));

  app.get<UuidRequest>('/api/v1/recordings/:id/verify', { config: { permission: 'recordings.view' }, schema: uuidParams }, async (request) => ({
    verdict: await recordings.verify(auditor(request), request.params.id),
  }));

  app.get<UuidRequest & { Querystring: { input?: string } }>(
    '/api/v1/recordings/:id/asciicast',
    {
      config: { permission: 'recordings.view' },
      schema: { ...uuidParams, querystring: { type: 'object', additionalProperties: false, properties: { input: { type: 'string', enum: ['0', '1', 'true', 'false'] } } } },
    },
    async (request, reply) => {
      const input = request.query.input === '1' || request.query.input === 'true';
      const lines = await recordings.asciicast(auditor(request), request.params.id, { input });
      // Streamed: a long recording is never held whole in memory.
      return reply
        .type('application/x-asciicast')
        .header('content-disposition', `attachment; filename="${request.params.id}.cast"`)
        .header('cache-control', 'no-store')
        .send(Readable.from(lines));
    },
  );
};
