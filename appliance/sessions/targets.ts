// From a login name's "credential@device" to the one target it means, among those the user's groups cover
// for one protocol: the same list the SSH menu shows (AccessDecisions.reachable). This only finds the target;
// whether the user may use it now is SessionService.open's one decision. Shared by every proxy.
import { isIP } from 'node:net';
import type { AccessDecisions, ReachableTarget, TargetState } from '../access/index.js';

export type Resolution = { ok: true; target: ReachableTarget } | { ok: false; message: string };

/** How many covered targets one lookup or one menu page reads at most. */
export const LIST_LIMIT = 200;

/** The targets of one protocol the user's groups cover, filtered by text, with their state now. */
export async function protocolTargets(decisions: AccessDecisions, userId: number, protocol: 'ssh' | 'rdp', text?: string): Promise<{ targets: ReachableTarget[]; more: boolean }> {
  const { targets, more } = await decisions.reachable(userId, { ...(text ? { text } : {}), limit: LIST_LIMIT });
  return { targets: targets.filter((t) => t.protocols.includes(protocol)), more };
}

export function targetState(t: ReachableTarget, protocol: 'ssh' | 'rdp'): TargetState['state'] {
  return t.states[protocol]?.state ?? 'unavailable';
}

function sameAddress(a: string, b: string): boolean {
  if (isIP(a) === 0 || isIP(b) === 0) return false;
  return a.toLowerCase() === b.toLowerCase();
}

export async function resolveTarget(decisions: AccessDecisions, userId: number, protocol: 'ssh' | 'rdp', spec: { device: string; credentialUser: string | null }): Promise<Resolution> {
  const { targets } = await protocolTargets(decisions, userId, protocol, spec.device);
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
