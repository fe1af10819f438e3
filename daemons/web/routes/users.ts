// Administration of local accounts.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { UserAdminService } from '../../../appliance/access/index.js';
import { actor, idParams, type IdRequest } from '../route-context.js';
import { pageLimit, pagingProperties } from '../query.js';

export interface UserRouteOptions {
  users: UserAdminService;
}

const createSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['username', 'fullName', 'profile'],
    properties: {
      username: { type: 'string', maxLength: 256 },
      fullName: { type: 'string', maxLength: 1024 },
      email: { type: 'string', maxLength: 1024 },
      profile: { type: 'string', maxLength: 64 },
      language: { type: 'string', maxLength: 16 },
      password: { type: 'string', maxLength: 1024 },
    },
  },
} as const;

const listSchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      q: { type: 'string', maxLength: 256 },
      status: { type: 'string', enum: ['active', 'disabled', 'locked'] },
      ...pagingProperties,
    },
  },
} as const;

export const userRoutes: FastifyPluginAsync<UserRouteOptions> = async (app, { users }) => {
  // Server-paged: the console never loads more accounts than it shows.
  app.get<{ Querystring: { q?: string; status?: 'active' | 'disabled' | 'locked'; limit?: string; offset?: string } }>(
    '/api/v1/users',
    { schema: listSchema, config: { permission: 'users.read' } },
    async (request) => {
      const q = request.query;
      return users.page({
        ...(q.q ? { text: q.q } : {}),
        ...(q.status ? { status: q.status } : {}),
        limit: pageLimit(q.limit),
        offset: Number(q.offset ?? 0),
      });
    },
  );

  app.get<IdRequest>('/api/v1/users/:id', { schema: idParams, config: { permission: 'users.read' } }, async (request) => ({
    user: await users.view(await users.get(Number(request.params.id))),
  }));

  app.post('/api/v1/users', { schema: createSchema, config: { permission: 'users.manage' } }, async (request, reply) => {
    const { user, oneTimePassword } = await users.create(actor(request), request.body);
    reply.code(201).header('cache-control', 'no-store');
    return { user: await users.view(user), ...(oneTimePassword ? { oneTimePassword } : {}) };
  });

  const action = (name: string, run: (id: number, request: FastifyRequest) => Promise<Record<string, unknown>>) =>
    app.post<IdRequest>(`/api/v1/users/:id/${name}`, { schema: idParams, config: { permission: 'users.manage' } }, async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return run(Number(request.params.id), request);
    });

  action('disable', async (id, r) => ({ user: await users.view(await users.setStatus(actor(r), id, 'disabled')) }));
  action('enable', async (id, r) => ({ user: await users.view(await users.setStatus(actor(r), id, 'active')) }));
  action('unlock', async (id, r) => ({ user: await users.view(await users.unlock(actor(r), id)) }));
  action('reset-password', async (id, r) => {
    const { user, oneTimePassword } = await users.resetPassword(actor(r), id);
    return { user: await users.view(user), oneTimePassword };
  });
};
