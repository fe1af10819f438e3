// Runtime settings an administrator edits (password policy, lockout, sessions, IP denylist, language).
import type { FastifyPluginAsync } from 'fastify';
import type { SettingsService } from '../../../appliance/settings/index.js';

export interface SettingsRouteOptions {
  settings: SettingsService;
}

export const settingsRoutes: FastifyPluginAsync<SettingsRouteOptions> = async (app, { settings }) => {
  app.get('/api/v1/settings', { config: { permission: 'settings.read' } }, async () => ({ settings: await settings.current() }));

  app.put(
    '/api/v1/settings',
    { schema: { body: { type: 'object' } }, config: { permission: 'settings.manage' } },
    async (request) => ({ settings: await settings.update(request.body, request.session!.user.username, request.clientIp) }),
  );
};
