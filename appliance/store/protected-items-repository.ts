// Protected information: files, tokens and certificates, sealed, each owned by a device or an access group.
import type { Insertable, Kysely, Transaction } from 'kysely';
import type { Database, ProtectedItemsTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export class ProtectedItemsRepository {
  constructor(private readonly db: Db) {}

  async insertProtected(row: Insertable<ProtectedItemsTable>): Promise<number> {
    return Number((await this.db.insertInto('protected_items').values(row).executeTakeFirstOrThrow()).insertId);
  }

  async highestProtectedId(): Promise<number> {
    return Number((await this.db.selectFrom('protected_items').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst())?.m ?? 0);
  }

  async setProtectedOwner(id: number, deviceId: number | null, groupId: number | null): Promise<void> {
    await this.db.updateTable('protected_items').set({ device_id: deviceId, group_id: groupId }).where('id', '=', id).execute();
  }

  async protectedItems() {
    return this.db.selectFrom('protected_items').select(['id', 'name', 'kind', 'filename', 'media_type', 'size', 'owner', 'device_id', 'group_id', 'created_at']).orderBy('name').execute();
  }

  async protectedItem(id: number) {
    return this.db.selectFrom('protected_items').selectAll().where('id', '=', id).executeTakeFirst();
  }
}
