// The vault and the access policy over HTTP: devices (and CSV import), credentials, pinned host keys,
// protected information, access groups, the user's reachable devices and decisions, access requests and
// approvals, password view. Decisions are the appliance's; this file maps them to HTTP.
import type { FastifyPluginAsync } from 'fastify';
import type {
  AccessDecisions,
  AccessGroupService,
  AccessRequestService,
  ConnectivityService,
  CredentialService,
  DeviceService,
  HostKeyService,
  MemberKind,
  PasswordViewService,
  ProtectedItemService,
  Purpose,
  ReachableTarget,
} from '../../../appliance/access/index.js';
import { MEMBER_KINDS, can } from '../../../appliance/access/index.js';
import { InputError } from '../../../appliance/errors/index.js';
import { DEFAULT_PAGE, MAX_PAGE, pageLimit } from '../query.js';
import { actor, idParams, type IdRequest } from '../route-context.js';

const objectBody = { body: { type: 'object' } } as const;

/** The console's list paging: `?q=&limit=&offset=`, a page of 50 unless asked, at most 500 (../query.ts). */
type PageQuery = { q?: string; limit?: string; offset?: string };

/** `text: false`: a list without a text filter (then `q` is refused like any unknown parameter). */
function pageQuerySchema(extra: Record<string, object> = {}, opts: { text?: boolean } = {}) {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...(opts.text === false ? {} : { q: { type: 'string', maxLength: 253 } }),
      limit: { type: 'string', pattern: '^[1-9][0-9]{0,2}$' },
      offset: { type: 'string', pattern: '^[0-9]{1,7}$' },
      ...extra,
    },
  } as const;
}

function page(query: PageQuery, defaultLimit = DEFAULT_PAGE): { text: string; limit: number; offset: number } {
  return { text: (query.q ?? '').trim(), limit: pageLimit(query.limit, defaultLimit), offset: Number(query.offset ?? 0) };
}

export interface AccessRouteOptions {
  devices: DeviceService;
  credentials: CredentialService;
  hostKeys: HostKeyService;
  protectedItems: ProtectedItemService;
  accessGroups: AccessGroupService;
  accessDecisions: AccessDecisions;
  accessRequests: AccessRequestService;
  passwordView: PasswordViewService;
  connectivity: ConnectivityService;
  /** Where SSH clients reach the terminal proxy (web.publicHost, terminalProxy.port): the console's "ssh" line. */
  sshProxy: { host: string; port: number };
}

