// The audit trail for auditors: filtered reading and a chain verification, both read-only.
import type { FastifyInstance } from 'fastify';
import type { Appliance } from '../../../appliance/index.js';
import { dateParam } from '../query.js';


export function registerAuditRoutes(app: FastifyInstance, appliance: Appliance): void {
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
      const rows = await appliance.store.repos.auditEvents.query({
        limit: Number(q.limit ?? 200),
        ...(q.type ? { type: q.type } : {}),
        ...(q.subject ? { subject: q.subject } : {}),
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
      });
      return {
        events: rows.map((r) => ({
          seq: r.seq,
          at: new Date(r.ts).toISOString(),
          type: r.type,
          outcome: r.outcome,
          actor: r.actor,
          actorIp: r.actor_ip,
          subject: r.subject,
          code: r.code,
          detail: JSON.parse(r.detail) as unknown,
          hash: r.hash,
        })),
      };
    },
  );

  app.get('/api/v1/audit/verify', { config: { permission: 'audit.read' } }, async () => ({ verdict: await appliance.audit.verify() }));
}
