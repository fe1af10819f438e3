// Queries of the vault and the access policy: devices and their catalogue, credentials, pinned host keys,
// protected items, access groups and their members, access requests and decisions, connectivity results.
import { sql, type Insertable, type Kysely, type Transaction, type Updateable } from 'kysely';
import type {
  AccessGroupRow,
  AccessGroupsTable,
  AccessRequestRow,
  AccessRequestsTable,
  CredentialRow,
  CredentialsTable,
  Database,
  DeviceRow,
  DevicesTable,
  ProtectedItemsTable,
} from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;
export type CatalogKind = 'vendor' | 'type' | 'model' | 'site';
export type MemberTable = 'access_group_users' | 'access_group_approvers' | 'access_group_devices' | 'access_group_credentials';

export interface DeviceWithCatalog extends DeviceRow {
  vendor: string | null;
  type: string | null;
  model: string | null;
  site: string | null;
}

export class PolicyRepository {
  constructor(private readonly db: Db) {}

  /** The catalogue entry's id, created on first use. */
  async catalogId(kind: CatalogKind, name: string): Promise<number> {
    const found = await this.db.selectFrom('device_catalog').select('id').where('kind', '=', kind).where('name', '=', name).executeTakeFirst();
    if (found) return found.id;
    return Number((await this.db.insertInto('device_catalog').values({ kind, name }).executeTakeFirstOrThrow()).insertId);
  }

  private devicesQuery() {
    return this.db
      .selectFrom('devices')
      .leftJoin('device_catalog as v', 'v.id', 'devices.vendor_id')
      .leftJoin('device_catalog as t', 't.id', 'devices.type_id')
      .leftJoin('device_catalog as m', 'm.id', 'devices.model_id')
      .leftJoin('device_catalog as s', 's.id', 'devices.site_id')
      .selectAll('devices')
      .select(['v.name as vendor', 't.name as type', 'm.name as model', 's.name as site']);
  }

  async devices(filter: { ids?: number[]; limit?: number; offset?: number } = {}): Promise<DeviceWithCatalog[]> {
    let q = this.devicesQuery();
    if (filter.ids) {
      if (filter.ids.length === 0) return [];
      q = q.where('devices.id', 'in', filter.ids);
    }
    return q.orderBy('devices.hostname').limit(filter.limit ?? 10_000).offset(filter.offset ?? 0).execute();
  }

  async device(id: number): Promise<DeviceWithCatalog | undefined> {
    return this.devicesQuery().where('devices.id', '=', id).executeTakeFirst();
  }

  async deviceByHostname(hostname: string): Promise<DeviceRow | undefined> {
    return this.db.selectFrom('devices').selectAll().where('hostname', '=', hostname).executeTakeFirst();
  }

  async insertDevice(row: Insertable<DevicesTable>): Promise<number> {
    return Number((await this.db.insertInto('devices').values(row).executeTakeFirstOrThrow()).insertId);
  }

  async updateDevice(id: number, patch: Updateable<DevicesTable>): Promise<void> {
    await this.db.updateTable('devices').set(patch).where('id', '=', id).execute();
  }

  async credentials(filter: { deviceId?: number; ids?: number[] } = {}): Promise<CredentialRow[]> {
    let q = this.db.selectFrom('credentials').selectAll();
    if (filter.deviceId !== undefined) q = q.where('device_id', '=', filter.deviceId);
    if (filter.ids) {
      if (filter.ids.length === 0) return [];
      q = q.where('id', 'in', filter.ids);
    }
    return q.orderBy('id').execute();
  }

