// The menu a user sees when they log in without naming a target: what they may use now and in what state,
// filtered by what they type, picked by number. A target that needs approval says so and lets them file the
// request here; one that needs a reason asks for it. The menu only chooses: SessionService.open decides.
import type { Appliance } from '../../appliance/index.js';
import type { ReachableTarget } from '../../appliance/access/index.js';
import { isWardenError } from '../../appliance/errors/index.js';
import type { ProxyPerson } from './authenticator.js';
import type { LineReader } from './line-reader.js';
import { protocolTargets, targetState, STATE_TEXT } from '../../appliance/sessions/index.js';

export interface MenuChoice {
  target: ReachableTarget;
  reason?: string;
}

const MAX_TRIES = 50;

function table(targets: ReachableTarget[]): string {
  const width = Math.min(40, Math.max(10, ...targets.map((t) => t.credential.username.length + 1 + t.device.hostname.length)));
  return targets
    .map((t, i) => `  ${String(i + 1).padStart(3)}  ${`${t.credential.username}@${t.device.hostname}`.padEnd(width)}  ${t.device.address.padEnd(15)}  ${STATE_TEXT[targetState(t, 'ssh')]}`)
    .join('\r\n');
}

export async function runMenu(appliance: Appliance, person: ProxyPerson, source: string, io: LineReader, write: (text: string) => void): Promise<MenuChoice | null> {
  let filter = '';
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const { targets, more } = await protocolTargets(appliance.accessDecisions, person.userId, 'ssh', filter || undefined);
    write(`\r\nWarden: devices ${person.username} may use${filter ? ` matching "${filter}"` : ''}:\r\n`);
    write(targets.length ? `${table(targets)}\r\n` : '  (none)\r\n');
    if (more) write('  ... more: type part of a name to narrow the list\r\n');
    const line = await io.read('Type to filter, a number to pick, q to quit: ');
    if (line === null) return null;
    const text = line.trim();
    if (text === 'q' || text === 'quit' || text === 'exit') return null;
    if (!/^\d+$/.test(text)) {
      filter = text.slice(0, 100);
      continue;
    }
    const target = targets[Number(text) - 1];
    if (!target) {
      write(`No entry ${text}.\r\n`);
      continue;
    }
    const state = targetState(target, 'ssh');
    if (state === 'allowed') return { target };
    if (state === 'reason-required') {
      const reason = await io.read('A reason is required for this device: ');
      if (reason === null) return null;
      if (reason.trim() === '') continue;
      return { target, reason: reason.trim() };
    }
    if (state === 'needs-approval') {
      write(`${target.credential.username}@${target.device.hostname} needs an approved request. File one here (or on the web, under My requests).\r\n`);
      const reason = await io.read('Reason for the request (empty to cancel): ');
      if (reason === null) return null;
      if (reason.trim() === '') continue;
      try {
        const r = await appliance.accessRequests.requestAccess({ username: person.username, ip: source, userId: person.userId }, { deviceId: target.device.id, credentialId: target.credential.id, purpose: 'session', reason: reason.trim() });
        write(`Request ${r.id} filed: you can connect once it is approved.\r\n`);
      } catch (e) {
        write(`The request was not filed: ${isWardenError(e) ? e.message : 'an error occurred'}.\r\n`);
      }
      continue;
    }
    write(`${target.credential.username}@${target.device.hostname} is ${STATE_TEXT[state]} now.\r\n`);
  }
  return null;
}
