// From a login name's "credential@device" to the one target it means, among those the user's groups cover:
// the same list the menu shows (AccessDecisions.reachable). This only finds the target; whether the user
// may use it now is SessionService.open's one decision.
import { isIP } from 'node:net';
import type { Appliance } from '../../appliance/index.js';
import type { ReachableTarget, TargetState } from '../../appliance/access/index.js';

export type Resolution = { ok: true; target: ReachableTarget } | { ok: false; message: string };

/** How many covered targets one lookup or one menu page reads at most. */
export const LIST_LIMIT = 200;

/** The SSH targets the user's groups cover, filtered by text, with their SSH state now. */
export async function sshTargets(appliance: Appliance, userId: number, text?: string): Promise<{ targets: ReachableTarget[]; more: boolean }> {
  const { targets, more } = await appliance.accessDecisions.reachable(userId, { ...(text ? { text } : {}), limit: LIST_LIMIT });
  return { targets: targets.filter((t) => t.protocols.includes('ssh')), more };
}

export function sshState(t: ReachableTarget): TargetState['state'] {
  return t.states.ssh?.state ?? 'unavailable';
}

function sameAddress(a: string, b: string): boolean {
  if (isIP(a) === 0 || isIP(b) === 0) return false;
  return a.toLowerCase() === b.toLowerCase();
}

export async function resolveTarget(appliance: Appliance, userId: number, spec: { device: string; credentialUser: string | null }): Promise<Resolution> {
  const { targets } = await sshTargets(appliance, userId, spec.device);
  // One answer for "no such device" and "not yours": the reply reveals neither existence nor groups.
  const notFound: Resolution = { ok: false, message: `${spec.credentialUser ? `${spec.credentialUser}@` : ''}${spec.device} is not available to you.` };
  const byName = targets.filter((t) => t.device.hostname.toLowerCase() === spec.device.toLowerCase());
  const onDevice = byName.length > 0 ? byName : targets.filter((t) => sameAddress(t.device.address, spec.device));
  if (new Set(onDevice.map((t) => t.device.id)).size > 1) return { ok: false, message: `Several devices have the address ${spec.device}: name one by its host name.` };
  const matches = spec.credentialUser === null ? onDevice : onDevice.filter((t) => t.credential.username === spec.credentialUser);
  if (matches.length === 0) return notFound;
  if (matches.length > 1) {
    const names = matches.map((t) => t.credential.username).join(', ');
    return { ok: false, message: `${spec.device} has several credentials you may use (${names}): name one, as USER:CREDENTIAL@${spec.device}.` };
  }
  return { ok: true, target: matches[0]! };
}

export const STATE_TEXT: Record<TargetState['state'], string> = {
  allowed: 'allowed',
  'reason-required': 'reason required',
  'needs-approval': 'needs approval',
  'outside-window': 'outside its time window',
  unavailable: 'not available',
};
