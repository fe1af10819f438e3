// The audit trail for auditors: filtered reading (newest first, paged by sequence number), the same filters as
// a streamed CSV download, the catalogue of event types and a chain verification, all read-only.
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { auditEventTypes, type AuditEventFilter, type AuditTrail } from '../../../appliance/audit/index.js';
import { dateParam, pageLimit } from '../query.js';

export interface AuditRouteOptions {
  audit: AuditTrail;
}

/** Rows read per page of a CSV export. */
const CSV_PAGE = 1000;

type AuditQuery = { type?: string; actor?: string; subject?: string; since?: string; until?: string; before?: string; limit?: string; format?: 'json' | 'csv' };

export const auditRoutes: FastifyPluginAsync<AuditRouteOptions> = async (app, { audit }) => {
  app.get<{ Querystring: AuditQuery }>(
    '/api/v1/audit',
    {
      config: { permission: 'audit.read' },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            type: { type: 'string', maxLength: 64 },
            actor: { type: 'string', maxLength: 256 },
            subject: { type: 'string', maxLength: 128 },
            since: { type: 'string', maxLength: 40 },
            until: { type: 'string', maxLength: 40 },
            before: { type: 'string', pattern: '^[1-9][0-9]{0,15}$' },
            limit: { type: 'string', pattern: '^[1-9][0-9]{0,5}$' },
            format: { type: 'string', enum: ['json', 'csv'] },
          },
        },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const since = dateParam(q.since, 'since');
      const until = dateParam(q.until, 'until');
      const filter: Omit<AuditEventFilter, 'limit'> = {
        ...(q.type ? { type: q.type } : {}),
        ...(q.actor ? { actor: q.actor } : {}),
        ...(q.subject ? { subject: q.subject } : {}),
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
        ...(q.before ? { beforeSeq: Number(q.before) } : {}),
      };
      if (q.format === 'csv') {
        const stamp = new Date().toISOString().replace(/[:.]/g, '-');
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="warden-audit-${stamp}.csv"`)
          .header('cache-control', 'no-store')
          .send(Readable.from(audit.csv({ ...filter, limit: CSV_PAGE })));
      }
      const limit = pageLimit(q.limit);
      const events = await audit.events({ ...filter, limit });
      // A full page may have more behind it; the next page starts below its oldest row.
      return { events, nextBefore: events.length === limit ? Number(events[events.length - 1]!.seq) : null };
    },
  );

  // What a SIEM or a report is configured from: every event type with its stable code, severity and fields.
  app.get('/api/v1/audit/event-types', { config: { permission: 'audit.read' } }, async () => ({ eventTypes: auditEventTypes() }));

  app.get('/api/v1/audit/verify', { config: { permission: 'audit.read' } }, async () => ({ verdict: await audit.verify() }));
};
