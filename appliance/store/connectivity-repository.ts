// The last connectivity test result of each device port.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export class ConnectivityRepository {
  constructor(private readonly db: Db) {}

  async recordConnectivity(row: { device_id: number; port: number; protocol: string; ok: boolean; detail: string; checked_at: number }): Promise<void> {
    await this.db.deleteFrom('connectivity_results').where('device_id', '=', row.device_id).where('port', '=', row.port).execute();
    await this.db.insertInto('connectivity_results').values(row).execute();
  }

  async connectivity(deviceId: number) {
    return this.db.selectFrom('connectivity_results').selectAll().where('device_id', '=', deviceId).orderBy('port').execute();
  }
}
