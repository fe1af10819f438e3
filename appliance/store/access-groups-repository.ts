// Access groups and their members (users, approvers, devices, credentials), and the queries the access
// decision reads through them: a user's groups for one target, the targets a user's groups cover.
import { sql, type Insertable, type Kysely, type Transaction, type Updateable } from 'kysely';
import type { AccessGroupRow, AccessGroupsTable, Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;
export type MemberTable = 'access_group_users' | 'access_group_approvers' | 'access_group_devices' | 'access_group_credentials';

function memberColumn(table: MemberTable): 'device_id' | 'credential_id' | 'user_id' {
  return table === 'access_group_devices' ? 'device_id' : table === 'access_group_credentials' ? 'credential_id' : 'user_id';
}

export class AccessGroupsRepository {
  constructor(private readonly db: Db) {}

  async groups(): Promise<AccessGroupRow[]> {
    return this.db.selectFrom('access_groups').selectAll().orderBy('name').execute();
  }

  /**
   * One page of groups by name, those whose name contains `text` (without case) when given, each with how
   * many users, approvers, devices and credentials it holds (not who: a group may cover thousands), and how
   * many groups match.
   */
  async pageGroups(filter: { text?: string; limit: number; offset: number }): Promise<{ rows: (AccessGroupRow & { users: number; approvers: number; devices: number; credentials: number })[]; total: number }> {
    let q = this.db.selectFrom('access_groups as g');
    if (filter.text) {
      // LIKE with its wildcards escaped by '!', both sides lowered (see coveredTargets).
      const pattern = `%${filter.text.toLowerCase().replace(/[!%_]/g, (ch) => `!${ch}`)}%`;
      q = q.where((eb) => sql<boolean>`LOWER(${eb.ref('g.name')}) LIKE ${pattern} ESCAPE '!'`);
    }
    const [rows, count] = await Promise.all([
      q
        .selectAll('g')
        .select((eb) => [
          eb.selectFrom('access_group_users as m').select((e) => e.fn.countAll<number>().as('n')).whereRef('m.group_id', '=', 'g.id').as('users'),
          eb.selectFrom('access_group_approvers as m').select((e) => e.fn.countAll<number>().as('n')).whereRef('m.group_id', '=', 'g.id').as('approvers'),
          eb.selectFrom('access_group_devices as m').select((e) => e.fn.countAll<number>().as('n')).whereRef('m.group_id', '=', 'g.id').as('devices'),
          eb.selectFrom('access_group_credentials as m').select((e) => e.fn.countAll<number>().as('n')).whereRef('m.group_id', '=', 'g.id').as('credentials'),
        ])
        .orderBy('g.name')
        .limit(filter.limit)
        .offset(filter.offset)
        .execute(),
      q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
    ]);
    return {
      rows: rows.map((r) => ({ ...r, users: Number(r.users ?? 0), approvers: Number(r.approvers ?? 0), devices: Number(r.devices ?? 0), credentials: Number(r.credentials ?? 0) })),
      total: Number(count?.n ?? 0),
    };
  }

  async group(id: number): Promise<AccessGroupRow | undefined> {
    return this.db.selectFrom('access_groups').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async insertGroup(row: Insertable<AccessGroupsTable>): Promise<number> {
    return Number((await this.db.insertInto('access_groups').values(row).executeTakeFirstOrThrow()).insertId);
  }

  async updateGroup(id: number, patch: Updateable<AccessGroupsTable>): Promise<void> {
    await this.db.updateTable('access_groups').set(patch).where('id', '=', id).execute();
  }

  async members(table: MemberTable, groupId: number): Promise<number[]> {
    switch (table) {
      case 'access_group_devices':
        return (await this.db.selectFrom(table).select('device_id').where('group_id', '=', groupId).execute()).map((r) => r.device_id);
      case 'access_group_credentials':
        return (await this.db.selectFrom(table).select('credential_id').where('group_id', '=', groupId).execute()).map((r) => r.credential_id);
      default:
        return (await this.db.selectFrom(table).select('user_id').where('group_id', '=', groupId).execute()).map((r) => r.user_id);
    }
  }

  /**
   * One page of a group's members of one kind, by name, those whose name (user name, full name, host name,
   * address, account) contains `text` without case, and how many match: the group page shows members without
   * loading thousands of them.
   */
  async pageMembers(
    table: MemberTable,
    groupId: number,
    filter: { text?: string; limit: number; offset: number },
  ): Promise<{ rows: { id: number; name: string; detail: string }[]; total: number }> {
    const pattern = filter.text ? `%${filter.text.toLowerCase().replace(/[!%_]/g, (ch) => `!${ch}`)}%` : undefined;
    const like = (col: unknown) => sql<boolean>`LOWER(${col}) LIKE ${pattern} ESCAPE '!'`;
    if (table === 'access_group_devices') {
      let q = this.db.selectFrom('access_group_devices as m').innerJoin('devices as d', 'd.id', 'm.device_id').where('m.group_id', '=', groupId);
      if (pattern) q = q.where((eb) => eb.or([like(eb.ref('d.hostname')), like(eb.ref('d.address'))]));
      const [rows, count] = await Promise.all([
        q.select(['d.id as id', 'd.hostname as name', 'd.address as detail']).orderBy('d.hostname').orderBy('d.id').limit(filter.limit).offset(filter.offset).execute(),
        q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
      ]);
      return { rows, total: Number(count?.n ?? 0) };
    }
    if (table === 'access_group_credentials') {
      let q = this.db
        .selectFrom('access_group_credentials as m')
        .innerJoin('credentials as c', 'c.id', 'm.credential_id')
        .innerJoin('devices as d', 'd.id', 'c.device_id')
        .where('m.group_id', '=', groupId);
      if (pattern) q = q.where((eb) => eb.or([like(eb.ref('c.username')), like(eb.ref('d.hostname'))]));
      const [rows, count] = await Promise.all([
        q.select(['c.id as id', 'c.username as name', 'd.hostname as detail']).orderBy('d.hostname').orderBy('c.username').orderBy('c.id').limit(filter.limit).offset(filter.offset).execute(),
        q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
      ]);
      return { rows, total: Number(count?.n ?? 0) };
    }
    let q = this.db.selectFrom(`${table} as m`).innerJoin('users as u', 'u.id', 'm.user_id').where('m.group_id', '=', groupId);
    if (pattern) q = q.where((eb) => eb.or([like(eb.ref('u.username')), like(eb.ref('u.full_name'))]));
    const [rows, count] = await Promise.all([
      q.select(['u.id as id', 'u.username as name', 'u.full_name as detail']).orderBy('u.username').limit(filter.limit).offset(filter.offset).execute(),
      q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
    ]);
    return { rows, total: Number(count?.n ?? 0) };
  }

  async countMembers(table: MemberTable, groupId: number): Promise<number> {
    const r = await this.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where('group_id', '=', groupId).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** Add one member; false when it was one already. */
  async addMember(table: MemberTable, groupId: number, memberId: number): Promise<boolean> {
    const col = memberColumn(table);
    const there = await this.db.selectFrom(table).select('group_id').where('group_id', '=', groupId).where(sql.ref(col), '=', memberId).executeTakeFirst();
    if (there) return false;
    await this.db.insertInto(table).values({ group_id: groupId, [col]: memberId } as never).execute();
    return true;
  }

  /** Remove one member; false when it was not one. */
  async removeMember(table: MemberTable, groupId: number, memberId: number): Promise<boolean> {
    const r = await this.db.deleteFrom(table).where('group_id', '=', groupId).where(sql.ref(memberColumn(table)), '=', memberId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async replaceMembers(table: MemberTable, groupId: number, ids: number[]): Promise<void> {
    const col = table === 'access_group_devices' ? 'device_id' : table === 'access_group_credentials' ? 'credential_id' : 'user_id';
    await this.db.deleteFrom(table).where('group_id', '=', groupId).execute();
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500).map((id) => ({ group_id: groupId, [col]: id }));
      if (chunk.length > 0) await this.db.insertInto(table).values(chunk as never).execute();
    }
  }

  /** Enabled groups that hold the user, with whether they hold this device and this credential. */
  async groupsForDecision(userId: number, deviceId: number, credentialId: number) {
    // Driven from the user's memberships (indexed), not from all groups.
    return this.db
      .selectFrom('access_group_users as u')
      .innerJoin('access_groups as g', 'g.id', 'u.group_id')
      .leftJoin('access_group_devices as d', (j) => j.onRef('d.group_id', '=', 'g.id').on('d.device_id', '=', deviceId))
      .leftJoin('access_group_credentials as c', (j) => j.onRef('c.group_id', '=', 'g.id').on('c.credential_id', '=', credentialId))
      .selectAll('g')
      .select(['d.device_id as has_device', 'c.credential_id as has_credential'])
      .where('u.user_id', '=', userId)
      .where('g.enabled', '=', true)
      .execute();
  }

  /**
   * One page of the targets a user's groups cover — (device, credential) pairs in host name order, text-
   * filtered — and whether more follow. Driven from the devices in name order with a correlated EXISTS per
   * credential (indexed lookups: the device's groups, the user's membership, the credential's groups), so a
   * first page stops after the first matches instead of joining every membership row of the user.
   */
  async coveredTargets(userId: number, filter: { text?: string; limit: number; offset: number }) {
    let q = this.db
      .selectFrom('devices as d')
      .innerJoin('credentials as c', 'c.device_id', 'd.id')
      .where(({ exists, selectFrom }) =>
        exists(
          selectFrom('access_group_devices as gd')
            .innerJoin('access_group_users as u', (j) => j.onRef('u.group_id', '=', 'gd.group_id').on('u.user_id', '=', userId))
            .innerJoin('access_groups as g', 'g.id', 'gd.group_id')
            .innerJoin('access_group_credentials as gc', (j) => j.onRef('gc.group_id', '=', 'gd.group_id').onRef('gc.credential_id', '=', 'c.id'))
            .select('gd.group_id')
            .whereRef('gd.device_id', '=', 'd.id')
            .where('g.enabled', '=', true),
        ),
      );
    if (filter.text) {
      // LIKE with its wildcards escaped by '!' (a backslash means something else in MariaDB's literals): the
      // text is matched literally, anywhere in the name. Without case on every engine: both sides lowered
      // (SQLite's LIKE ignores ASCII case by itself, MariaDB's follows the binary collation of the columns).
      const pattern = `%${filter.text.toLowerCase().replace(/[!%_]/g, (ch) => `!${ch}`)}%`;
      q = q.where((eb) =>
        eb.or([
          sql<boolean>`LOWER(${eb.ref('d.hostname')}) LIKE ${pattern} ESCAPE '!'`,
          sql<boolean>`LOWER(${eb.ref('d.address')}) LIKE ${pattern} ESCAPE '!'`,
          sql<boolean>`LOWER(${eb.ref('c.username')}) LIKE ${pattern} ESCAPE '!'`,
        ]),
      );
    }
    const rows = await q
      .select([
        'c.id as credential_id',
        'c.username as credential_username',
        'c.domain as credential_domain',
        'c.kind as credential_kind',
        'c.secret_kind as secret_kind',
        'c.status as credential_status',
        'd.id as device_id',
        'd.hostname as hostname',
        'd.address as address',
        'd.connectivity as connectivity',
        'd.status as device_status',
      ])
      .orderBy('d.hostname')
      .orderBy('c.username')
      .orderBy('c.id')
      .limit(filter.limit + 1)
      .offset(filter.offset)
      .execute();
    const more = rows.length > filter.limit;
    return { rows: more ? rows.slice(0, filter.limit) : rows, more };
  }

  /**
   * The groups that hold each of these credentials together with the credential's device (any group: the
   * caller keeps the user's own). Driven from the credentials' memberships, indexed by credential.
   */
  async groupsHoldingCredentials(credentialIds: readonly number[]): Promise<{ group_id: number; credential_id: number }[]> {
    const out: { group_id: number; credential_id: number }[] = [];
    // In chunks: a page of thousands of ids stays within every engine's limit on bound parameters.
    for (let i = 0; i < credentialIds.length; i += 500) {
      const chunk = credentialIds.slice(i, i + 500);
      out.push(
        ...(await this.db
          .selectFrom('access_group_credentials as gc')
          .innerJoin('credentials as c', 'c.id', 'gc.credential_id')
          .innerJoin('access_group_devices as gd', (j) => j.onRef('gd.group_id', '=', 'gc.group_id').onRef('gd.device_id', '=', 'c.device_id'))
          .select(['gc.group_id as group_id', 'gc.credential_id as credential_id'])
          .where('gc.credential_id', 'in', chunk)
          .execute()),
      );
    }
    return out;
  }

  /** The user's enabled groups, with whether each holds this device (for protected items). */
  async groupsOfUser(userId: number, deviceId: number | null) {
    return this.db
      .selectFrom('access_group_users as u')
      .innerJoin('access_groups as g', 'g.id', 'u.group_id')
      .leftJoin('access_group_devices as d', (j) => j.onRef('d.group_id', '=', 'g.id').on('d.device_id', '=', deviceId ?? 0))
      .selectAll('g')
      .select(['d.device_id as has_device'])
      .where('u.user_id', '=', userId)
      .where('g.enabled', '=', true)
      .execute();
  }

  /** Whether the user approves for at least one enabled group (the console offers them the approvals inbox). */
  async approvesAnyGroup(userId: number): Promise<boolean> {
    const row = await this.db
      .selectFrom('access_group_approvers as a')
      .innerJoin('access_groups as g', 'g.id', 'a.group_id')
      .select('a.user_id')
      .where('a.user_id', '=', userId)
      .where('g.enabled', '=', true)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  async isApprover(groupId: number, userId: number): Promise<boolean> {
    return (await this.db.selectFrom('access_group_approvers').select('user_id').where('group_id', '=', groupId).where('user_id', '=', userId).executeTakeFirst()) !== undefined;
  }
}
