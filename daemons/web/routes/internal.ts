// Calls between the nodes of a cluster, not for people: no session; the appliance checks the node's
// signature (appliance/nodes) and audits every refusal. A refused call is a 401 like any other.
import type { FastifyPluginAsync } from 'fastify';
import type { RemoteRecordings } from '../../../appliance/nodes/index.js';

export interface InternalRouteOptions {
  remoteRecordings: RemoteRecordings;
}

export const internalRoutes: FastifyPluginAsync<InternalRouteOptions> = async (app, { remoteRecordings }) => {
  app.get<{ Params: { id: string } }>(
    '/internal/recordings/:id',
    {
      config: { access: 'public' },
      schema: { params: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' } } } },
    },
    async (request, reply) => {
      const served = await remoteRecordings.serve({ id: request.params.id, method: request.method, path: request.url, headers: request.headers, ip: request.clientIp });
      // The stored file as it is: still encrypted under its data key (the reader decrypts and verifies it).
      return reply.type('application/octet-stream').header('content-length', String(served.bytes)).header('cache-control', 'no-store').send(served.stream);
    },
  );
};
