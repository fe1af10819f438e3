// Runtime settings an administrator edits (password policy, lockout, sessions, IP denylist, language).
import type { FastifyInstance } from 'fastify';
import type { Appliance } from '../../../appliance/index.js';

export function registerSettingsRoutes(app: FastifyInstance, appliance: Appliance): void {
  app.get('/api/v1/settings', { config: { permission: 'settings.read' } }, async () => ({ settings: await appliance.settings.current() }));

  app.put(
    '/api/v1/settings',
    { schema: { body: { type: 'object' } }, config: { permission: 'settings.manage' } },
    async (request) => ({ settings: await appliance.settings.update(request.body, request.session!.user.username, request.clientIp) }),
  );
}
