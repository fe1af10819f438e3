// "Connect" over RDP from the web: an .rdp file carrying a one-time ticket the RDP proxy redeems instead of a
// password (how certificate and Duo users reach RDP). Which target a name means is found among the user's
// reachable targets; whether they may have a ticket is RdpTicketService.issue's decision.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AccessDecisions } from '../../../appliance/access/index.js';
import type { RdpTicketService } from '../../../appliance/sessions/index.js';
import { InputError, WardenError } from '../../../appliance/errors/index.js';

export interface RdpTicketRouteOptions {
  rdpTickets: RdpTicketService;
  accessDecisions: AccessDecisions;
  /** Where RDP clients reach the proxy (config rdpProxy.publicAddress). */
  publicAddress: { host: string; port: number };
}

/** How many covered targets a name is looked up among (the terminal proxy's menu reads as many). */
const LOOKUP_LIMIT = 200;

/** An id (a JSON number) or a name (a string): a device's host name or address, a credential's user name. */
const idOrName = { anyOf: [{ type: 'integer', minimum: 1, maximum: 9_999_999_999 }, { type: 'string', minLength: 1, maxLength: 253 }] } as const;

const schema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['device'],
    properties: { device: idOrName, credential: idOrName, reason: { type: 'string', maxLength: 1024 } },
  },
  querystring: { type: 'object', additionalProperties: false, properties: { format: { type: 'string', enum: ['rdp', 'json'] } } },
} as const;

interface TicketRequest {
  Body: { device: number | string; credential?: number | string; reason?: string };
  Querystring: { format?: 'rdp' | 'json' };
}

/** Not yours and not there read the same (as every /my answer). */
const notAllowed = () => new WardenError('AUTH_FORBIDDEN', 'not allowed');

/**
 * The (device, credential) ids a request names. Ids pass as they are (the decision refuses what is not the
 * user's); names are looked up among the targets the user's groups cover that offer RDP.
 */
async function resolveTarget(decisions: AccessDecisions, userId: number, body: TicketRequest['Body']): Promise<{ deviceId: number; credentialId: number }> {
  const { device, credential } = body;
  if (typeof device === 'number' && typeof credential === 'number') return { deviceId: device, credentialId: credential };
  const { targets } = await decisions.reachable(userId, { ...(typeof device === 'string' ? { text: device } : {}), limit: LOOKUP_LIMIT });
  const rdp = targets.filter((t) => t.protocols.includes('rdp'));
  let onDevice: typeof rdp;
  if (typeof device === 'number') onDevice = rdp.filter((t) => t.device.id === device);
  else {
    const named = rdp.filter((t) => t.device.hostname.toLowerCase() === device.toLowerCase());
    onDevice = named.length > 0 ? named : rdp.filter((t) => t.device.address.toLowerCase() === device.toLowerCase());
    if (new Set(onDevice.map((t) => t.device.id)).size > 1) throw new InputError(`several devices have the address ${device}: name one by its host name`, { field: 'device' });
  }
  const matches = credential === undefined ? onDevice : onDevice.filter((t) => (typeof credential === 'number' ? t.credential.id === credential : t.credential.username === credential));
  if (matches.length === 0) throw notAllowed();
  if (matches.length > 1) throw new InputError('the device has several credentials you may use: name one', { field: 'credential', credentials: matches.map((t) => t.credential.username) });
  return { deviceId: matches[0]!.device.id, credentialId: matches[0]!.credential.id };
}

/** One line of an .rdp file; a value that could end the line (or carry any control character) is refused. */
function rdpLine(key: string, type: 's' | 'i', value: string | number): string {
  const text = String(value);
  if (/[\u0000-\u001f\u007f]/.test(text)) throw new WardenError('INTERNAL', `an .rdp value for ${key} holds a control character`);
  return `${key}:${type}:${text}`;
}

/** JSON when asked by ?format=json, or by an Accept header that names JSON and not the .rdp type. */
function wantsJson(request: FastifyRequest<TicketRequest>): boolean {
  if (request.query.format) return request.query.format === 'json';
  const accept = request.headers.accept ?? '';
  return /application\/json/i.test(accept) && !/application\/x-rdp/i.test(accept);
}

export const rdpTicketRoutes: FastifyPluginAsync<RdpTicketRouteOptions> = async (app, { rdpTickets, accessDecisions, publicAddress }) => {
  app.post<TicketRequest>('/api/v1/my/sessions/rdp', { schema }, async (request, reply) => {
    const session = request.session!;
    const target = await resolveTarget(accessDecisions, session.user.id, request.body);
    const issued = await rdpTickets.issue(
      { userId: session.user.id, username: session.user.username, ip: request.clientIp, webSessionId: session.sessionId },
      { ...target, sourceIp: request.clientIp, ...(request.body.reason !== undefined ? { reason: request.body.reason } : {}) },
    );
    // A ticket is a credential for a minute: nothing on the way may keep it.
    reply.header('cache-control', 'no-store');
    if (wantsJson(request)) return { ticket: issued.ticket, expiresAt: new Date(issued.expiresAt).toISOString(), host: publicAddress.host, port: publicAddress.port };
    const file = [
      rdpLine('full address', 's', `${publicAddress.host}:${publicAddress.port}`),
      // Sent by the client in its X.224 Connection Request as the routing token: the proxy redeems it.
      rdpLine('loadbalanceinfo', 's', `tsv://warden/${issued.ticket}`),
      rdpLine('username', 's', `${session.user.username}@${issued.hostname}`),
      rdpLine('prompt for credentials', 'i', 0),
      rdpLine('authentication level', 'i', 0),
      // The proxy does not offer NLA to clients: the ticket is the authentication.
      rdpLine('enablecredsspsupport', 'i', 0),
    ].join('\r\n');
    const filename = `${issued.hostname.replace(/[^\w.-]/g, '_')}.rdp`;
    return reply.type('application/x-rdp; charset=utf-8').header('content-disposition', `attachment; filename="${filename}"`).send(`${file}\r\n`);
  });
};
