// Devices and their catalogue (vendor, type, model, site).
import { sql, type ExpressionBuilder, type Insertable, type Kysely, type Transaction, type Updateable } from 'kysely';
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

  /**
   * One page of devices by host name with the state of their last connectivity test (failing ports, when
   * last tested), and how many match: text as in `devices`; `unreachable`: only active devices whose last test
   * failed on a port (what the dashboard counts). The count reads the devices table alone, no catalogue join.
   */
  async devicePage(filter: { text?: string; unreachable?: boolean; limit: number; offset: number }): Promise<{ rows: (DeviceWithCatalog & { failing_ports: number; checked_at: number | null })[]; total: number }> {
    const failing = (eb: ExpressionBuilder<Database, 'devices'>) =>
      eb.exists(eb.selectFrom('connectivity_results as f').select('f.device_id').whereRef('f.device_id', '=', 'devices.id').where('f.ok', '=', false));
    let rows = this.devicesQuery().select((eb) => [
      eb.selectFrom('connectivity_results as c').select((e) => e.fn.countAll<number>().as('n')).whereRef('c.device_id', '=', 'devices.id').where('c.ok', '=', false).as('failing_ports'),
      eb.selectFrom('connectivity_results as c').select((e) => e.fn.max('c.checked_at').as('m')).whereRef('c.device_id', '=', 'devices.id').as('checked_at'),
    ]);
    let count = this.db.selectFrom('devices').select((eb) => eb.fn.countAll<number>().as('n'));
    if (filter.text) {
      rows = rows.where(matchingText(filter.text));
      count = count.where(matchingText(filter.text));
    }
    if (filter.unreachable) {
      rows = rows.where('devices.status', '=', 'active').where(failing);
      count = count.where('devices.status', '=', 'active').where(failing);
    }
    const [page, n] = await Promise.all([rows.orderBy('devices.hostname').limit(filter.limit).offset(filter.offset).execute(), count.executeTakeFirst()]);
    return {
      rows: page.map((r) => ({ ...r, failing_ports: Number(r.failing_ports ?? 0), checked_at: r.checked_at === null || r.checked_at === undefined ? null : Number(r.checked_at) })),
      total: Number(n?.n ?? 0),
    };
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

/**
 * Devices whose host name, address, vendor, type, model or site contains `text`, without case. LIKE with its
 * wildcards escaped by '!' (a backslash means something else in MariaDB's literals), both sides lowered
 * (MariaDB's binary collation keeps case). The catalogue is matched by a subquery on its own small table, so
 * counting needs no join.
 */
function matchingText(text: string) {
  const pattern = `%${text.toLowerCase().replace(/[!%_]/g, (ch) => `!${ch}`)}%`;
  return (eb: ExpressionBuilder<Database, 'devices'>) => {
    const catalog = eb.selectFrom('device_catalog').select('device_catalog.id').where((cb) => sql<boolean>`LOWER(${cb.ref('device_catalog.name')}) LIKE ${pattern} ESCAPE '!'`);
    return eb.or([
      sql<boolean>`LOWER(${eb.ref('devices.hostname')}) LIKE ${pattern} ESCAPE '!'`,
      sql<boolean>`LOWER(${eb.ref('devices.address')}) LIKE ${pattern} ESCAPE '!'`,
      eb('devices.vendor_id', 'in', catalog),
      eb('devices.type_id', 'in', catalog),
      eb('devices.model_id', 'in', catalog),
      eb('devices.site_id', 'in', catalog),
    ]);
  };
}
