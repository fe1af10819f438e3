// Repositories: every query the services make, behind one async interface bound to either the database
// or an open transaction. Only portable SQL (SQLite and MariaDB) is written here.
import { MysqlAdapter, sql, type Kysely, type Transaction } from 'kysely';
import type { Insertable, Updateable } from 'kysely';
import { DevicesRepository } from './devices-repository.js';
import { CredentialsRepository } from './credentials-repository.js';
import { DiscoveryRepository } from './discovery-repository.js';
import { HostKeysRepository } from './host-keys-repository.js';
import { ProtectedItemsRepository } from './protected-items-repository.js';
import { AccessGroupsRepository } from './access-groups-repository.js';
import { AccessRequestsRepository } from './access-requests-repository.js';
import { ConnectivityRepository } from './connectivity-repository.js';
import { RecordingsRepository } from './recordings-repository.js';
import { ChangeFeedRepository } from './change-feed.js';
import { JobLeasesRepository } from './job-leases.js';
import { CommandRulesRepository, SessionCommandsRepository, sessionSearchFor, type SessionSearchRepository } from './session-commands-repository.js';
import { SshKeysRepository } from './ssh-keys-repository.js';
import { RdpTicketsRepository } from './rdp-tickets-repository.js';
import { SessionHostsRepository } from './session-hosts-repository.js';
import { ClusterNodesRepository } from './cluster-nodes-repository.js';
import { DashboardRepository } from './dashboard-repository.js';
import { usernameKey } from '../i18n/index.js';
import { isUniqueViolation } from './errors.js';
import { preparedQuery } from './prepared-query.js';
import type {
  AuditEventRow,
  ProxySessionRow,
  CertificateEventRow,
  CertificateEventsTable,
  Database,
  MfaProviderRow,
  MfaProvidersTable,
  NewUserRow,
  TrustedCaRow,
  TrustedCasTable,
  UserCertificateRow,
  UserCertificatesTable,
  UserRow,
  UserUpdate,
  WebSessionRow,
  WebSessionsTable,
} from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

/** Did the statement change exactly one row? */
function one(r: { numAffectedRows?: bigint }): boolean {
  return r.numAffectedRows === 1n;
}

// The statements of every login and every authenticated request, compiled once (see prepared-query.ts).
/** An audit row's columns but its node, for the two insert statements. */
function auditColumns(r: AuditEventRow) {
  return { seq: r.seq, ts: r.ts, type: r.type, outcome: r.outcome, actor: r.actor, actor_ip: r.actor_ip, subject: r.subject, code: r.code, detail: r.detail, prev_hash: r.prev_hash, hash: r.hash };
}

