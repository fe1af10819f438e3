// Repositories: every query the services make, behind one async interface bound to either the database
// or an open transaction. Only portable SQL (SQLite and MariaDB) is written here.
import type { Kysely, Transaction } from 'kysely';
import type { AuditEventRow, Database, NewUserRow, UserRow, UserUpdate, WebSessionRow } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export class UsersRepository {
  constructor(private readonly db: Db) {}

  async insert(row: NewUserRow): Promise<number> {
    const r = await this.db.insertInto('users').values(row).executeTakeFirstOrThrow();
    return Number(r.insertId);
  }

  async byId(id: number): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async byUsername(username: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
  }

  async list(): Promise<UserRow[]> {
    return this.db.selectFrom('users').selectAll().orderBy('username').execute();
  }

  async count(): Promise<number> {
    const r = await this.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async update(id: number, patch: UserUpdate): Promise<void> {
    await this.db.updateTable('users').set(patch).where('id', '=', id).execute();
  }

  /** Atomic increment, so concurrent failed logins cannot lose a count. Returns the new count. */
  async incrementFailedAttempts(id: number, now: number): Promise<number> {
    await this.db
      .updateTable('users')
      .set((eb) => ({ failed_attempts: eb('failed_attempts', '+', 1), updated_at: now }))
      .where('id', '=', id)
      .execute();
    const r = await this.db.selectFrom('users').select('failed_attempts').where('id', '=', id).executeTakeFirstOrThrow();
    return r.failed_attempts;
  }
}

export class PasswordHistoryRepository {
  constructor(private readonly db: Db) {}

  async add(userId: number, passwordHash: string, now: number): Promise<void> {
    await this.db.insertInto('password_history').values({ user_id: userId, password_hash: passwordHash, created_at: now }).execute();
  }

  /** The most recent `n` hashes, newest first. */
  async recent(userId: number, n: number): Promise<string[]> {
    if (n <= 0) return [];
    const rows = await this.db
      .selectFrom('password_history')
      .select('password_hash')
      .where('user_id', '=', userId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(n)
      .execute();
    return rows.map((r) => r.password_hash);
  }
}

export class WebSessionsRepository {
  constructor(private readonly db: Db) {}

  async insert(row: WebSessionRow): Promise<void> {
    await this.db.insertInto('web_sessions').values(row).execute();
  }

  async byId(id: string): Promise<WebSessionRow | undefined> {
    return this.db.selectFrom('web_sessions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async forUser(userId: number): Promise<WebSessionRow[]> {
    return this.db.selectFrom('web_sessions').selectAll().where('user_id', '=', userId).execute();
  }

  async touch(id: string, now: number): Promise<void> {
    await this.db.updateTable('web_sessions').set({ last_seen_at: now }).where('id', '=', id).execute();
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('web_sessions').where('id', '=', id).execute();
  }

  async deleteForUser(userId: number): Promise<number> {
    const r = await this.db.deleteFrom('web_sessions').where('user_id', '=', userId).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async deleteExpired(now: number, idleBefore: number): Promise<number> {
    const r = await this.db
      .deleteFrom('web_sessions')
      .where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<', idleBefore)]))
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}

export class SettingsRepository {
  constructor(private readonly db: Db) {}

  async all(): Promise<Record<string, string>> {
    const rows = await this.db.selectFrom('settings').select(['key', 'value']).execute();
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }

  async put(key: string, value: string, by: string | null, now: number): Promise<void> {
    const updated = await this.db
      .updateTable('settings')
      .set({ value, updated_at: now, updated_by: by })
      .where('key', '=', key)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) {
      await this.db.insertInto('settings').values({ key, value, updated_at: now, updated_by: by }).execute();
    }
  }
}

export class MetaRepository {
  constructor(private readonly db: Db) {}

  async get(key: string): Promise<string | undefined> {
    const r = await this.db.selectFrom('appliance_meta').select('value').where('key', '=', key).executeTakeFirst();
    return r?.value;
  }

  async set(key: string, value: string): Promise<void> {
    const updated = await this.db.updateTable('appliance_meta').set({ value }).where('key', '=', key).executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) await this.db.insertInto('appliance_meta').values({ key, value }).execute();
  }
}

export class AuditEventsRepository {
  constructor(private readonly db: Db) {}

  async last(): Promise<Pick<AuditEventRow, 'seq' | 'hash'> | undefined> {
    return this.db.selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  }

  async insert(row: AuditEventRow): Promise<void> {
    await this.db.insertInto('audit_events').values(row).execute();
  }

  /** Rows in chain order, in pages, so a verifier walks millions of rows in bounded memory. */
  async page(afterSeq: number, limit: number): Promise<AuditEventRow[]> {
    return this.db.selectFrom('audit_events').selectAll().where('seq', '>', afterSeq).orderBy('seq').limit(limit).execute();
  }

  async query(filter: { type?: string; subject?: string; since?: number; until?: number; limit: number }): Promise<AuditEventRow[]> {
    let q = this.db.selectFrom('audit_events').selectAll();
    if (filter.type) q = q.where('type', '=', filter.type);
    if (filter.subject) q = q.where('subject', '=', filter.subject);
    if (filter.since !== undefined) q = q.where('ts', '>=', filter.since);
    if (filter.until !== undefined) q = q.where('ts', '<', filter.until);
    return q.orderBy('seq', 'desc').limit(filter.limit).execute();
  }
}

/** All repositories bound to one connection or transaction. */
export class Repositories {
  readonly users: UsersRepository;
  readonly passwordHistory: PasswordHistoryRepository;
  readonly webSessions: WebSessionsRepository;
  readonly settings: SettingsRepository;
  readonly meta: MetaRepository;
  readonly auditEvents: AuditEventsRepository;

  constructor(db: Db) {
    this.users = new UsersRepository(db);
    this.passwordHistory = new PasswordHistoryRepository(db);
    this.webSessions = new WebSessionsRepository(db);
    this.settings = new SettingsRepository(db);
    this.meta = new MetaRepository(db);
    this.auditEvents = new AuditEventsRepository(db);
  }
}
