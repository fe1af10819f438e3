// The console's dashboard over HTTP: any logged-in user; the appliance decides which sections their profile
// may see, so a section the user may not read is absent, not empty.
import type { FastifyPluginAsync } from 'fastify';
import type { Dashboard } from '../../../appliance/sessions/index.js';

export interface DashboardRouteOptions {
  dashboard: Dashboard;
}

export const dashboardRoutes: FastifyPluginAsync<DashboardRouteOptions> = async (app, { dashboard }) => {
  app.get('/api/v1/dashboard', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    return { dashboard: await dashboard.overview(request.session!.user) };
  });
};
