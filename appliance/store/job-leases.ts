// Leases on periodic jobs: one row per job says which process runs it, until when, and when a run last
// started. Taking a lease is one conditional statement, so of several processes asking at once one wins.
import type { Kysely, Transaction } from 'kysely';
import type { Database, JobLeaseRow } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export class JobLeasesRepository {
  constructor(private readonly db: Db) {}

  async all(): Promise<JobLeaseRow[]> {
    return this.db.selectFrom('job_leases').selectAll().orderBy('name').execute();
  }

  async get(name: string): Promise<JobLeaseRow | undefined> {
    return this.db.selectFrom('job_leases').selectAll().where('name', '=', name).executeTakeFirst();
  }

  /**
   * Take the lease of a job that is due (its last run started `intervalMs` ago or more) and that nobody holds
   * (no lease, or one that expired): true if this call took it. The UPDATE's WHERE is the whole check. A job
   * seen for the first time is only registered, as if it had just run: its first run comes one interval
   * later (a fresh appliance does not probe every device the moment it starts).
   */
  async claim(name: string, holder: string, opts: { now: number; leaseMs: number; intervalMs: number }): Promise<boolean> {
    const { now, leaseMs, intervalMs } = opts;
    const r = await this.db
      .updateTable('job_leases')
      .set({ holder, expires_at: now + leaseMs, last_started_at: now })
      .where('name', '=', name)
      .where('expires_at', '<=', now)
      .where('last_started_at', '<=', now - intervalMs)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 1) return true;
    if (await this.get(name)) return false;
    try {
      await this.db.insertInto('job_leases').values({ name, holder: '', expires_at: 0, last_started_at: now }).execute();
    } catch (e) {
      // Another process registered it between our look and our insert: the same row either way.
      if (!(await this.get(name))) throw e;
    }
    return false;
  }

  /** Extend a lease this holder still holds; false if it was lost (expired and taken by another). */
  async renew(name: string, holder: string, opts: { now: number; leaseMs: number }): Promise<boolean> {
    const r = await this.db.updateTable('job_leases').set({ expires_at: opts.now + opts.leaseMs }).where('name', '=', name).where('holder', '=', holder).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** The run ended: the lease is free (the next run still waits for the interval). */
  async release(name: string, holder: string): Promise<void> {
    await this.db.updateTable('job_leases').set({ expires_at: 0 }).where('name', '=', name).where('holder', '=', holder).execute();
  }
}
