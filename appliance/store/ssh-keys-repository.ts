// SSH public keys registered by users for the terminal proxy.
import type { Insertable, Kysely, Transaction } from 'kysely';
import type { Database, UserSshKeysTable, UserSshKeyRow } from './schema.js';
import { isUniqueViolation } from './errors.js';

type Db = Kysely<Database> | Transaction<Database>;

export class SshKeysRepository {
  constructor(private readonly db: Db) {}

  /** Insert a key; undefined (nothing written) when the user already has a key with this fingerprint. */
  async insert(row: Insertable<UserSshKeysTable>): Promise<number | undefined> {
    try {
      return Number((await this.db.insertInto('user_ssh_keys').values(row).executeTakeFirstOrThrow()).insertId);
    } catch (e) {
      if (isUniqueViolation(e, { table: 'user_ssh_keys' })) return undefined;
      throw e;
    }
  }

  async forUser(userId: number): Promise<UserSshKeyRow[]> {
    return this.db.selectFrom('user_ssh_keys').selectAll().where('user_id', '=', userId).orderBy('id').execute();
  }

  async byFingerprint(userId: number, fingerprint: string): Promise<UserSshKeyRow | undefined> {
    return this.db.selectFrom('user_ssh_keys').selectAll().where('user_id', '=', userId).where('fingerprint', '=', fingerprint).executeTakeFirst();
  }

  async byId(userId: number, id: number): Promise<UserSshKeyRow | undefined> {
    return this.db.selectFrom('user_ssh_keys').selectAll().where('user_id', '=', userId).where('id', '=', id).executeTakeFirst();
  }

  async delete(userId: number, id: number): Promise<boolean> {
    const r = await this.db.deleteFrom('user_ssh_keys').where('user_id', '=', userId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  }

  /** Mark a key used, if it is still registered: the check a login's admission makes, in one statement. */
  async markUsed(userId: number, fingerprint: string, now: number): Promise<boolean> {
    const r = await this.db.updateTable('user_ssh_keys').set({ last_used_at: now }).where('user_id', '=', userId).where('fingerprint', '=', fingerprint).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
}
