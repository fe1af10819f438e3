// Session recordings for auditors: the list, one recording, its verification and its asciicast export,
// all read-only. The service checks the permission again; the route's config refuses early.
import { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RecordingService } from '../../../appliance/sessions/index.js';
import type { RdpFrame } from '../../../appliance/recording/index.js';
import { dateParam } from '../query.js';

export interface RecordingRouteOptions {
  recordings: RecordingService;
}

const uuidParams = {
  params: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' } } },
} as const;
type UuidRequest = { Params: { id: string } };

function auditor(request: FastifyRequest): { username: string; ip: string; profile: string } {
  const u = request.session!.user;
  return { username: u.username, ip: request.clientIp, profile: u.profile };
}

export const recordingRoutes: FastifyPluginAsync<RecordingRouteOptions> = async (app, { recordings }) => {
  // Keyset paging (`before`: the nextBefore of the page before, `{ recordings, nextBefore }`); a caller that
  // sends no `before` gets the newest page as it always did, with nextBefore beside it.
  app.get<{ Querystring: { user?: string; device?: string; since?: string; until?: string; before?: string; limit?: string } }>(
    '/api/v1/recordings',
    {
      config: { permission: 'recordings.view' },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            user: { type: 'string', maxLength: 64 },
            device: { type: 'string', maxLength: 253 },
            since: { type: 'string', maxLength: 40 },
            until: { type: 'string', maxLength: 40 },
            before: { type: 'string', maxLength: 60 },
            limit: { type: 'string', pattern: '^[1-9][0-9]{0,2}$' },
          },
        },
      },
    },
    async (request) => {
      const q = request.query;
      const since = dateParam(q.since, 'since');
      const until = dateParam(q.until, 'until');
      return recordings.page(auditor(request), {
        limit: Number(q.limit ?? 100),
        ...(q.user ? { user: q.user } : {}),
        ...(q.device ? { device: q.device } : {}),
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
        ...(q.before ? { before: q.before } : {}),
      });
    },
  );

  // The commands of the recording's session with their place in it: the list beside the player.
  app.get<UuidRequest & { Querystring: { limit?: string; offset?: string } }>(
    '/api/v1/recordings/:id/commands',
    {
      config: { permission: 'recordings.view' },
      schema: {
        ...uuidParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'string', pattern: '^([1-9][0-9]?|[1-4][0-9]{2}|500)$' }, offset: { type: 'string', pattern: '^[0-9]{1,7}$' } },
        },
      },
    },
    async (request) => {
      const limit = Number(request.query.limit ?? 50);
      const offset = Number(request.query.offset ?? 0);
      return { ...(await recordings.commands(auditor(request), request.params.id, { limit, offset })), limit, offset };
    },
  );

  app.get<UuidRequest>('/api/v1/recordings/:id', { config: { permission: 'recordings.view' }, schema: uuidParams }, async (request) => ({
    recording: await recordings.get(auditor(request), request.params.id),
  }));

  app.get<UuidRequest>('/api/v1/recordings/:id/verify', { config: { permission: 'recordings.view' }, schema: uuidParams }, async (request) => ({
    verdict: await recordings.verify(auditor(request), request.params.id),
  }));

  app.get<UuidRequest & { Querystring: { input?: string } }>(
    '/api/v1/recordings/:id/asciicast',
    {
      config: { permission: 'recordings.view' },
      schema: { ...uuidParams, querystring: { type: 'object', additionalProperties: false, properties: { input: { type: 'string', enum: ['0', '1', 'true', 'false'] } } } },
    },
    async (request, reply) => {
      const input = request.query.input === '1' || request.query.input === 'true';
      const lines = await recordings.asciicast(auditor(request), request.params.id, { input });
      // Streamed: a long recording is never held whole in memory.
      return reply
        .type('application/x-asciicast')
        .header('content-disposition', `attachment; filename="${request.params.id}.cast"`)
        .header('cache-control', 'no-store')
        .send(Readable.from(lines));
    },
  );

  // An RDP recording played in the browser: its desktop as PNG pictures in one multipart/x-mixed-replace stream,
  // which an <img> shows as it arrives, each picture replacing the one before — paced at the recording's own
  // time (times `speed`), from `from` ms on. One request, one audited view, however long it is watched; the
  // picture is rendered on the server from the recording (the core's renderer), never from a saved video.
  app.get<UuidRequest & { Querystring: { from?: string; speed?: string } }>(
    '/api/v1/recordings/:id/frames',
    {
      config: { permission: 'recordings.view' },
      schema: {
        ...uuidParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { from: { type: 'string', pattern: '^[0-9]{1,9}$' }, speed: { type: 'string', enum: ['0.5', '1', '2', '4', '8'] } },
        },
      },
    },
    async (request, reply) => {
      const fromMs = Math.floor(Number(request.query.from ?? 0) / FILM_STEP_MS) * FILM_STEP_MS;
      const speed = Number(request.query.speed ?? 1);
      const film = await recordings.rdpFrames(auditor(request), request.params.id, { format: 'png', png: true, everyMs: FILM_STEP_MS });
      // Streamed: when the viewer goes away the stream is destroyed and the rendering stops with it.
      return reply
        .type(`multipart/x-mixed-replace; boundary=${FILM_BOUNDARY}`)
        .header('cache-control', 'no-store')
        .send(Readable.from(paced(film.frames, fromMs, speed)));
    },
  );
};

/** A picture every this many ms of recording time (4 a second): smooth enough to follow, cheap to encode. */
const FILM_STEP_MS = 250;
const FILM_BOUNDARY = 'warden-frame';

function filmPart(png: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`--${FILM_BOUNDARY}\r\nContent-Type: image/png\r\nContent-Length: ${png.length}\r\n\r\n`), png, Buffer.from('\r\n')]);
}

/**
 * The pictures from `fromMs` on, each sent when its moment comes (an unchanged one is not sent again). A start
 * past the end still shows the desktop as the session ended.
 */
async function* paced(frames: AsyncIterable<RdpFrame>, fromMs: number, speed: number): AsyncGenerator<Buffer> {
  const start = Date.now();
  let sent = false;
  let before: RdpFrame | undefined;
  for await (const f of frames) {
    if (f.atMs < fromMs) {
      before = f;
      continue;
    }
    if (sent && !f.changed) continue;
    const wait = start + (f.atMs - fromMs) / speed - Date.now();
    if (wait > 0) await sleep(wait);
    yield filmPart(f.png!);
    sent = true;
  }
  if (!sent && before) yield filmPart(before.png!);
}