  async credential(id: number): Promise<CredentialRow | undefined> {
    return this.db.selectFrom('credentials').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async insertCredential(row: Insertable<CredentialsTable>): Promise<number> {
    return Number((await this.db.insertInto('credentials').values(row).executeTakeFirstOrThrow()).insertId);
  }

  /** The highest credential id so far (0 for none): the id a new credential is expected to get, minus one. */
  async highestCredentialId(): Promise<number> {
    return Number((await this.db.selectFrom('credentials').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst())?.m ?? 0);
  }

  async updateCredential(id: number, patch: Updateable<CredentialsTable>): Promise<void> {
    await this.db.updateTable('credentials').set(patch).where('id', '=', id).execute();
  }

  async splitHolders(credentialId: number): Promise<{ half: number; user_id: number }[]> {
    return this.db.selectFrom('credential_split_holders').select(['half', 'user_id']).where('credential_id', '=', credentialId).execute();
  }

  async takeSplitHalf(credentialId: number, half: number, userId: number, at: number): Promise<void> {
    await this.db.insertInto('credential_split_holders').values({ credential_id: credentialId, half, user_id: userId, viewed_at: at }).execute();
  }

  async clearSplitHolders(credentialId: number): Promise<void> {
    await this.db.deleteFrom('credential_split_holders').where('credential_id', '=', credentialId).execute();
  }

  async pinnedKey(deviceId: number, protocol: 'ssh' | 'rdp') {
    return this.db.selectFrom('pinned_host_keys').selectAll().where('device_id', '=', deviceId).where('protocol', '=', protocol).executeTakeFirst();
  }

  async pinnedKeys(deviceId: number) {
    return this.db.selectFrom('pinned_host_keys').selectAll().where('device_id', '=', deviceId).execute();
  }

  async pinKey(deviceId: number, protocol: 'ssh' | 'rdp', fingerprint: string, at: number): Promise<void> {
    await this.db.insertInto('pinned_host_keys').values({ device_id: deviceId, protocol, fingerprint, pinned_at: at }).execute();
  }

  async unpinKey(deviceId: number, protocol: 'ssh' | 'rdp'): Promise<number> {
    return Number((await this.db.deleteFrom('pinned_host_keys').where('device_id', '=', deviceId).where('protocol', '=', protocol).executeTakeFirst()).numDeletedRows);
  }

  async insertProtected(row: Insertable<ProtectedItemsTable>): Promise<number> {
    return Number((await this.db.insertInto('protected_items').values(row).executeTakeFirstOrThrow()).insertId);
  }

  async highestProtectedId(): Promise<number> {
    return Number((await this.db.selectFrom('protected_items').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst())?.m ?? 0);
  }

  async updateProtectedContent(id: number, sealed: string): Promise<void> {
    await this.db.updateTable('protected_items').set({ content_sealed: sealed }).where('id', '=', id).execute();
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

  async groups(): Promise<AccessGroupRow[]> {
    return this.db.selectFrom('access_groups').selectAll().orderBy('name').execute();
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
   * Credentials the user's enabled groups cover: a group that holds the user, the credential and the
   * credential's own device. Nothing else can ever be allowed to the user, so nothing else is shown.
   */
  async coveredCredentials(userId: number): Promise<CredentialRow[]> {
    return this.db
      .selectFrom('access_group_users as u')
      .innerJoin('access_groups as g', 'g.id', 'u.group_id')
      .innerJoin('access_group_credentials as gc', 'gc.group_id', 'g.id')
      .innerJoin('credentials as c', 'c.id', 'gc.credential_id')
      .innerJoin('access_group_devices as gd', (j) => j.onRef('gd.group_id', '=', 'g.id').onRef('gd.device_id', '=', 'c.device_id'))
      .selectAll('c')
      .distinct()
      .where('u.user_id', '=', userId)
      .where('g.enabled', '=', true)
      .orderBy('c.id')
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
      // text is matched literally, anywhere in the name.
      const pattern = `%${filter.text.replace(/[!%_]/g, (ch) => `!${ch}`)}%`;
      q = q.where((eb) =>
        eb.or([
          sql<boolean>`${eb.ref('d.hostname')} LIKE ${pattern} ESCAPE '!'`,
          sql<boolean>`${eb.ref('d.address')} LIKE ${pattern} ESCAPE '!'`,
          sql<boolean>`${eb.ref('c.username')} LIKE ${pattern} ESCAPE '!'`,
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

  async isApprover(groupId: number, userId: number): Promise<boolean> {
    return (await this.db.selectFrom('access_group_approvers').select('user_id').where('group_id', '=', groupId).where('user_id', '=', userId).executeTakeFirst()) !== undefined;
  }

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

  async grantsEndingAfter(now: number): Promise<AccessRequestRow[]> {
    return this.db.selectFrom('access_requests').selectAll().where('status', '=', 'approved').where('ends_at', '>', now).execute();
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

  async recordConnectivity(row: { device_id: number; port: number; protocol: string; ok: boolean; detail: string; checked_at: number }): Promise<void> {
    await this.db.deleteFrom('connectivity_results').where('device_id', '=', row.device_id).where('port', '=', row.port).execute();
    await this.db.insertInto('connectivity_results').values(row).execute();
  }

  async connectivity(deviceId: number) {
    return this.db.selectFrom('connectivity_results').selectAll().where('device_id', '=', deviceId).orderBy('port').execute();
  }
}
