// A change made by an actor and its audit event, in one transaction: the helper every access service uses.
import type { Repositories } from '../store/index.js';
import type { AuditDetail, AuditDetailMember, AuditEventType, AuditTrail } from '../audit/index.js';
import { actorEvent, type Actor, type ActorEventDetail } from './user-admin.js';

export function audited<T, K extends AuditEventType>(
  audit: AuditTrail,
  event: { type: K; actor: Actor; subject: string; outcome?: 'success' | 'info' } & AuditDetailMember<K>,
  fn: (repos: Repositories) => Promise<T>,
): Promise<T> {
  // The detail was checked against K's catalogue entry at the call; a generic K cannot be narrowed here.
  const detail = (event as { detail?: AuditDetail<K> }).detail as ActorEventDetail<K>;
  return audit.withChange(actorEvent(event.type, event.actor, event.subject, detail, event.outcome), fn);
}