const hot = {
  // Every live session's bytes, written by the proxy's heartbeat: thousands of rows in one transaction.
  sessionProgress: preparedQuery((db, id: string, bytesIn: number, bytesOut: number, at: number) =>
    db.updateTable('proxy_sessions').set({ bytes_in: bytesIn, bytes_out: bytesOut, progress_at: at }).where('id', '=', id).where('status', '=', 'open'),
  ),
  userById: preparedQuery((db, id: number) => db.selectFrom('users').selectAll().where('id', '=', id)),
  userByUsername: preparedQuery((db, username: string) => db.selectFrom('users').selectAll().where('username', '=', username)),
  reserveAttempt: preparedQuery((db, id: number, max: number, now: number) =>
    db
      .updateTable('users')
      .set((eb) => ({ failed_attempts: eb('failed_attempts', '+', 1), updated_at: now }))
      .where('id', '=', id)
      .where('locked_at', 'is', null)
      .where('failed_attempts', '<', max),
  ),
  refundAttempt: preparedQuery((db, id: number) =>
    db.updateTable('users').set((eb) => ({ failed_attempts: eb('failed_attempts', '-', 1) })).where('id', '=', id).where('failed_attempts', '>', 0),
  ),
  admitLoginReset: preparedQuery((db, id: number, now: number) =>
    db.updateTable('users').set({ failed_attempts: 0, last_login_at: now, updated_at: now }).where('id', '=', id).where('locked_at', 'is', null).where('status', '=', 'active'),
  ),
  admitLoginRefund: preparedQuery((db, id: number, now: number) =>
    db
      .updateTable('users')
      .set((eb) => ({ failed_attempts: eb.case().when('failed_attempts', '>', 0).then(eb('failed_attempts', '-', 1)).else(0).end(), last_login_at: now, updated_at: now }))
      .where('id', '=', id)
      .where('locked_at', 'is', null)
      .where('status', '=', 'active'),
  ),
  // A new source's row, or a new window for a source whose window has passed (and no block running).
  throttleWindow: preparedQuery((db, source: string, now: number, windowStartedBefore: number) => {
    const insert = db.insertInto('login_throttle').values({ source, failures: 0, window_start: now, blocked_until: null, strikes: 0, updated_at: now });
    if (db.getExecutor().adapter instanceof MysqlAdapter) {
      // MariaDB has no ON CONFLICT ... WHERE: the condition goes into each assignment. They run left to right,
      // each seeing the ones before, so window_start (which the condition reads) is assigned last.
      const stale = sql<boolean>`(login_throttle.window_start <= ${windowStartedBefore} AND (login_throttle.blocked_until IS NULL OR login_throttle.blocked_until <= ${now}))`;
      return insert.onDuplicateKeyUpdate({
        updated_at: sql`IF(${stale}, ${now}, login_throttle.updated_at)`,
        failures: sql`IF(${stale}, 0, login_throttle.failures)`,
        window_start: sql`IF(${stale}, ${now}, login_throttle.window_start)`,
      });
    }
    return insert.onConflict((oc) =>
      oc
        .column('source')
        .doUpdateSet({ failures: 0, window_start: now, updated_at: now })
        .where('login_throttle.window_start', '<=', windowStartedBefore)
        .where((eb) => eb.or([eb('login_throttle.blocked_until', 'is', null), eb('login_throttle.blocked_until', '<=', now)])),
    );
  }),
  throttleTake: preparedQuery((db, source: string, limit: number, now: number) =>
    db
      .updateTable('login_throttle')
      .set((eb) => ({ failures: eb('failures', '+', 1), updated_at: now }))
      .where('source', '=', source)
      .where('failures', '<', limit)
      .where((eb) => eb.or([eb('blocked_until', 'is', null), eb('blocked_until', '<=', now)])),
  ),
  throttleRefund: preparedQuery((db, source: string) =>
    db.updateTable('login_throttle').set((eb) => ({ failures: eb('failures', '-', 1) })).where('source', '=', source).where('failures', '>', 0),
  ),
  sessionInsert: preparedQuery((db, r: WebSessionRow) =>
    db.insertInto('web_sessions').values({
      id: r.id,
      user_id: r.user_id,
      client_ip: r.client_ip,
      user_agent: r.user_agent,
      csrf_token: r.csrf_token,
      created_at: r.created_at,
      last_seen_at: r.last_seen_at,
      expires_at: r.expires_at,
      stage: r.stage,
      mfa_method: r.mfa_method,
      certificate_fingerprint: r.certificate_fingerprint,
      mfa_state: r.mfa_state,
    }),
  ),
  sessionById: preparedQuery((db, id: string) => db.selectFrom('web_sessions').selectAll().where('id', '=', id)),
  sessionTouch: preparedQuery((db, id: string, now: number) => db.updateTable('web_sessions').set({ last_seen_at: now }).where('id', '=', id)),
  sessionsDeleteForUser: preparedQuery((db, userId: number) => db.deleteFrom('web_sessions').where('user_id', '=', userId)),
  auditLast: preparedQuery((db) => db.selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1)),
  // MariaDB, inside a write transaction: the head read with an exclusive lock, so appenders on this node
  // queue behind each other instead of all taking a shared lock (SERIALIZABLE) and deadlocking at insert.
  auditLastForUpdate: preparedQuery((db) => db.selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).forUpdate()),
  auditInsert: preparedQuery((db, r: AuditEventRow) => db.insertInto('audit_events').values({ ...auditColumns(r), node_id: r.node_id })),
  // A single appliance's rows name no node: the statement leaves the column out (as before migration 0019).
  auditInsertNoNode: preparedQuery((db, r: AuditEventRow) => db.insertInto('audit_events').values(auditColumns(r))),
  anyMfaProviderEnabled: preparedQuery((db) => db.selectFrom('mfa_providers').select('id').where('enabled', '=', true).limit(1)),
};

export interface UserPageFilter {
  text?: string;
  status?: 'active' | 'disabled' | 'locked';
  /** With status 'locked': only locks taken at or after this time (epoch-ms) still hold. */
  lockedSince?: number;
  limit: number;
  offset: number;
}

export class UsersRepository {
  constructor(private readonly db: Db) {}

  /** Insert an account; its look-alike key is derived here, so no path can store a name without it. */
  async insert(row: Omit<NewUserRow, 'username_key'>): Promise<number> {
    const r = await this.db.insertInto('users').values({ ...row, username_key: usernameKey(row.username) }).executeTakeFirstOrThrow();
    return Number(r.insertId);
  }