export const accessRoutes: FastifyPluginAsync<AccessRouteOptions> = async (app, { devices, credentials, hostKeys, protectedItems, accessGroups, accessDecisions, accessRequests, passwordView, connectivity, sshProxy }) => {

  // ---- devices
  app.get<{ Querystring: PageQuery & { unreachable?: 'true' } }>(
    '/api/v1/devices',
    { config: { permission: 'devices.read' }, schema: { querystring: pageQuerySchema({ unreachable: { type: 'string', enum: ['true'] } }) } },
    async (request) => {
      const { text, limit, offset } = page(request.query);
      return { ...(await devices.pageDevices({ ...(text ? { text } : {}), unreachable: request.query.unreachable === 'true', limit, offset })), limit, offset };
    },
  );
  app.post('/api/v1/devices', { schema: objectBody, config: { permission: 'devices.manage' } }, async (request, reply) => {
    reply.code(201);
    return { device: await devices.createDevice(actor(request), request.body) };
  });
  app.get<IdRequest>('/api/v1/devices/:id', { schema: idParams, config: { permission: 'devices.read' } }, async (request) => ({
    device: await devices.device(Number(request.params.id)),
    credentials: await credentials.listCredentials({ deviceId: Number(request.params.id) }),
    connectivity: await connectivity.lastResults(Number(request.params.id)),
  }));
  app.put<IdRequest>('/api/v1/devices/:id', { schema: { ...idParams, ...objectBody }, config: { permission: 'devices.manage' } }, async (request) => ({
    device: await devices.updateDevice(actor(request), Number(request.params.id), request.body),
  }));
  for (const [name, status] of [['disable', 'disabled'], ['enable', 'active']] as const) {
    app.post<IdRequest>(`/api/v1/devices/:id/${name}`, { schema: idParams, config: { permission: 'devices.manage' } }, async (request) => ({
      device: await devices.setDeviceStatus(actor(request), Number(request.params.id), status),
    }));
  }
  app.post<{ Body: { csv: string; update?: boolean } }>(
    '/api/v1/devices/import',
    {
      config: { permission: 'devices.manage' },
      // Imports may be large: up to 8 MiB of CSV, above the API's usual body limit.
      bodyLimit: 8 * 1024 * 1024 + 1024,
      // update: a row whose host name exists changes that device instead of being refused as taken.
      schema: { body: { type: 'object', additionalProperties: false, required: ['csv'], properties: { csv: { type: 'string', maxLength: 8 * 1024 * 1024 }, update: { type: 'boolean' } } } },
    },
    async (request) => devices.importDevices(actor(request), request.body.csv, { update: request.body.update === true }),
  );
  app.get<IdRequest>('/api/v1/devices/:id/host-keys', { schema: idParams, config: { permission: 'devices.read' } }, async (request) => ({
    hostKeys: await hostKeys.hostKeys(Number(request.params.id)),
  }));
  app.post<{ Params: { id: string; protocol: 'ssh' | 'rdp' | 'mysql' | 'ldap' } }>(
    '/api/v1/devices/:id/host-keys/:protocol/reset',
    {
      config: { permission: 'devices.manage' },
      schema: { params: { type: 'object', additionalProperties: false, required: ['id', 'protocol'], properties: { id: { type: 'string', pattern: '^[1-9][0-9]{0,9}$' }, protocol: { type: 'string', enum: ['ssh', 'rdp', 'mysql', 'ldap'] } } } },
    },
    async (request) => ({ reset: await hostKeys.resetHostKey(actor(request), Number(request.params.id), request.params.protocol) }),
  );

  // "Check now": audited as the person's act (device.connectivity_check), with the port results in its transaction.
  app.post<IdRequest>('/api/v1/devices/:id/connectivity/check', { schema: idParams, config: { permission: 'devices.manage' } }, async (request) => ({
    results: await connectivity.checkNow(actor(request), Number(request.params.id)),
  }));

  // ---- credentials
  app.get<{ Querystring: PageQuery & { device?: string } }>(
    '/api/v1/credentials',
    { config: { permission: 'devices.read' }, schema: { querystring: pageQuerySchema({ device: { type: 'string', pattern: '^[1-9][0-9]{0,9}$' } }) } },
    async (request) => {
      const deviceId = request.query.device ? Number(request.query.device) : undefined;
      // One device's credentials are a handful: asked by device, the page holds them all unless told otherwise.
      const { text, limit, offset } = page(request.query, deviceId === undefined ? DEFAULT_PAGE : MAX_PAGE);
      const found = await credentials.pageCredentials({ ...(deviceId !== undefined ? { deviceId } : {}), ...(text ? { text } : {}), limit, offset });
      // Whoever may view passwords reads, per credential, where they stand with viewing it now (the page only).
      const me = request.session!.user;
      if (!can(me.profile, 'passwords.view')) return { ...found, limit, offset };
      const states = await passwordView.viewStates(me.id, found.credentials);
      return { credentials: found.credentials.map((c) => ({ ...c, passwordView: states.get(c.id) ?? { state: 'unavailable' } })), total: found.total, limit, offset };
    },
  );
  app.post('/api/v1/credentials', { schema: objectBody, config: { permission: 'credentials.manage' } }, async (request, reply) => {
    reply.code(201);
    return { credential: await credentials.createCredential(actor(request), request.body) };
  });
  app.get<IdRequest>('/api/v1/credentials/:id', { schema: idParams, config: { permission: 'devices.read' } }, async (request) => ({ credential: await credentials.credential(Number(request.params.id)) }));
  app.put<IdRequest>('/api/v1/credentials/:id', { schema: { ...idParams, ...objectBody }, config: { permission: 'credentials.manage' } }, async (request) => ({
    credential: await credentials.updateCredential(actor(request), Number(request.params.id), request.body),
  }));
  for (const [name, status] of [['disable', 'disabled'], ['enable', 'active']] as const) {
    app.post<IdRequest>(`/api/v1/credentials/:id/${name}`, { schema: idParams, config: { permission: 'credentials.manage' } }, async (request) => ({
      credential: await credentials.setCredentialStatus(actor(request), Number(request.params.id), status),
    }));
  }
  app.post<IdRequest & { Body: { reason?: string } }>(
    '/api/v1/credentials/:id/view',
    {
      config: { permission: 'passwords.view' },
      schema: { ...idParams, body: { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', maxLength: 1024 } } } },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return passwordView.viewPassword(actor(request), Number(request.params.id), request.body?.reason);
    },
  );

  // ---- protected information
  app.get<{ Querystring: PageQuery }>('/api/v1/protected', { config: { permission: 'passwords.view' }, schema: { querystring: pageQuerySchema() } }, async (request) => {
    const { text, limit, offset } = page(request.query);
    const { files, total } = await protectedItems.pageProtected(request.session!.user.id, { ...(text ? { text } : {}), limit, offset });
    // `items`: the same page under the name this list had before it paged, for callers written then.
    return { files, items: files, total, limit, offset };
  });
  app.post(
    '/api/v1/protected',
    { schema: objectBody, bodyLimit: 15 * 1024 * 1024, config: { permission: 'credentials.manage' } },
    async (request, reply) => {
      reply.code(201);
      return protectedItems.storeProtected(actor(request), request.body);
    },
  );
  app.put<IdRequest>('/api/v1/protected/:id/owner', { schema: { ...idParams, ...objectBody }, config: { permission: 'credentials.manage' } }, async (request) => ({
    item: await protectedItems.setProtectedOwner(actor(request), Number(request.params.id), request.body),
  }));
  app.post<IdRequest & { Body: { reason: string } }>(
    '/api/v1/protected/:id/download',
    {
      config: { permission: 'passwords.view' },
      schema: { ...idParams, body: { type: 'object', additionalProperties: false, required: ['reason'], properties: { reason: { type: 'string', maxLength: 1024 } } } },
    },
    async (request, reply) => {
      const item = await protectedItems.openProtected(actor(request), Number(request.params.id), request.body.reason);
      const safeName = item.filename.replace(/[^\w.\- ]/g, '_');
      // openProtected gives only a valid media type (a bad stored one reads as application/octet-stream).
      return reply.type(item.mediaType).header('content-disposition', `attachment; filename="${safeName}"`).header('cache-control', 'no-store').send(item.content);
    },
  );

  // ---- access groups
  app.get<{ Querystring: PageQuery }>('/api/v1/access-groups', { config: { permission: 'access.manage' }, schema: { querystring: pageQuerySchema() } }, async (request) => {
    const { text, limit, offset } = page(request.query);
    return { ...(await accessGroups.pageGroups({ ...(text ? { text } : {}), limit, offset })), limit, offset };
  });
  app.post('/api/v1/access-groups', { schema: objectBody, config: { permission: 'access.manage' } }, async (request, reply) => {
    reply.code(201);
    return { group: await accessGroups.saveGroup(actor(request), request.body) };
  });
  app.get<IdRequest>('/api/v1/access-groups/:id', { schema: idParams, config: { permission: 'access.manage' } }, async (request) => ({ group: await accessGroups.group(Number(request.params.id)) }));
  app.put<IdRequest>('/api/v1/access-groups/:id', { schema: { ...idParams, ...objectBody }, config: { permission: 'access.manage' } }, async (request) => ({
    group: await accessGroups.saveGroup(actor(request), request.body, Number(request.params.id)),
  }));
  // The group page's own calls: settings without the members, one page of members of one kind, one member
  // added or removed at a time (the whole-group PUT above sends every member; a group may hold thousands).
  app.get<IdRequest>('/api/v1/access-groups/:id/summary', { schema: idParams, config: { permission: 'access.manage' } }, async (request) => ({
    group: await accessGroups.summary(Number(request.params.id)),
    // Time windows are read on the appliance's clock: the editor says which one.
    timeZone: await accessDecisions.timeZone(),
  }));
  app.patch<IdRequest>('/api/v1/access-groups/:id', { schema: { ...idParams, ...objectBody }, config: { permission: 'access.manage' } }, async (request) => ({
    group: await accessGroups.updateSettings(actor(request), Number(request.params.id), request.body),
  }));
  const kindParam = { type: 'string', enum: [...MEMBER_KINDS] } as const;
  const idPattern = { type: 'string', pattern: '^[1-9][0-9]{0,9}$' } as const;
  app.get<{ Params: { id: string; kind: MemberKind }; Querystring: PageQuery }>(
    '/api/v1/access-groups/:id/members/:kind',
    {
      config: { permission: 'access.manage' },
      schema: { params: { type: 'object', additionalProperties: false, required: ['id', 'kind'], properties: { id: idPattern, kind: kindParam } }, querystring: pageQuerySchema() },
    },
    async (request) => {
      const { text, limit, offset } = page(request.query);
      return { ...(await accessGroups.pageMembers(Number(request.params.id), request.params.kind, { ...(text ? { text } : {}), limit, offset })), limit, offset };
    },
  );
  for (const [method, change] of [['PUT', 'add'], ['DELETE', 'remove']] as const) {
    app.route<{ Params: { id: string; kind: MemberKind; memberId: string } }>({
      method,
      url: '/api/v1/access-groups/:id/members/:kind/:memberId',
      config: { permission: 'access.manage' },
      schema: { params: { type: 'object', additionalProperties: false, required: ['id', 'kind', 'memberId'], properties: { id: idPattern, kind: kindParam, memberId: idPattern } } },
      handler: async (request) => accessGroups.changeMember(actor(request), Number(request.params.id), request.params.kind, Number(request.params.memberId), change),
    });
  }
  app.get<IdRequest>('/api/v1/access-groups/:id/command-rules', { schema: idParams, config: { permission: 'access.manage' } }, async (request) => ({
    commandRules: await accessGroups.commandRules(Number(request.params.id)),
  }));
  app.post<IdRequest>('/api/v1/access-groups/:id/command-rules/test', { schema: { ...idParams, ...objectBody }, config: { permission: 'access.manage' } }, async (request) =>
    accessGroups.testCommand(Number(request.params.id), request.body),
  );
  app.put<IdRequest>('/api/v1/access-groups/:id/command-rules', { schema: { ...idParams, ...objectBody }, config: { permission: 'access.manage' } }, async (request) => ({
    commandRules: await accessGroups.setCommandRules(actor(request), Number(request.params.id), request.body),
  }));

  // ---- the user's side: what may I reach, and asking for more
  app.get<{ Querystring: { q?: string; limit?: string; offset?: string } }>(
    '/api/v1/my/devices',
    {
      schema: {
        // Query values are strings (the API coerces no types): digits only, as every paged list.
        querystring: pageQuerySchema(),
      },
    },
    async (request) => {
      const { text, limit, offset } = page(request.query);
      const { more, targets } = await accessDecisions.reachable(request.session!.user.id, { ...(text ? { text } : {}), limit, offset });
      // The page's targets grouped by device, in the page's order (by host name).
      const devices = new Map<number, ReachableTarget['device'] & { credentials: (ReachableTarget['credential'] & Pick<ReachableTarget, 'protocols' | 'states'>)[] }>();
      for (const t of targets) {
        const d = devices.get(t.device.id) ?? { ...t.device, credentials: [] };
        d.credentials.push({ ...t.credential, protocols: t.protocols, states: t.states });
        devices.set(t.device.id, d);
      }
      return { offset, more, devices: [...devices.values()], sshProxy };
    },
  );
  app.get<{ Querystring: { device: string; credential: string; purpose: Purpose } }>(
    '/api/v1/my/decision',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['device', 'credential', 'purpose'],
          properties: { device: { type: 'string', pattern: '^[1-9][0-9]{0,9}$' }, credential: { type: 'string', pattern: '^[1-9][0-9]{0,9}$' }, purpose: { type: 'string', enum: ['ssh', 'rdp', 'password-view'] } },
        },
      },
    },
    async (request) => ({ decision: await accessDecisions.decideForUser(request.session!.user.id, Number(request.query.device), Number(request.query.credential), request.query.purpose) }),
  );
  app.post('/api/v1/access-requests', { schema: objectBody }, async (request, reply) => {
    reply.code(201);
    return { request: await accessRequests.requestAccess(actor(request), request.body) };
  });
  app.get<{ Querystring: Omit<PageQuery, 'q'> & { status?: 'pending' | 'approved' | 'denied' | 'cancelled' } }>(
    '/api/v1/access-requests',
    { schema: { querystring: pageQuerySchema({ status: { type: 'string', enum: ['pending', 'approved', 'denied', 'cancelled'] } }, { text: false }) } },
    async (request) => {
      const { limit, offset } = page(request.query);
      const status = request.query.status;
      return { ...(await accessRequests.pageMyRequests(request.session!.user.id, { ...(status ? { status } : {}), limit, offset })), limit, offset };
    },
  );
  app.get<{ Querystring: Omit<PageQuery, 'q'> }>('/api/v1/access-requests/inbox', { schema: { querystring: pageQuerySchema({}, { text: false }) } }, async (request) => {
    const { limit, offset } = page(request.query);
    return { ...(await accessRequests.pageToDecide(request.session!.user.id, { limit, offset })), limit, offset };
  });
  for (const decision of ['approve', 'deny'] as const) {
    app.post<IdRequest & { Body: { comment?: string } }>(
      `/api/v1/access-requests/:id/${decision}`,
      { schema: { ...idParams, body: { type: 'object', additionalProperties: false, properties: { comment: { type: 'string', maxLength: 1024 } } } } },
      async (request) => {
        if (request.body === undefined || request.body === null) throw new InputError('a JSON body is required ({} is fine)');
        return { request: await accessRequests.decideRequest(actor(request), Number(request.params.id), decision, request.body.comment ?? '') };
      },
    );
  }
};
