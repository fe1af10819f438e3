// The audit trail for auditors: filtered reading, the catalogue of event types and a chain verification,
// all read-only.
import type { FastifyPluginAsync } from 'fastify';
import { auditEventTypes, type AuditTrail } from '../../../appliance/audit/index.js';
import { dateParam } from '../query.js';

export interface AuditRouteOptions {
  audit: AuditTrail;
}

export const auditRoutes: FastifyPluginAsync<AuditRouteOptions> = async (app, { audit }) => {
  app.get<{ Querystring: { type?: string; subject?: string; since?: string; until?: string; limit?: string } }>(
    '/api/v1/audit',
    {
      config: { permission: 'audit.read' },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            type: { type: 'string', maxLength: 64 },
            subject: { type: 'string', maxLength: 128 },
            since: { type: 'string', maxLength: 40 },
            until: { type: 'string', maxLength: 40 },
            limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$' },
          },
        },
      },
    },
    async (request) => {
      const q = request.query;
      const since = dateParam(q.since, 'since');
      const until = dateParam(q.until, 'until');
      return {
        events: await audit.events({
          limit: Number(q.limit ?? 200),
          ...(q.type ? { type: q.type } : {}),
          ...(q.subject ? { subject: q.subject } : {}),
          ...(since !== undefined ? { since } : {}),
          ...(until !== undefined ? { until } : {}),
        }),
      };
    },
  );

  // What a SIEM or a report is configured from: every event type with its stable code, severity and fields.
  app.get('/api/v1/audit/event-types', { config: { permission: 'audit.read' } }, async () => ({ eventTypes: auditEventTypes() }));

  app.get('/api/v1/audit/verify', { config: { permission: 'audit.read' } }, async () => ({ verdict: await audit.verify() }));
};
