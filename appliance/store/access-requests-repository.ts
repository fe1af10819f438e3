// Access requests, their approvers' decisions, and the grants (approved or emergency) they become.
import type { Insertable, Kysely, Transaction, Updateable } from 'kysely';
import type { AccessRequestRow, AccessRequestsTable, Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

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

  async requestsOf(userId: number): Promise<AccessRequestRow[]> {
    return this.db.selectFrom('access_requests').selectAll().where('user_id', '=', userId).orderBy('id', 'desc').limit(500).execute();
  }

  /** Pending requests this user may decide (approver of the request's group, not the requester). */
  async pendingFor(approverId: number): Promise<AccessRequestRow[]> {
    return this.db
      .selectFrom('access_requests as r')
      .innerJoin('access_group_approvers as a', (j) => j.onRef('a.group_id', '=', 'r.group_id').on('a.user_id', '=', approverId))
      .selectAll('r')
      .where('r.status', '=', 'pending')
      .where('r.user_id', '!=', approverId)
      .orderBy('r.id')
      .execute();
  }

  /** Approved (or emergency) grants of a user that have not ended at `now`. */
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
