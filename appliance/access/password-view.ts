// Password view: a credential's secret shown to a user the access decision allows, with a reason when the
// group requires one, and the PCI split (each user sees one half, no user both halves).
import type { Store } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import { InputError, WardenError } from '../errors/index.js';
import { requireText } from '../errors/index.js';
import type { Decision } from './decision.js';
import type { AccessDecisions } from './access-decisions.js';
import { credentialView, type CredentialService } from './credentials.js';
import type { Actor } from './user-admin.js';

export class PasswordViewService {
  constructor(private readonly deps: { store: Store; audit: AuditTrail; decisions: AccessDecisions; credentials: CredentialService; clock?: () => number }) {}

  private now(): number {
    return (this.deps.clock ?? Date.now)();
  }

  /**
   * Show a credential's secret to a user the access decision allows, with a reason when the group requires one.
   * For a split credential each user sees one half, and no user both halves.
   */
  async viewPassword(actor: Actor & { userId: number }, credentialId: number, reason: string | undefined): Promise<{ secret: string; part: 'whole' | 'first-half' | 'second-half' }> {
    const row = await this.deps.store.repos.credentials.credential(credentialId);
    const { decision: d, covered } = row
      ? await this.deps.decisions.decideIn(this.deps.store.repos, await this.deps.decisions.timeZone(), actor.userId, row.device_id, credentialId, 'password-view', this.now())
      : { decision: { outcome: 'denied', rule: 'no-such-credential' } as Decision, covered: false };
    if (d.outcome !== 'allowed') {
      await this.deps.audit.record({ type: 'vault.password_view', outcome: 'failure', actor: actor.username, actorIp: actor.ip, subject: `credential:${credentialId}`, code: 'AUTH_FORBIDDEN', detail: { rule: d.rule } });
      // Outside the user's groups, the same answer whether the credential exists or not.
      if (!covered) throw new WardenError('AUTH_FORBIDDEN', 'not allowed');
      throw new WardenError('AUTH_FORBIDDEN', d.outcome === 'approval-required' ? 'approval is required first' : `not allowed (${d.rule})`, { details: { rule: d.rule, outcome: d.outcome } });
    }
    const credential = credentialView(row!);
    const why = reason === undefined || reason === '' ? '' : requireText(reason, 'reason', { max: 1024 });
    if (d.reasonRequired && why.trim().length < 3) throw new InputError('a reason is required to view this password', { field: 'reason' });
    const secret = await this.deps.credentials.secretOf(credentialId);
    let part: 'whole' | 'first-half' | 'second-half' = 'whole';
    let shown = secret;
    if (credential.splitView) {
      const half = await this.splitHalfFor(credentialId, actor.userId);
      const cut = Math.ceil([...secret].length / 2);
      const chars = [...secret];
      shown = half === 1 ? chars.slice(0, cut).join('') : chars.slice(cut).join('');
      part = half === 1 ? 'first-half' : 'second-half';
    }
    await this.deps.audit.record({ type: 'vault.password_view', outcome: 'success', actor: actor.username, actorIp: actor.ip, subject: `credential:${credentialId}`, detail: { reason: why, part, rule: d.rule, emergency: d.emergency } });
    return { secret: shown, part };
  }

  private async splitHalfFor(credentialId: number, userId: number): Promise<1 | 2> {
    return this.deps.store.transaction(async (repos) => {
      const holders = await repos.credentials.splitHolders(credentialId);
      const mine = holders.find((h) => h.user_id === userId);
      if (mine) return mine.half as 1 | 2;
      const free = [1, 2].find((h) => !holders.some((x) => x.half === h));
      if (!free) throw new WardenError('AUTH_FORBIDDEN', 'both halves of this password are already held by two other users');
      await repos.credentials.takeSplitHalf(credentialId, free, userId, this.now());
      return free as 1 | 2;
    });
  }
}
