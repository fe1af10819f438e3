// Devices and their catalogue (vendor, type, model, site).
import type { Insertable, Kysely, Transaction, Updateable } from 'kysely';
import type { Database, DeviceRow, DevicesTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;
export type CatalogKind = 'vendor' | 'type' | 'model' | 'site';

export interface DeviceWithCatalog extends DeviceRow {
  vendor: string | null;
  type: string | null;
  model: string | null;
  site: string | null;
}

export class DevicesRepository {
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
}
