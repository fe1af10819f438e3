// Credential rotation on demand and the secret's versions (issue 14): the core's RotationService sets a new password on the target, proves
// it, and only then vaults it. The answer names when; a failure is ROTATION_FAILED with the reason (the old
// password stands), and the audit trail has the target's own words.
import type { FastifyPluginAsync } from 'fastify';
import type { RotationService } from '../../../appliance/rotation/index.js';
import type { CredentialService } from '../../../appliance/access/index.js';
import { actor, idParams, type IdRequest } from '../route-context.js';

/** A template object, or null to remove it (checked field by field by the core). */
const templateBody = { body: { type: ['object', 'null'] } } as const;
const typeParams = { params: { type: 'object', additionalProperties: false, required: ['type'], properties: { type: { type: 'string', minLength: 1, maxLength: 128 } } } } as const;

export interface RotationRouteOptions {
  rotation: RotationService;
  credentials: CredentialService;
}

export const rotationRoutes: FastifyPluginAsync<RotationRouteOptions> = async (app, { rotation, credentials }) => {
  // Which secret was in force when: versions with how each came (create, update, rotation) and who; no secret.
  app.get<IdRequest>('/api/v1/credentials/:id/versions', { schema: idParams, config: { permission: 'devices.read' } }, async (request) => ({
    versions: await credentials.versions(Number(request.params.id)),
  }));

  // Status control now: does the vaulted password log in on the target? Stored on the credential, audited.
  app.post<IdRequest>('/api/v1/credentials/:id/check', { schema: idParams, config: { permission: 'credentials.manage' } }, async (request) => {
    const v = await rotation.checkStatus(Number(request.params.id), actor(request));
    return { state: v.state, checkedAt: new Date(v.checkedAt).toISOString(), detail: v.detail };
  });
  app.post<IdRequest>('/api/v1/credentials/:id/rotate', { schema: idParams, config: { permission: 'credentials.manage' } }, async (request) => {
    const r = await rotation.rotate(actor(request), Number(request.params.id), 'manual');
    return { rotated: true, credentialId: r.credentialId, executor: r.executor, rotatedAt: new Date(r.rotatedAt).toISOString(), ...(r.oldKeyRevoked === undefined ? {} : { oldKeyRevoked: r.oldKeyRevoked }) };
  });
  // Reconciliation: the credential's change account sets a new password without the old one; `drift` says
  // whether the vaulted one had stopped working. INPUT_INVALID without a change account.
  app.post<IdRequest>('/api/v1/credentials/:id/reconcile', { schema: idParams, config: { permission: 'credentials.manage' } }, async (request) => {
    const r = await rotation.reconcile(actor(request), Number(request.params.id), 'manual');
    return { reconciled: true, credentialId: r.credentialId, executor: r.executor, drift: r.drift, rotatedAt: new Date(r.rotatedAt).toISOString() };
  });
  // The rotation waiting for this credential (after use, by schedule, to reconcile), or null.
  app.get<IdRequest>('/api/v1/credentials/:id/rotation', { schema: idParams, config: { permission: 'devices.read' } }, async (request) => {
    await credentials.credential(Number(request.params.id));
    return { queued: await rotation.queued(Number(request.params.id)) };
  });
  // Password templates: per device type, and one credential's own; the one a credential's next password follows.
  app.get('/api/v1/password-templates', { config: { permission: 'devices.read' } }, async () => ({ templates: await rotation.deviceTypeTemplates() }));
  app.put<{ Params: { type: string }; Body: unknown }>('/api/v1/password-templates/:type', { schema: { ...typeParams, ...templateBody }, config: { permission: 'credentials.manage' } }, async (request) => ({
    template: await rotation.setDeviceTypeTemplate(actor(request), request.params.type, request.body ?? null),
  }));
  app.delete<{ Params: { type: string } }>('/api/v1/password-templates/:type', { schema: typeParams, config: { permission: 'credentials.manage' } }, async (request) => ({
    template: await rotation.setDeviceTypeTemplate(actor(request), request.params.type, null),
  }));
  app.get<IdRequest>('/api/v1/credentials/:id/password-template', { schema: idParams, config: { permission: 'devices.read' } }, async (request) => rotation.effectiveTemplate(Number(request.params.id)));
  app.put<IdRequest & { Body: unknown }>('/api/v1/credentials/:id/password-template', { schema: { ...idParams, ...templateBody }, config: { permission: 'credentials.manage' } }, async (request) => ({
    template: await rotation.setCredentialTemplate(actor(request), Number(request.params.id), request.body ?? null),
  }));
  // Exclusive checkout: who holds a credential; the holder gives it back (a view's hold), an administrator forces it.
  app.get<IdRequest>('/api/v1/credentials/:id/checkout', { schema: idParams, config: { permission: 'devices.read' } }, async (request) => {
    await credentials.credential(Number(request.params.id));
    return { checkout: await rotation.checkoutOf(Number(request.params.id)) };
  });
  app.post<IdRequest>('/api/v1/credentials/:id/checkin', { schema: idParams, config: { permission: 'credentials.manage' } }, async (request) => rotation.checkin(actor(request), Number(request.params.id), true));
  app.post<IdRequest>('/api/v1/my/checkouts/:id/checkin', { schema: idParams }, async (request) => rotation.checkin(actor(request), Number(request.params.id), false));
};
