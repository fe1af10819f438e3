// What the HTTP layer and its route plugins share: the session cookie's name, what the request hook puts on a
// request (session, client address) and on a route's config (access level, permission), and small helpers
// every route file needs. server.ts and the routes both import this; the routes never import server.ts.
import type { FastifyRequest } from 'fastify';
import type { SessionContext } from '../../appliance/auth/index.js';
import type { Permission } from '../../appliance/access/index.js';

export const SESSION_COOKIE = '__Host-warden-session';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** 'public': no session needed. Default: a valid session (and a completed password change). */
    access?: 'public' | 'mfa' | 'password-change' | 'session';
    permission?: Permission;
  }
  interface FastifyRequest {
    session: SessionContext | undefined;
    clientIp: string;
  }
}

/** Who is acting, for the audit trail: the session's user and the client address. */
export function actor(request: FastifyRequest): { username: string; ip: string; userId: number } {
  return { username: request.session!.user.username, ip: request.clientIp, userId: request.session!.user.id };
}

/** A numeric id in the path, checked by the schema before a handler sees it. */
export const idParams = {
  params: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', pattern: '^[1-9][0-9]{0,9}$' } } },
} as const;
export type IdRequest = { Params: { id: string } };
