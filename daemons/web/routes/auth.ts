// Login, logout, the current user and the user's own password change.
import type { FastifyPluginAsync } from 'fastify';
import type { AuthService, DuoService } from '../../../appliance/auth/index.js';
import { permissionsOf, type AccessRequestService, type UserAdminService } from '../../../appliance/access/index.js';
import { SESSION_COOKIE } from '../route-context.js';

export interface AuthRouteOptions {
  auth: AuthService;
  users: UserAdminService;
  /** Asked for the session cookie's SameSite (Lax only while Duo is on). */
  duo: DuoService;
  /** Asked whether the user approves requests (GET /api/v1/me's `approver`, for the console's navigation). */
  accessRequests: AccessRequestService;
}

const loginSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['username', 'password'],
    properties: {
      username: { type: 'string', minLength: 1, maxLength: 256 },
      password: { type: 'string', minLength: 1, maxLength: 1024 },
    },
  },
} as const;

const changePasswordSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['currentPassword', 'newPassword'],
    properties: {
      currentPassword: { type: 'string', minLength: 1, maxLength: 1024 },
      newPassword: { type: 'string', minLength: 1, maxLength: 1024 },
    },
  },
} as const;

export const authRoutes: FastifyPluginAsync<AuthRouteOptions> = async (app, { auth, users, duo, accessRequests }) => {
  app.post<{ Body: { username: string; password: string } }>(
    '/api/v1/auth/login',
    { schema: loginSchema, config: { access: 'public' } },
    async (request, reply) => {
      const result = await auth.login({
        username: request.body.username,
        password: request.body.password,
        ip: request.clientIp,
        userAgent: request.headers['user-agent'] ?? '',
      });
      // Lax only while an external MFA provider is enabled: Duo's callback is a cross-site navigation.
      const sameSite = (await duo.cookieSameSite()) === 'Lax' ? 'lax' : 'strict';
      reply.setCookie(SESSION_COOKIE, result.token, { path: '/', httpOnly: true, secure: true, sameSite });
      reply.header('cache-control', 'no-store');
      return {
        user: await users.view(result.user),
        permissions: permissionsOf(result.user.profile),
        // The console starts from this answer when no second factor is due; until then it says nothing more.
        ...(result.mfaRequired ? {} : { approver: await accessRequests.isApprover(result.user.id) }),
        passwordChangeRequired: result.passwordChangeRequired,
        mfaRequired: result.mfaRequired,
        csrfToken: result.csrfToken,
      };
    },
  );

  app.post('/api/v1/auth/logout', { config: { access: 'mfa' } }, async (request, reply) => {
    await auth.logout(request.session!.sessionId, request.clientIp);
    reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, secure: true, sameSite: 'strict' });
    return reply.code(204).send();
  });

  app.get('/api/v1/me', { config: { access: 'mfa' } }, async (request, reply) => {
    const s = request.session!;
    reply.header('cache-control', 'no-store');
    return {
      user: await users.view(s.user),
      permissions: permissionsOf(s.user.profile),
      approver: await accessRequests.isApprover(s.user.id),
      passwordChangeRequired: s.passwordChangeRequired,
      mfaRequired: s.mfaRequired,
      csrfToken: s.csrfToken,
    };
  });

  app.post<{ Body: { currentPassword: string; newPassword: string } }>(
    '/api/v1/me/password',
    // Only after the second factor: a stolen password alone cannot change the password.
    { schema: changePasswordSchema, config: { access: 'password-change' } },
    async (request, reply) => {
      await auth.changePassword({
        userId: request.session!.user.id,
        currentPassword: request.body.currentPassword,
        newPassword: request.body.newPassword,
        ip: request.clientIp,
      });
      return reply.code(204).send();
    },
  );
};