  /** The account whose name looks like `username` (same case-folded confusable skeleton), if any. */
  async byUsernameKey(username: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('username_key', '=', usernameKey(username)).executeTakeFirst();
  }

  async byId(id: number): Promise<UserRow | undefined> {
    return (await hot.userById(this.db, id)).rows[0];
  }

  async byUsername(username: string): Promise<UserRow | undefined> {
    return (await hot.userByUsername(this.db, username)).rows[0];
  }

  async list(): Promise<UserRow[]> {
    return this.db.selectFrom('users').selectAll().orderBy('username').execute();
  }

  async count(): Promise<number> {
    const r = await this.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /**
   * One page of accounts by name, filtered by text (user name, full name, e-mail: a substring, case-insensitive
   * for ASCII letters) and status; `lockedSince` counts a lock as still on when it was taken at or after it
   * (the lockout's duration is a setting: the caller computes it). The total counts every match.
   */
  async page(filter: UserPageFilter): Promise<{ rows: UserRow[]; total: number }> {
    let q = this.db.selectFrom('users');
    if (filter.text) {
      // '!' escapes LIKE's wildcards the same way in SQLite and MariaDB (a backslash is not portable).
      const pattern = `%${filter.text.replace(/[!%_]/g, (c) => `!${c}`)}%`;
      const like = (column: 'username' | 'full_name' | 'email') => sql<boolean>`lower(${sql.ref(column)}) like lower(${pattern}) escape '!'`;
      q = q.where((eb) => eb.or([like('username'), like('full_name'), like('email')]));
    }
    if (filter.status === 'active' || filter.status === 'disabled') q = q.where('status', '=', filter.status);
    if (filter.status === 'locked') {
      q = q.where('locked_at', 'is not', null);
      if (filter.lockedSince !== undefined) q = q.where('locked_at', '>=', filter.lockedSince);
    }
    // One after the other: inside a transaction both would share one connection.
    const rows = await q.selectAll().orderBy('username').limit(filter.limit).offset(filter.offset).execute();
    const count = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return { rows, total: Number(count.n) };
  }

  async update(id: number, patch: UserUpdate): Promise<void> {
    await this.db.updateTable('users').set(patch).where('id', '=', id).execute();
  }

  /**
   * Take one of the account's attempts before its password is judged, in one conditional statement: at most
   * `max` attempts are ever in flight or failed, however many arrive at once. False: locked, or no attempt left.
   */
  async reserveAttempt(id: number, max: number, now: number): Promise<boolean> {
    return one(await hot.reserveAttempt(this.db, id, max, now));
  }

  /** Give back a reserved attempt whose password was right (the count of real failures stays). */
  async refundAttempt(id: number): Promise<void> {
    await hot.refundAttempt(this.db, id);
  }

  /** Lock the account if its failures reached `max` and it is not locked yet; true if this call locked it. */
  async lockIfOverLimit(id: number, max: number, now: number): Promise<boolean> {
    const r = await this.db.updateTable('users').set({ locked_at: now, updated_at: now }).where('id', '=', id).where('locked_at', 'is', null).where('failed_attempts', '>=', max).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Lift a lock whose time has passed — only the lock that was seen, so two requests lift it once. */
  async liftLock(id: number, seenLockedAt: number, now: number): Promise<boolean> {
    const r = await this.db.updateTable('users').set({ locked_at: null, failed_attempts: 0, updated_at: now }).where('id', '=', id).where('locked_at', '=', seenLockedAt).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /**
   * A login that passed its password becomes a session only if, at this moment, the account is active and
   * not locked (a parallel wrong guess may have locked it since): checked and written in one statement.
   */
  async admitLogin(id: number, now: number, attempts: 'reset' | 'refund'): Promise<boolean> {
    return one(await (attempts === 'reset' ? hot.admitLoginReset : hot.admitLoginRefund)(this.db, id, now));
  }

  /**
   * Replace the stored password hash only if it is still `seen` (a re-hash at login): a password set or reset
   * while the login was hashing wins. True if replaced.
   */
  async replacePasswordHash(id: number, seen: string, next: string): Promise<boolean> {
    const r = await this.db.updateTable('users').set({ password_hash: next }).where('id', '=', id).where('password_hash', '=', seen).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
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

/** Failures per source address, across accounts: the password-spraying throttle. */
export class LoginThrottleRepository {
  constructor(private readonly db: Db) {}

  /**
   * Take one attempt for `source` before anything is judged. One conditional statement decides, so a burst
   * cannot pass more than `limit` attempts through a window. False: the source is blocked or has none left.
   */
  async reserve(source: string, opts: { limit: number; windowMs: number; now: number }): Promise<boolean> {
    const { limit, windowMs, now } = opts;
    // A window that has passed (and no block running) starts again from zero.
    await hot.throttleWindow(this.db, source, now, now - windowMs);
    return one(await hot.throttleTake(this.db, source, limit, now));
  }

  /** A reserved attempt that succeeded is given back: only failures count. */
  async refund(source: string): Promise<void> {
    await hot.throttleRefund(this.db, source);
  }

  /**
   * After a failure: at `limit` failures the source is blocked for `blockMs`, doubled for each block in a
   * row (at most 16×); a source quiet for a day starts again at 1×. Returns the block's end if this call set it.
   */
  async blockIfOverLimit(source: string, opts: { limit: number; blockMs: number; now: number }): Promise<number | null> {
    const { limit, blockMs, now } = opts;
    const row = await this.db.selectFrom('login_throttle').selectAll().where('source', '=', source).executeTakeFirst();
    if (!row || row.failures < limit || (row.blocked_until !== null && Number(row.blocked_until) > now)) return null;
    const strikes = row.blocked_until !== null && Number(row.blocked_until) < now - 86_400_000 ? 0 : row.strikes;
    const until = now + blockMs * 2 ** Math.min(strikes, 4);
    const r = await this.db
      .updateTable('login_throttle')
      .set({ blocked_until: until, strikes: strikes + 1, failures: 0, window_start: until, updated_at: now })
      .where('source', '=', source)
      .where('failures', '>=', limit)
      .where((eb) => eb.or([eb('blocked_until', 'is', null), eb('blocked_until', '<=', now)]))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1 ? until : null;
  }

  async get(source: string): Promise<{ failures: number; blockedUntil: number | null; strikes: number } | undefined> {
    const row = await this.db.selectFrom('login_throttle').selectAll().where('source', '=', source).executeTakeFirst();
    return row && { failures: row.failures, blockedUntil: row.blocked_until === null ? null : Number(row.blocked_until), strikes: row.strikes };
  }
}

/** Proxied sessions: the row is written at admission and closed once. */
export class ProxySessionsRepository {
  constructor(private readonly db: Db) {}

  async insert(row: Omit<ProxySessionRow, 'host_id' | 'progress_at'> & { host_id?: string | null; progress_at?: number | null }): Promise<void> {
    await this.db.insertInto('proxy_sessions').values({ host_id: null, progress_at: null, ...row }).execute();
  }

  /** The bytes live sessions moved so far (rows that are no longer open are left as they ended). */
  async progress(updates: readonly { id: string; bytesIn: number; bytesOut: number }[], at: number): Promise<void> {
    for (const u of updates) await hot.sessionProgress(this.db, u.id, u.bytesIn, u.bytesOut, at);
  }

  /**
   * Open sessions, newest first, with their recording (if any) and their process's lease expiry (null: the
   * process is gone, or the row predates process leases).
   */
  async live(limit: number, offset = 0): Promise<(ProxySessionRow & { recording_id: string | null; host_expires_at: number | null })[]> {
    return this.db
      .selectFrom('proxy_sessions')
      .leftJoin('recordings', 'recordings.session_id', 'proxy_sessions.id')
      .leftJoin('session_hosts', 'session_hosts.id', 'proxy_sessions.host_id')
      .selectAll('proxy_sessions')
      .select(['recordings.id as recording_id', 'session_hosts.expires_at as host_expires_at'])
      .where('proxy_sessions.status', '=', 'open')
      .orderBy('proxy_sessions.started_at', 'desc')
      .orderBy('proxy_sessions.id')
      .limit(limit)
      .offset(offset)
      .execute();
  }

  /** Open sessions no live process holds: no lease row for their process (it was declared dead), or none named. */
  /** A user's sessions still open with one credential. */
  async openOf(userId: number, credentialId: number): Promise<ProxySessionRow[]> {
    return this.db.selectFrom('proxy_sessions').selectAll().where('user_id', '=', userId).where('credential_id', '=', credentialId).where('status', '=', 'open').execute();
  }

  async orphaned(limit: number): Promise<ProxySessionRow[]> {
    return this.db
      .selectFrom('proxy_sessions')
      .leftJoin('session_hosts', 'session_hosts.id', 'proxy_sessions.host_id')
      .selectAll('proxy_sessions')
      .where('proxy_sessions.status', '=', 'open')
      .where('session_hosts.id', 'is', null)
      .orderBy('proxy_sessions.started_at')
      .limit(limit)
      .execute();
  }

  /** Mark an open session interrupted (its process died); false if it had ended already. */
  async interrupt(id: string, at: number, reason: string): Promise<boolean> {
    const r = await this.db.updateTable('proxy_sessions').set({ status: 'interrupted', ended_at: at, end_reason: reason }).where('id', '=', id).where('status', '=', 'open').executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** How many sessions are open, per protocol. */
  async openCounts(): Promise<Record<string, number>> {
    const rows = await this.db.selectFrom('proxy_sessions').select(['protocol', (eb) => eb.fn.countAll<number>().as('n')]).where('status', '=', 'open').groupBy('protocol').execute();
    return Object.fromEntries(rows.map((r) => [r.protocol, Number(r.n)]));
  }

  /** Close an open session; false if it was closed already (a session ends once). */
  async close(id: string, end: { at: number; reason: string; bytesIn: number; bytesOut: number; exitStatus: number | null }): Promise<boolean> {
    const r = await this.db
      .updateTable('proxy_sessions')
      .set({ status: 'closed', ended_at: end.at, end_reason: end.reason, bytes_in: end.bytesIn, bytes_out: end.bytesOut, exit_status: end.exitStatus })
      .where('id', '=', id)
      .where('status', '=', 'open')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async byId(id: string): Promise<ProxySessionRow | undefined> {
    return this.db.selectFrom('proxy_sessions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async list(filter: { userId?: number; status?: ProxySessionRow['status']; limit: number }): Promise<ProxySessionRow[]> {
    let q = this.db.selectFrom('proxy_sessions').selectAll();
    if (filter.userId !== undefined) q = q.where('user_id', '=', filter.userId);
    if (filter.status) q = q.where('status', '=', filter.status);
    return q.orderBy('started_at', 'desc').limit(filter.limit).execute();
  }
}

export class PasswordHistoryRepository {
  constructor(private readonly db: Db) {}

  async add(userId: number, passwordHash: string, now: number): Promise<void> {
    await this.db.insertInto('password_history').values({ user_id: userId, password_hash: passwordHash, created_at: now }).execute();
  }

  /** The same password's entry re-hashed (at login), so history checks stop paying the old scheme's cost. */
  async replaceHash(userId: number, seen: string, next: string): Promise<void> {
    await this.db.updateTable('password_history').set({ password_hash: next }).where('user_id', '=', userId).where('password_hash', '=', seen).execute();
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
    await hot.sessionInsert(this.db, row);
  }

  async byId(id: string): Promise<WebSessionRow | undefined> {
    return (await hot.sessionById(this.db, id)).rows[0];
  }

  async forUser(userId: number): Promise<WebSessionRow[]> {
    return this.db.selectFrom('web_sessions').selectAll().where('user_id', '=', userId).execute();
  }

  async touch(id: string, now: number): Promise<void> {
    await hot.sessionTouch(this.db, id, now);
  }

  async update(id: string, patch: Updateable<WebSessionsTable>): Promise<void> {
    await this.db.updateTable('web_sessions').set(patch).where('id', '=', id).execute();
  }

  /** The user's fully signed-in session, if any (there is at most one). */
  async completeForUser(userId: number): Promise<WebSessionRow | undefined> {
    return this.db.selectFrom('web_sessions').selectAll().where('user_id', '=', userId).where('stage', '=', 'complete').executeTakeFirst();
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('web_sessions').where('id', '=', id).execute();
  }

  async deleteForUser(userId: number): Promise<number> {
    return Number((await hot.sessionsDeleteForUser(this.db, userId)).numAffectedRows ?? 0n);
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
  /** The head this transaction wrote: a second event in the same transaction links to it without a read. */
  private written: Pick<AuditEventRow, 'seq' | 'hash'> | undefined;

  constructor(
    private readonly db: Db,
    private readonly inTransaction = false,
    private readonly engine: 'sqlite' | 'mariadb' = 'sqlite',
  ) {}

  async last(): Promise<Pick<AuditEventRow, 'seq' | 'hash'> | undefined> {
    if (this.written) return this.written;
    // SQLite's write transaction holds the database's one write lock already (and has no FOR UPDATE).
    const read = this.inTransaction && this.engine === 'mariadb' ? hot.auditLastForUpdate : hot.auditLast;
    return (await read(this.db)).rows[0];
  }

  async insert(row: AuditEventRow): Promise<void> {
    await (row.node_id === null ? hot.auditInsertNoNode : hot.auditInsert)(this.db, row);
    // Inside a transaction no other writer can append after it before the commit (SQLite holds the write
    // lock; on MariaDB a writer that took the same seq fails on the unique key and the transaction runs again).
    if (this.inTransaction) this.written = { seq: row.seq, hash: row.hash };
  }

  /** Rows in chain order, in pages, so a verifier walks millions of rows in bounded memory. */
  async page(afterSeq: number, limit: number): Promise<AuditEventRow[]> {
    return this.db.selectFrom('audit_events').selectAll().where('seq', '>', afterSeq).orderBy('seq').limit(limit).execute();
  }

  /** Newest first; `beforeSeq` continues a previous page (keyset: a deep page costs what the first does). */
  async query(filter: { type?: string; actor?: string; subject?: string; since?: number; until?: number; beforeSeq?: number; limit: number }): Promise<AuditEventRow[]> {
    let q = this.db.selectFrom('audit_events').selectAll();
    if (filter.type) q = q.where('type', '=', filter.type);
    if (filter.actor) q = q.where('actor', '=', filter.actor);
    if (filter.subject) q = q.where('subject', '=', filter.subject);
    if (filter.beforeSeq !== undefined) q = q.where('seq', '<', filter.beforeSeq);
    if (filter.since !== undefined) q = q.where('ts', '>=', filter.since);
    if (filter.until !== undefined) q = q.where('ts', '<', filter.until);
    return q.orderBy('seq', 'desc').limit(filter.limit).execute();
  }
}

export class TrustedCasRepository {
  constructor(private readonly db: Db) {}

  async all(): Promise<TrustedCaRow[]> {
    return this.db.selectFrom('trusted_cas').selectAll().orderBy('id').execute();
  }

  async byId(id: number): Promise<TrustedCaRow | undefined> {
    return this.db.selectFrom('trusted_cas').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async insert(row: Insertable<TrustedCasTable>): Promise<number> {
    return Number((await this.db.insertInto('trusted_cas').values(row).executeTakeFirstOrThrow()).insertId);
  }

  async update(id: number, patch: Updateable<TrustedCasTable>): Promise<void> {
    await this.db.updateTable('trusted_cas').set(patch).where('id', '=', id).execute();
  }
}

export class RevocationRepository {
  constructor(private readonly db: Db) {}

  async revokedSerials(): Promise<{ ca_id: number; serial: string }[]> {
    return this.db.selectFrom('revoked_serials').select(['ca_id', 'serial']).execute();
  }

  /** Record a CRL and make its entries the CA's revoked set (a newer CRL replaces the older one). */
  async replaceCrl(crl: { caId: number; thisUpdate: number; nextUpdate: number | null; der: string; serials: { serial: string; revokedAt: number }[]; at: number; by: string }): Promise<number> {
    const r = await this.db
      .insertInto('crls')
      .values({ ca_id: crl.caId, this_update: crl.thisUpdate, next_update: crl.nextUpdate, entries: crl.serials.length, der: crl.der, installed_at: crl.at, installed_by: crl.by })
      .executeTakeFirstOrThrow();
    const crlId = Number(r.insertId);
    await this.db.deleteFrom('revoked_serials').where('ca_id', '=', crl.caId).execute();
    for (const s of crl.serials) {
      await this.db.insertInto('revoked_serials').values({ ca_id: crl.caId, serial: s.serial, revoked_at: s.revokedAt, crl_id: crlId }).execute();
    }
    return crlId;
  }
}

export class UserCertificatesRepository {
  constructor(private readonly db: Db) {}

  async boundFor(userId: number): Promise<UserCertificateRow | undefined> {
    return this.db.selectFrom('user_certificates').selectAll().where('user_id', '=', userId).where('status', '=', 'bound').executeTakeFirst();
  }

  async byId(id: number): Promise<UserCertificateRow | undefined> {
    return this.db.selectFrom('user_certificates').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * Insert a binding that claims its certificate's fingerprint. The unique index on the claim is the check
   * and the act in one statement: answers undefined (nothing written) when any binding, on any account,
   * bound or revoked, already holds that fingerprint.
   */
  async insert(row: Omit<Insertable<UserCertificatesTable>, 'fingerprint_claim'>): Promise<number | undefined> {
    try {
      return Number((await this.db.insertInto('user_certificates').values({ ...row, fingerprint_claim: row.fingerprint }).executeTakeFirstOrThrow()).insertId);
    } catch (e) {
      if (isUniqueViolation(e, { table: 'user_certificates', column: 'fingerprint_claim' })) return undefined;
      throw e;
    }
  }

  /** The binding that owns this fingerprint (bound or revoked), on whatever account. */
  async claimOf(fingerprint: string): Promise<(UserCertificateRow & { username: string }) | undefined> {
    return this.db
      .selectFrom('user_certificates')
      .innerJoin('users', 'users.id', 'user_certificates.user_id')
      .selectAll('user_certificates')
      .select('users.username')
      .where('user_certificates.fingerprint_claim', '=', fingerprint)
      .executeTakeFirst();
  }

  async update(id: number, patch: Updateable<UserCertificatesTable>): Promise<void> {
    await this.db.updateTable('user_certificates').set(patch).where('id', '=', id).execute();
  }

  async list(filter: { userId?: number; status?: 'bound' | 'revoked' }, page?: { limit: number; offset: number }): Promise<(UserCertificateRow & { username: string })[]> {
    let q = this.db.selectFrom('user_certificates').innerJoin('users', 'users.id', 'user_certificates.user_id').selectAll('user_certificates').select('users.username');
    if (filter.userId !== undefined) q = q.where('user_certificates.user_id', '=', filter.userId);
    if (filter.status) q = q.where('user_certificates.status', '=', filter.status);
    q = q.orderBy('user_certificates.id');
    if (page) q = q.limit(page.limit).offset(page.offset);
    return q.execute();
  }

  async count(filter: { userId?: number; status?: 'bound' | 'revoked' }): Promise<number> {
    let q = this.db.selectFrom('user_certificates').select((eb) => eb.fn.countAll<number>().as('n'));
    if (filter.userId !== undefined) q = q.where('user_certificates.user_id', '=', filter.userId);
    if (filter.status) q = q.where('user_certificates.status', '=', filter.status);
    return Number((await q.executeTakeFirstOrThrow()).n);
  }
}

export class CertificateEventsRepository {
  constructor(private readonly db: Db) {}

  async insert(row: Insertable<CertificateEventsTable>): Promise<void> {
    await this.db.insertInto('certificate_events').values(row).execute();
  }

  async query(filter: { userId?: number; since?: number; until?: number; limit: number }): Promise<CertificateEventRow[]> {
    let q = this.db.selectFrom('certificate_events').selectAll();
    if (filter.userId !== undefined) q = q.where('user_id', '=', filter.userId);
    if (filter.since !== undefined) q = q.where('ts', '>=', filter.since);
    if (filter.until !== undefined) q = q.where('ts', '<', filter.until);
    return q.orderBy('ts', 'desc').orderBy('id', 'desc').limit(filter.limit).execute();
  }
}

export class TotpRepository {
  constructor(private readonly db: Db) {}

  async get(userId: number) {
    return this.db.selectFrom('totp_credentials').selectAll().where('user_id', '=', userId).executeTakeFirst();
  }

  async put(userId: number, secretSealed: string, now: number): Promise<void> {
    await this.db.deleteFrom('totp_credentials').where('user_id', '=', userId).execute();
    await this.db.insertInto('totp_credentials').values({ user_id: userId, secret_sealed: secretSealed, confirmed: false, last_time_step: null, created_at: now }).execute();
  }

  /**
   * Accept `timeStep` only if it is newer than the last accepted one — one atomic UPDATE, so two
   * concurrent uses of the same code cannot both win. Returns whether it was accepted.
   */
  async advance(userId: number, timeStep: number): Promise<boolean> {
    const r = await this.db
      .updateTable('totp_credentials')
      .set({ last_time_step: timeStep, confirmed: true })
      .where('user_id', '=', userId)
      .where((eb) => eb.or([eb('last_time_step', 'is', null), eb('last_time_step', '<', timeStep)]))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async remove(userId: number): Promise<void> {
    await this.db.deleteFrom('totp_credentials').where('user_id', '=', userId).execute();
  }
}

export class MfaProvidersRepository {
  constructor(private readonly db: Db) {}

  async all(): Promise<MfaProviderRow[]> {
    return this.db.selectFrom('mfa_providers').selectAll().orderBy('id').execute();
  }

  async byId(id: number): Promise<MfaProviderRow | undefined> {
    return this.db.selectFrom('mfa_providers').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async enabled(kind: 'duo'): Promise<MfaProviderRow | undefined> {
    return this.db.selectFrom('mfa_providers').selectAll().where('kind', '=', kind).where('enabled', '=', true).orderBy('id').executeTakeFirst();
  }

  async anyEnabled(): Promise<boolean> {
    return (await hot.anyMfaProviderEnabled(this.db)).rows.length > 0;
  }

  async insert(row: Insertable<MfaProvidersTable>): Promise<number> {
    return Number((await this.db.insertInto('mfa_providers').values(row).executeTakeFirstOrThrow()).insertId);
  }

  async highestId(): Promise<number> {
    return Number((await this.db.selectFrom('mfa_providers').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst())?.m ?? 0);
  }

  async update(id: number, patch: Updateable<MfaProvidersTable>): Promise<void> {
    await this.db.updateTable('mfa_providers').set(patch).where('id', '=', id).execute();
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
  readonly loginThrottle: LoginThrottleRepository;
  readonly proxySessions: ProxySessionsRepository;
  readonly recordings: RecordingsRepository;
  readonly trustedCas: TrustedCasRepository;
  readonly revocation: RevocationRepository;
  readonly userCertificates: UserCertificatesRepository;
  readonly certificateEvents: CertificateEventsRepository;
  readonly totp: TotpRepository;
  readonly mfaProviders: MfaProvidersRepository;
  readonly devices: DevicesRepository;
  readonly credentials: CredentialsRepository;
  readonly discovery: DiscoveryRepository;
  readonly hostKeys: HostKeysRepository;
  readonly protectedItems: ProtectedItemsRepository;
  readonly accessGroups: AccessGroupsRepository;
  readonly accessRequests: AccessRequestsRepository;
  readonly connectivity: ConnectivityRepository;
  /** Announce changes to the other processes (in a transaction only: with the change, or not at all). */
  readonly changes: ChangeFeedRepository;
  readonly jobLeases: JobLeasesRepository;
  readonly commandRules: CommandRulesRepository;
  readonly sessionCommands: SessionCommandsRepository;
  /** Full-text search over sessions' commands and output: the one engine-specific repository. */
  readonly sessionSearch: SessionSearchRepository;
  readonly sshKeys: SshKeysRepository;
  readonly sessionHosts: SessionHostsRepository;
  readonly rdpTickets: RdpTicketsRepository;
  /** The cluster's nodes (where each one's recordings are fetched from). */
  readonly clusterNodes: ClusterNodesRepository;
  /** The console dashboard's bounded counts across tables. */
  readonly dashboard: DashboardRepository;
  private readonly committed: (() => void)[] | undefined;

  /** `inTransaction`: work queued with afterCommit waits for the commit (and is dropped on rollback). */
  constructor(db: Db, inTransaction = false, engine: 'sqlite' | 'mariadb' = 'sqlite') {
    this.committed = inTransaction ? [] : undefined;
    this.users = new UsersRepository(db);
    this.passwordHistory = new PasswordHistoryRepository(db);
    this.webSessions = new WebSessionsRepository(db);
    this.settings = new SettingsRepository(db);
    this.meta = new MetaRepository(db);
    this.auditEvents = new AuditEventsRepository(db, inTransaction, engine);
    this.loginThrottle = new LoginThrottleRepository(db);
    this.proxySessions = new ProxySessionsRepository(db);
    this.recordings = new RecordingsRepository(db);
    this.trustedCas = new TrustedCasRepository(db);
    this.revocation = new RevocationRepository(db);
    this.userCertificates = new UserCertificatesRepository(db);
    this.certificateEvents = new CertificateEventsRepository(db);
    this.totp = new TotpRepository(db);
    this.mfaProviders = new MfaProvidersRepository(db);
    this.devices = new DevicesRepository(db);
    this.credentials = new CredentialsRepository(db);
    this.discovery = new DiscoveryRepository(db);
    this.hostKeys = new HostKeysRepository(db);
    this.protectedItems = new ProtectedItemsRepository(db);
    this.accessGroups = new AccessGroupsRepository(db);
    this.accessRequests = new AccessRequestsRepository(db);
    this.connectivity = new ConnectivityRepository(db);
    this.changes = new ChangeFeedRepository(db, inTransaction);
    this.jobLeases = new JobLeasesRepository(db);
    this.commandRules = new CommandRulesRepository(db);
    this.sessionCommands = new SessionCommandsRepository(db);
    this.sessionSearch = sessionSearchFor(engine, db);
    this.sshKeys = new SshKeysRepository(db);
    this.sessionHosts = new SessionHostsRepository(db);
    this.rdpTickets = new RdpTicketsRepository(db);
    this.clusterNodes = new ClusterNodesRepository(db);
    this.dashboard = new DashboardRepository(db);
  }

  /** Run `fn` once the surrounding transaction has committed (at once outside a transaction). */
  afterCommit(fn: () => void): void {
    if (this.committed) this.committed.push(fn);
    else fn();
  }

  /** Called by Store.transaction after the commit. */
  runCommitted(): void {
    for (const fn of this.committed?.splice(0) ?? []) {
      try {
        fn();
      } catch {
        // After-commit work (exporters) must not turn a committed change into a reported failure.
      }
    }
  }
}
