// Processes holding proxied sessions: one lease row each, renewed while the process lives. A lapsed lease is
// taken away by one conditional DELETE, so a renewal and the declaration of death cannot both win.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';
import { isUniqueViolation } from './errors.js';

type Db = Kysely<Database> | Transaction<Database>;

export class SessionHostsRepository {
  constructor(private readonly db: Db) {}

  /** Extend the lease; false if the row is gone (never made, or the process was declared dead). */
  async renew(id: string, expiresAt: number): Promise<boolean> {
    const r = await this.db.updateTable('session_hosts').set({ expires_at: expiresAt }).where('id', '=', id).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Renew the lease, or make the row: 'registered' when it had to be made. */
  async touch(id: string, now: number, expiresAt: number): Promise<'renewed' | 'registered'> {
    if (await this.renew(id, expiresAt)) return 'renewed';
    try {
      await this.db.insertInto('session_hosts').values({ id, started_at: now, expires_at: expiresAt }).execute();
    } catch (e) {
      // Two admissions of this process made it at once (MariaDB): the row is there, which is all we need.
      if (!isUniqueViolation(e) || !(await this.renew(id, expiresAt))) throw e;
      return 'renewed';
    }
    return 'registered';
  }

  /** Let the lease lapse now (a process stopping): whatever it still holds is interrupted at the next sweep. */
  async release(id: string): Promise<void> {
    await this.db.updateTable('session_hosts').set({ expires_at: 0 }).where('id', '=', id).execute();
  }

  /**
   * Declare dead the processes whose lease lapsed by `now`: their rows are deleted, each by a DELETE that
   * re-checks the lapse, so a renewal that landed first keeps its process alive. Returns the ids deleted.
   */
  async takeLapsed(now: number): Promise<string[]> {
    const lapsed = await this.db.selectFrom('session_hosts').select('id').where('expires_at', '<=', now).execute();
    const taken: string[] = [];
    for (const { id } of lapsed) {
      const r = await this.db.deleteFrom('session_hosts').where('id', '=', id).where('expires_at', '<=', now).executeTakeFirst();
      if (Number(r.numDeletedRows) === 1) taken.push(id);
    }
    return taken;
  }
}
