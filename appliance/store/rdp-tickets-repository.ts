// One-time RDP tickets (see migration 0016): issued by the web, redeemed once by the RDP proxy.
import type { Insertable, Kysely, Transaction } from 'kysely';
import type { Database, RdpTicketsTable, RdpTicketRow } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export class RdpTicketsRepository {
  constructor(private readonly db: Db) {}

  async insert(row: Insertable<RdpTicketsTable>): Promise<number> {
    return Number((await this.db.insertInto('rdp_tickets').values(row).executeTakeFirstOrThrow()).insertId);
  }

  async byHash(ticketHash: string): Promise<RdpTicketRow | undefined> {
    return this.db.selectFrom('rdp_tickets').selectAll().where('ticket_hash', '=', ticketHash).executeTakeFirst();
  }

  /**
   * Mark a ticket used if nobody has: the claim is this one statement, so of two redemptions (in any two
   * processes, on either engine) exactly one sees `true`.
   */
  async claim(id: number, now: number): Promise<boolean> {
    const r = await this.db.updateTable('rdp_tickets').set({ used_at: now }).where('id', '=', id).where('used_at', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Forget tickets that had expired by `at` (used or not); returns how many. */
  async purgeExpired(at: number): Promise<number> {
    const r = await this.db.deleteFrom('rdp_tickets').where('expires_at', '<=', at).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Tickets of a user not yet used nor expired at `now`. */
  async outstanding(userId: number, now: number): Promise<number> {
    const r = await this.db
      .selectFrom('rdp_tickets')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', userId)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }
}
