// Access requests, their approvers' decisions, and the grants (approved or emergency) they become.
import type { Insertable, Kysely, Transaction, Updateable } from 'kysely';
import type { AccessRequestRow, AccessRequestsTable, Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

/** A request as a list shows it: its row, who asked, for which device and credential, approvals so far. */
export type AccessRequestListRow = AccessRequestRow & { requester: string | null; hostname: string | null; credential_username: string | null; approvals: number };

export class AccessRequestsRepository {
  constructor(private readonly db: Db) {}

  async insertRequest(row: Insertable<AccessRequestsTable>): Promise<number> {
    return Number((await this.db.insertInto('access_requests').values(row).executeTakeFirstOrThrow()).insertId);
  }

  async request(id: number): Promise<AccessRequestRow | undefined> {
    return this.db.selectFrom('access_requests').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async updateRequest(id: number, patch: Updateable<AccessRequestsTable>): Promise<void> {
    await this.db.updateTable('access_requests').set(patch).where('id', '=', id).execute();
  }

  /**
   * Pending requests this user may still decide: approver of the request's group, not the requester, and not
   * decided by them yet (a request needing two approvals stays pending after the first).
   */
  private pendingForQuery(approverId: number) {
    return this.db
      .selectFrom('access_requests as r')
      .innerJoin('access_group_approvers as a', (j) => j.onRef('a.group_id', '=', 'r.group_id').on('a.user_id', '=', approverId))
      .where('r.status', '=', 'pending')
      .where('r.user_id', '!=', approverId)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('access_request_decisions as x').select('x.request_id').whereRef('x.request_id', '=', 'r.id').where('x.approver_id', '=', approverId))));
  }

  async pendingFor(approverId: number): Promise<AccessRequestRow[]> {
    return this.pendingForQuery(approverId).selectAll('r').orderBy('r.id').execute();
  }

  async countPendingFor(approverId: number): Promise<number> {
    return Number((await this.pendingForQuery(approverId).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst())?.n ?? 0);
  }

  /** One page of pendingFor, oldest first, with the names a person reads, and how many there are. */
  async pagePendingFor(approverId: number, page: { limit: number; offset: number }): Promise<{ rows: AccessRequestListRow[]; total: number }> {
    const q = this.pendingForQuery(approverId);
    const [ids, count] = await Promise.all([
      q.select('r.id').orderBy('r.id').limit(page.limit).offset(page.offset).execute(),
      q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
    ]);
    return { rows: await this.listRows(ids.map((r) => r.id)), total: Number(count?.n ?? 0) };
  }

  /** One page of a user's own requests, newest first (optionally of one status), with names, and how many. */
  async pageRequestsOf(userId: number, page: { status?: AccessRequestRow['status']; limit: number; offset: number }): Promise<{ rows: AccessRequestListRow[]; total: number }> {
    let q = this.db.selectFrom('access_requests as r').where('r.user_id', '=', userId);
    if (page.status) q = q.where('r.status', '=', page.status);
    const [ids, count] = await Promise.all([
      q.select('r.id').orderBy('r.id', 'desc').limit(page.limit).offset(page.offset).execute(),
      q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
    ]);
    return { rows: await this.listRows(ids.map((r) => r.id)), total: Number(count?.n ?? 0) };
  }

  /** These requests (in this order) with the requester's, device's and credential's names and their approvals so far: one query. */
  private async listRows(ids: number[]): Promise<AccessRequestListRow[]> {
    if (ids.length === 0) return [];
    const rows = await this.db
      .selectFrom('access_requests as r')
      .leftJoin('users as u', 'u.id', 'r.user_id')
      .leftJoin('devices as d', 'd.id', 'r.device_id')
      .leftJoin('credentials as c', 'c.id', 'r.credential_id')
      .selectAll('r')
      .select(['u.username as requester', 'd.hostname as hostname', 'c.username as credential_username'])
      .select((eb) =>
        eb
          .selectFrom('access_request_decisions as ad')
          .select((e) => e.fn.countAll<number>().as('n'))
          .whereRef('ad.request_id', '=', 'r.id')
          .where('ad.decision', '=', 'approve')
          .as('approvals'),
      )
      .where('r.id', 'in', ids)
      .execute();
    const byId = new Map(rows.map((r) => [r.id, { ...r, approvals: Number(r.approvals ?? 0) }]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  /** Approved (or emergency) grants of a user that have not ended at `now`. */
  /** A user's pending requests (still running at `now`) for any of these credentials, for one purpose. */
  async pendingRequestsOf(userId: number, credentialIds: readonly number[], purpose: AccessRequestRow['purpose'], now: number): Promise<{ id: number; credential_id: number; approvals_needed: number }[]> {
    if (credentialIds.length === 0) return [];
    return this.db
      .selectFrom('access_requests')
      .select(['id', 'credential_id', 'approvals_needed'])
      .where('user_id', '=', userId)
      .where('status', '=', 'pending')
      .where('purpose', '=', purpose)
      .where('ends_at', '>', now)
      .where('credential_id', 'in', [...credentialIds])
      .orderBy('id')
      .execute();
  }

  async activeGrants(userId: number, now: number): Promise<AccessRequestRow[]> {
    return this.db.selectFrom('access_requests').selectAll().where('user_id', '=', userId).where('status', '=', 'approved').where('ends_at', '>', now).execute();
  }

  /** Approved grants whose period ended in (after, until], in the order they ended. */
  async grantsEndedBetween(after: number, until: number): Promise<AccessRequestRow[]> {
    return this.db.selectFrom('access_requests').selectAll().where('status', '=', 'approved').where('ends_at', '>', after).where('ends_at', '<=', until).orderBy('ends_at').orderBy('id').execute();
  }

  async decisions(requestId: number) {
    return this.db.selectFrom('access_request_decisions').selectAll().where('request_id', '=', requestId).execute();
  }

  async insertDecision(row: { request_id: number; approver_id: number; decision: 'approve' | 'deny'; comment: string; decided_at: number }): Promise<void> {
    await this.db.insertInto('access_request_decisions').values(row).execute();
  }
}
