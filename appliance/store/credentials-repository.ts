// Credentials (their secrets sealed by the vault) and who holds which half of a split password.
import { sql, type ExpressionBuilder, type Insertable, type Kysely, type Transaction, type Updateable } from 'kysely';
import type { CredentialCheckoutRow, CredentialRow, CredentialsTable, CredentialVersionRow, CredentialVersionsTable, Database, RotationQueueRow, RotationQueueTable } from './schema.js';
import { isUniqueViolation } from './errors.js';

type Db = Kysely<Database> | Transaction<Database>;

export class CredentialsRepository {
  constructor(private readonly db: Db) {}

  async credentials(filter: { deviceId?: number; ids?: number[] } = {}): Promise<CredentialRow[]> {
    let q = this.db.selectFrom('credentials').selectAll();
    if (filter.deviceId !== undefined) q = q.where('device_id', '=', filter.deviceId);
    if (filter.ids) {
      if (filter.ids.length === 0) return [];
      q = q.where('id', 'in', filter.ids);
    }
    return q.orderBy('id').execute();
  }

  /**
   * One page of credentials with their device's host name, by host name then user name, and how many match:
   * of one device, and/or those whose user name, domain or device host name contains `text` (without case).
   */
  async pageCredentials(filter: { deviceId?: number; text?: string; limit: number; offset: number }): Promise<{ rows: (CredentialRow & { hostname: string; device_status: 'active' | 'disabled' })[]; total: number }> {
    let q = this.db.selectFrom('credentials').innerJoin('devices', 'devices.id', 'credentials.device_id');
    if (filter.deviceId !== undefined) q = q.where('credentials.device_id', '=', filter.deviceId);
    if (filter.text) {
      // LIKE with its wildcards escaped by '!' (a backslash means something else in MariaDB's literals), both
      // sides lowered (MariaDB's binary collation keeps case).
      const pattern = `%${filter.text.toLowerCase().replace(/[!%_]/g, (ch) => `!${ch}`)}%`;
      const like = (eb: ExpressionBuilder<Database, 'credentials' | 'devices'>, column: 'credentials.username' | 'credentials.domain' | 'devices.hostname') =>
        sql<boolean>`LOWER(${eb.ref(column)}) LIKE ${pattern} ESCAPE '!'`;
      q = q.where((eb) => eb.or([like(eb, 'credentials.username'), like(eb, 'credentials.domain'), like(eb, 'devices.hostname')]));
    }
    const [rows, count] = await Promise.all([
      q.selectAll('credentials').select(['devices.hostname', 'devices.status as device_status']).orderBy('devices.hostname').orderBy('credentials.username').orderBy('credentials.id').limit(filter.limit).offset(filter.offset).execute(),
      q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
    ]);
    return { rows, total: Number(count?.n ?? 0) };
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

  /**
   * A new secret for a credential (its row's `secret_sealed` is set by the caller in the same transaction): the
   * current version ends `at`, the next begins. Returns its number.
   */
  async addVersion(credentialId: number, v: { sealed: string; source: CredentialVersionsTable['source']; by: string; at: number }): Promise<number> {
    await this.db.updateTable('credential_versions').set({ valid_until: v.at }).where('credential_id', '=', credentialId).where('valid_until', 'is', null).execute();
    const last = await this.db.selectFrom('credential_versions').select((eb) => eb.fn.max('version').as('m')).where('credential_id', '=', credentialId).executeTakeFirst();
    const version = Number(last?.m ?? 0) + 1;
    await this.db.insertInto('credential_versions').values({ credential_id: credentialId, version, secret_sealed: v.sealed, source: v.source, created_by: v.by.slice(0, 128), valid_from: v.at, valid_until: null }).execute();
    return version;
  }

  /** The version in force now (null for none: a credential from before versions that never changed since). */
  async currentVersion(credentialId: number): Promise<CredentialVersionRow | undefined> {
    return this.db.selectFrom('credential_versions').selectAll().where('credential_id', '=', credentialId).where('valid_until', 'is', null).executeTakeFirst();
  }

  /** Every version, newest first, without the sealed secrets. */
  async versions(credentialId: number): Promise<Omit<CredentialVersionRow, 'secret_sealed'>[]> {
    return this.db
      .selectFrom('credential_versions')
      .select(['id', 'credential_id', 'version', 'source', 'created_by', 'valid_from', 'valid_until'])
      .where('credential_id', '=', credentialId)
      .orderBy('version', 'desc')
      .execute();
  }

  /**
   * Ask for a rotation of the credential at `due` (kept: one waiting rotation per credential is enough, and
   * the one asked first keeps its place; a reconciliation replaces a plain rotation, since only it can mend a
   * password that stopped working). True if this call queued it.
   */
  async enqueueRotation(row: Pick<RotationQueueTable, 'credential_id' | 'trigger_kind' | 'reason' | 'due_at' | 'created_at'>): Promise<boolean> {
    const waiting = await this.db.selectFrom('rotation_queue').select(['trigger_kind']).where('credential_id', '=', row.credential_id).executeTakeFirst();
    if (waiting) {
      if (row.trigger_kind !== 'reconcile' || waiting.trigger_kind === 'reconcile') return false;
      await this.db.updateTable('rotation_queue').set({ trigger_kind: 'reconcile', reason: row.reason.slice(0, 200) }).where('credential_id', '=', row.credential_id).execute();
      return true;
    }
    try {
      await this.db.insertInto('rotation_queue').values({ ...row, reason: row.reason.slice(0, 200) }).execute();
      return true;
    } catch (e) {
      // Another writer queued it between the look and the insert: it is queued.
      if (isUniqueViolation(e)) return false;
      throw e;
    }
  }

  /** The rotations due by `now`, earliest first. */
  async dueRotations(now: number, limit: number): Promise<RotationQueueRow[]> {
    return this.db.selectFrom('rotation_queue').selectAll().where('due_at', '<=', now).orderBy('due_at').orderBy('credential_id').limit(limit).execute();
  }

  async queuedRotation(credentialId: number): Promise<RotationQueueRow | undefined> {
    return this.db.selectFrom('rotation_queue').selectAll().where('credential_id', '=', credentialId).executeTakeFirst();
  }

  async dequeueRotation(credentialId: number): Promise<void> {
    await this.db.deleteFrom('rotation_queue').where('credential_id', '=', credentialId).execute();
  }

  /** A waiting rotation not to run before `due` (not a failure). */
  async postponeRotation(credentialId: number, due: number): Promise<void> {
    await this.db.updateTable('rotation_queue').set({ due_at: due }).where('credential_id', '=', credentialId).execute();
  }

  /** A waiting rotation that failed: tried again at `due`, the failure kept for the console. */
  async deferRotation(credentialId: number, due: number, error: string): Promise<void> {
    await this.db
      .updateTable('rotation_queue')
      .set((eb) => ({ due_at: due, attempts: eb('attempts', '+', 1), last_error: error.slice(0, 200) }))
      .where('credential_id', '=', credentialId)
      .execute();
  }

  /**
   * Active credentials with automatic change on whose current secret is older than their interval (their own, else
   * the shortest of their enabled access groups', else `defaultDays`; 0 means never) and that wait for no rotation
   * yet: the schedule's work.
   */
  async scheduledRotations(now: number, defaultDays: number, limit: number): Promise<{ id: number; since: number; days: number }[]> {
    const rows = await this.db
      .selectFrom('credentials')
      .innerJoin('credential_versions as v', (j) => j.onRef('v.credential_id', '=', 'credentials.id').on('v.valid_until', 'is', null))
      .leftJoin('rotation_queue as q', 'q.credential_id', 'credentials.id')
      .select(['credentials.id', 'credentials.rotation_interval_days', 'v.valid_from'])
      .where('credentials.auto_change', '=', true)
      .where('credentials.status', '=', 'active')
      .where('q.credential_id', 'is', null)
      .orderBy('v.valid_from')
      .execute();
    // The shortest schedule of the enabled groups holding each credential.
    const groupDays = new Map<number, number>();
    for (const g of await this.db
      .selectFrom('access_group_credentials as gc')
      .innerJoin('access_groups as g', 'g.id', 'gc.group_id')
      .select(['gc.credential_id', 'g.rotation_interval_days'])
      .where('g.enabled', '=', true)
      .where('g.rotation_interval_days', 'is not', null)
      .execute()) {
      const d = Number(g.rotation_interval_days);
      groupDays.set(g.credential_id, Math.min(d, groupDays.get(g.credential_id) ?? d));
    }
    const out: { id: number; since: number; days: number }[] = [];
    for (const r of rows) {
      const days = r.rotation_interval_days ?? groupDays.get(r.id) ?? defaultDays;
      if (days > 0 && Number(r.valid_from) + days * 86_400_000 <= now) out.push({ id: r.id, since: Number(r.valid_from), days });
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Every device type's password template (JSON), by type. */
  async passwordTemplates(): Promise<{ device_type: string; template: string; updated_at: number }[]> {
    return this.db.selectFrom('password_templates').selectAll().orderBy('device_type').execute();
  }

  async passwordTemplate(deviceType: string): Promise<string | undefined> {
    return (await this.db.selectFrom('password_templates').select('template').where('device_type', '=', deviceType.toLowerCase()).executeTakeFirst())?.template;
  }

  /** Set (insert or replace) a device type's template. */
  async setPasswordTemplate(deviceType: string, template: string, at: number): Promise<void> {
    const type = deviceType.toLowerCase();
    const n = await this.db.updateTable('password_templates').set({ template, updated_at: at }).where('device_type', '=', type).executeTakeFirst();
    if (Number(n.numUpdatedRows) === 0) await this.db.insertInto('password_templates').values({ device_type: type, template, updated_at: at }).execute();
  }

  async deletePasswordTemplate(deviceType: string): Promise<boolean> {
    const r = await this.db.deleteFrom('password_templates').where('device_type', '=', deviceType.toLowerCase()).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Who holds the credential now, if anyone (an expired hold is no hold). */
  async checkoutOf(credentialId: number, now: number): Promise<CredentialCheckoutRow | undefined> {
    const row = await this.db.selectFrom('credential_checkouts').selectAll().where('credential_id', '=', credentialId).executeTakeFirst();
    return row && (row.expires_at === null || Number(row.expires_at) > now) ? row : undefined;
  }

  /**
   * Take the credential for `holder` — call inside the transaction that admits the use, so the check and the
   * take cannot be split. Free, expired, or already this user's: taken (a session's hold, which ends with the
   * session, is not shortened by a view). Held by someone else: that hold, untouched.
   */
  async checkout(credentialId: number, holder: { userId: number; username: string; purpose: 'session' | 'password-view'; sessionId: string | null }, now: number, expiresAt: number | null): Promise<{ taken: true } | { taken: false; held: CredentialCheckoutRow }> {
    const row = { credential_id: credentialId, user_id: holder.userId, username: holder.username, purpose: holder.purpose, session_id: holder.sessionId, checked_out_at: now, expires_at: expiresAt };
    const existing = await this.db.selectFrom('credential_checkouts').selectAll().where('credential_id', '=', credentialId).executeTakeFirst();
    if (!existing) {
      try {
        await this.db.insertInto('credential_checkouts').values(row).execute();
        return { taken: true };
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
        const raced = await this.db.selectFrom('credential_checkouts').selectAll().where('credential_id', '=', credentialId).executeTakeFirstOrThrow();
        if (raced.user_id !== holder.userId) return { taken: false, held: raced };
        return { taken: true };
      }
    }
    const expired = existing.expires_at !== null && Number(existing.expires_at) <= now;
    if (!expired && existing.user_id !== holder.userId) return { taken: false, held: existing };
    // Theirs already: a session makes it a session's hold (no expiry); a view keeps a session's hold as it is.
    if (!expired && existing.expires_at === null && expiresAt !== null) return { taken: true };
    await this.db
      .updateTable('credential_checkouts')
      .set(expired ? row : { purpose: holder.purpose, session_id: holder.sessionId, expires_at: expiresAt })
      .where('credential_id', '=', credentialId)
      .where('user_id', '=', existing.user_id)
      .execute();
    return { taken: true };
  }

  /** Let the credential go (whoever holds it); the hold there was, if any. */
  async checkin(credentialId: number): Promise<CredentialCheckoutRow | undefined> {
    const row = await this.db.selectFrom('credential_checkouts').selectAll().where('credential_id', '=', credentialId).executeTakeFirst();
    if (!row) return undefined;
    await this.db.deleteFrom('credential_checkouts').where('credential_id', '=', credentialId).execute();
    return row;
  }

  /** Let go of `userId`'s hold if it has run out by `now`; true if it did. */
  async checkinExpired(credentialId: number, userId: number, now: number): Promise<boolean> {
    const r = await this.db.deleteFrom('credential_checkouts').where('credential_id', '=', credentialId).where('user_id', '=', userId).where('expires_at', 'is not', null).where('expires_at', '<=', now).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Holds of password views that ran out by `now`. */
  async expiredCheckouts(now: number, limit: number): Promise<CredentialCheckoutRow[]> {
    return this.db.selectFrom('credential_checkouts').selectAll().where('expires_at', 'is not', null).where('expires_at', '<=', now).orderBy('expires_at').limit(limit).execute();
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
}
