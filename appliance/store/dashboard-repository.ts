// The console dashboard's figures: each one query over the tables it counts, bounded (a count, or a short
// list in a fixed order), so the dashboard's cost does not grow with the history behind it.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface ExpiringAuthorityRow {
  id: number;
  subject: string;
  not_after: number;
}

export interface ExpiringCertificateRow {
  id: number;
  user_id: number;
  username: string;
  subject: string;
  not_after: number;
}

export interface FailingDeviceRow {
  id: number;
  hostname: string;
  address: string;
  failing_ports: number;
  checked_at: number;
}

export class DashboardRepository {
  constructor(private readonly db: Db) {}

  /** Audit rows of these types and this outcome since `since`, counted per type (the (type, ts) index). */
  async auditCounts(types: readonly string[], outcome: string, since: number): Promise<Record<string, number>> {
    if (types.length === 0) return {};
    const rows = await this.db
      .selectFrom('audit_events')
      .select(['type', (eb) => eb.fn.countAll<number>().as('n')])
      .where('type', 'in', [...types])
      .where('ts', '>=', since)
      .where('outcome', '=', outcome)
      .groupBy('type')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.type, Number(r.n)]));
  }

  /** Active trusted CAs whose validity ends in [from, until], soonest first: up to `limit`, and how many. */
  async expiringAuthorities(from: number, until: number, limit: number): Promise<{ rows: ExpiringAuthorityRow[]; total: number }> {
    const base = this.db.selectFrom('trusted_cas').where('active', '=', true).where('not_after', '>=', from).where('not_after', '<=', until);
    const [rows, count] = await Promise.all([
      base.select(['id', 'subject', 'not_after']).orderBy('not_after').orderBy('id').limit(limit).execute(),
      base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
    ]);
    return { rows: rows.map((r) => ({ ...r, not_after: Number(r.not_after) })), total: Number(count?.n ?? 0) };
  }

  /** Bound login certificates whose validity ends in [from, until], soonest first: up to `limit`, and how many. */
  async expiringCertificates(from: number, until: number, limit: number): Promise<{ rows: ExpiringCertificateRow[]; total: number }> {
    const base = this.db
      .selectFrom('user_certificates as c')
      .innerJoin('users as u', 'u.id', 'c.user_id')
      .where('c.status', '=', 'bound')
      .where('c.not_after', '>=', from)
      .where('c.not_after', '<=', until);
    const [rows, count] = await Promise.all([
      base.select(['c.id', 'c.user_id', 'u.username', 'c.subject', 'c.not_after']).orderBy('c.not_after').orderBy('c.id').limit(limit).execute(),
      base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
    ]);
    return { rows: rows.map((r) => ({ ...r, not_after: Number(r.not_after) })), total: Number(count?.n ?? 0) };
  }

  /**
   * Active devices whose last connectivity test failed on at least one port (connectivity_results holds the
   * last result of each port), by host name: up to `limit`, and how many.
   */
  async failingDevices(limit: number): Promise<{ rows: FailingDeviceRow[]; total: number }> {
    const base = this.db
      .selectFrom('connectivity_results as c')
      .innerJoin('devices as d', 'd.id', 'c.device_id')
      .where('c.ok', '=', false)
      .where('d.status', '=', 'active');
    const [rows, count] = await Promise.all([
      base
        .select(['d.id', 'd.hostname', 'd.address', (eb) => eb.fn.countAll<number>().as('failing_ports'), (eb) => eb.fn.max('c.checked_at').as('checked_at')])
        .groupBy(['d.id', 'd.hostname', 'd.address'])
        .orderBy('d.hostname')
        .limit(limit)
        .execute(),
      base.select((eb) => eb.fn.count<number>('c.device_id').distinct().as('n')).executeTakeFirst(),
    ]);
    return { rows: rows.map((r) => ({ id: r.id, hostname: r.hostname, address: r.address, failing_ports: Number(r.failing_ports), checked_at: Number(r.checked_at) })), total: Number(count?.n ?? 0) };
  }
}
