// Protected information: files, tokens and certificates, sealed, each owned by a device or an access group.
import { sql, type Insertable, type Kysely, type Transaction } from 'kysely';
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

  /**
   * One page of protected items by name (descriptions, never content) and how many match: all of them
   * (`visibleTo: 'all'`, a credential manager), or those a user's enabled groups own — the group itself, or a
   * device one of them holds; optionally those whose name or file name contains `text` (without case). Each
   * with its owner's name (the device's host name or the group's name).
   */
  async pageProtected(filter: { visibleTo: 'all' | number; text?: string; limit: number; offset: number }) {
    let q = this.db.selectFrom('protected_items as p');
    const userId = filter.visibleTo;
    if (userId !== 'all') {
      q = q.where((eb) =>
        eb.or([
          eb(
            'p.group_id',
            'in',
            eb.selectFrom('access_group_users as u').innerJoin('access_groups as g', 'g.id', 'u.group_id').select('u.group_id').where('u.user_id', '=', userId).where('g.enabled', '=', true),
          ),
          eb(
            'p.device_id',
            'in',
            eb
              .selectFrom('access_group_devices as gd')
              .innerJoin('access_group_users as u', (j) => j.onRef('u.group_id', '=', 'gd.group_id').on('u.user_id', '=', userId))
              .innerJoin('access_groups as g', 'g.id', 'gd.group_id')
              .select('gd.device_id')
              .where('g.enabled', '=', true),
          ),
        ]),
      );
    }
    if (filter.text) {
      // LIKE with its wildcards escaped by '!', both sides lowered (see CredentialsRepository.pageCredentials).
      const pattern = `%${filter.text.toLowerCase().replace(/[!%_]/g, (ch) => `!${ch}`)}%`;
      q = q.where((eb) => eb.or([sql<boolean>`LOWER(${eb.ref('p.name')}) LIKE ${pattern} ESCAPE '!'`, sql<boolean>`LOWER(${eb.ref('p.filename')}) LIKE ${pattern} ESCAPE '!'`]));
    }
    const [rows, count] = await Promise.all([
      q
        .leftJoin('devices as d', 'd.id', 'p.device_id')
        .leftJoin('access_groups as g', 'g.id', 'p.group_id')
        .select(['p.id', 'p.name', 'p.kind', 'p.filename', 'p.media_type', 'p.size', 'p.owner', 'p.device_id', 'p.group_id', 'p.created_at', 'd.hostname as device_hostname', 'g.name as group_name'])
        .orderBy('p.name')
        .orderBy('p.id')
        .limit(filter.limit)
        .offset(filter.offset)
        .execute(),
      q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
    ]);
    return { rows, total: Number(count?.n ?? 0) };
  }

  async protectedItem(id: number) {
    return this.db.selectFrom('protected_items').selectAll().where('id', '=', id).executeTakeFirst();
  }
}
