// Discovery findings (a review list per device) and the device's discovery credential.
import type { Kysely, Transaction } from 'kysely';
import type { Database, DiscoveryFindingRow, DiscoveryFindingsTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export class DiscoveryRepository {
  constructor(private readonly db: Db) {}

  async ofDevice(deviceId: number): Promise<DiscoveryFindingRow[]> {
    return this.db.selectFrom('discovery_findings').selectAll().where('device_id', '=', deviceId).orderBy('kind').orderBy('name').execute();
  }

  async finding(id: number): Promise<DiscoveryFindingRow | undefined> {
    return this.db.selectFrom('discovery_findings').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The review list: findings of one device or all, of one review state or all, newest first. */
  async list(filter: { deviceId?: number; review?: DiscoveryFindingsTable['review']; limit: number; offset: number }): Promise<DiscoveryFindingRow[]> {
    let q = this.db.selectFrom('discovery_findings').selectAll();
    if (filter.deviceId !== undefined) q = q.where('device_id', '=', filter.deviceId);
    if (filter.review !== undefined) q = q.where('review', '=', filter.review);
    return q.orderBy('last_seen', 'desc').orderBy('id').limit(filter.limit).offset(filter.offset).execute();
  }

  async insert(row: Omit<DiscoveryFindingsTable, 'id'>): Promise<void> {
    await this.db.insertInto('discovery_findings').values(row).execute();
  }

  async update(id: number, patch: Partial<Omit<DiscoveryFindingsTable, 'id' | 'device_id' | 'kind' | 'name'>>): Promise<void> {
    await this.db.updateTable('discovery_findings').set(patch).where('id', '=', id).execute();
  }

  async setDeviceDiscovery(deviceId: number, credentialId: number, at: number): Promise<void> {
    await this.db.updateTable('devices').set({ discovery_credential_id: credentialId, discovered_at: at }).where('id', '=', deviceId).execute();
  }

  /** Devices whose discovery has a credential and last ran before `before`. */
  async devicesDue(before: number): Promise<{ id: number; discovery_credential_id: number }[]> {
    const rows = await this.db
      .selectFrom('devices')
      .select(['id', 'discovery_credential_id'])
      .where('status', '=', 'active')
      .where('discovery_credential_id', 'is not', null)
      .where((eb) => eb.or([eb('discovered_at', 'is', null), eb('discovered_at', '<', before)]))
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ id: r.id, discovery_credential_id: r.discovery_credential_id! }));
  }
}
