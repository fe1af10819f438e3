// SSH public keys for the terminal proxy: each user manages their own; administrators list and remove anyone's
// (a lost laptop), but do not add keys for others: a key speaks for a person only if that person registered it.
import type { FastifyPluginAsync } from 'fastify';
import type { SshKeyService } from '../../../appliance/auth/index.js';
import type { UserAdminService } from '../../../appliance/access/index.js';
import { actor, idParams, type IdRequest } from '../route-context.js';

export interface SshKeyRouteOptions {
  sshKeys: SshKeyService;
  users: UserAdminService;
}

const addSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['key'],
    // One authorized_keys line: an RSA-16384 key is about 2.8 KiB of base64.
    properties: { key: { type: 'string', maxLength: 16384 } },
  },
} as const;

const ID = { type: 'string', pattern: '^[1-9][0-9]{0,9}$' } as const;
const keyParams = { params: { type: 'object', additionalProperties: false, required: ['keyId'], properties: { keyId: ID } } } as const;
const userKeyParams = { params: { type: 'object', additionalProperties: false, required: ['id', 'keyId'], properties: { id: ID, keyId: ID } } } as const;

export const sshKeyRoutes: FastifyPluginAsync<SshKeyRouteOptions> = async (app, { sshKeys, users }) => {
  app.get('/api/v1/me/ssh-keys', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    return { keys: await sshKeys.list(request.session!.user.id) };
  });

  app.post<{ Body: { key: string } }>('/api/v1/me/ssh-keys', { schema: addSchema }, async (request, reply) => {
    const who = actor(request);
    const key = await sshKeys.add(who, who.userId, request.body.key);
    return reply.code(201).header('cache-control', 'no-store').send({ key });
  });

  app.delete<{ Params: { keyId: string } }>('/api/v1/me/ssh-keys/:keyId', { schema: keyParams }, async (request, reply) => {
    const who = actor(request);
    await sshKeys.remove(who, who.userId, Number(request.params.keyId));
    return reply.code(204).send();
  });

  app.get<IdRequest>('/api/v1/users/:id/ssh-keys', { schema: idParams, config: { permission: 'users.read' } }, async (request, reply) => {
    const user = await users.get(Number(request.params.id));
    reply.header('cache-control', 'no-store');
    return { keys: await sshKeys.list(user.id) };
  });

  app.delete<{ Params: { id: string; keyId: string } }>('/api/v1/users/:id/ssh-keys/:keyId', { schema: userKeyParams, config: { permission: 'users.manage' } }, async (request, reply) => {
    await sshKeys.remove(actor(request), Number(request.params.id), Number(request.params.keyId));
    return reply.code(204).send();
  });
};
