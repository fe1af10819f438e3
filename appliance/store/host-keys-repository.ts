// Pinned host keys (SSH) and certificate fingerprints (RDP, MySQL/MariaDB TLS) of devices: trust on first use.
import type { Kysely, Transaction } from 'kysely';
import type { Database, PinnedProtocol } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;


export class HostKeysRepository {
  constructor(private readonly db: Db) {}

  async pinnedKey(deviceId: number, protocol: PinnedProtocol) {
    return this.db.selectFrom('pinned_host_keys').selectAll().where('device_id', '=', deviceId).where('protocol', '=', protocol).executeTakeFirst();
  }

  async pinnedKeys(deviceId: number) {
    return this.db.selectFrom('pinned_host_keys').selectAll().where('device_id', '=', deviceId).execute();
  }

  async pinKey(deviceId: number, protocol: PinnedProtocol, fingerprint: string, at: number): Promise<void> {
    await this.db.insertInto('pinned_host_keys').values({ device_id: deviceId, protocol, fingerprint, pinned_at: at }).execute();
  }

  async unpinKey(deviceId: number, protocol: PinnedProtocol): Promise<number> {
    return Number((await this.db.deleteFrom('pinned_host_keys').where('device_id', '=', deviceId).where('protocol', '=', protocol).executeTakeFirst()).numDeletedRows);
  }
}
