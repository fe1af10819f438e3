// Row types of the database, as Kysely sees them. Timestamps are epoch milliseconds (bigint columns);
// booleans are 0/1 integers so SQLite and MariaDB read the same.
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export interface UsersTable {
  id: Generated<number>;
  username: string;
  full_name: string;
  email: string;
  profile: string;
  language: string;
  password_hash: string;
  password_changed_at: number;
  must_change_password: number;
  status: 'active' | 'disabled';
  failed_attempts: number;
  locked_at: number | null;
  last_login_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface PasswordHistoryTable {
  id: Generated<number>;
  user_id: number;
  password_hash: string;
  created_at: number;
}

export interface WebSessionsTable {
  /** SHA-256 of the session token: the token itself is never stored. */
  id: string;
  user_id: number;
  client_ip: string;
  user_agent: string;
  csrf_token: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
}

export interface SettingsTable {
  key: string;
  value: string;
  updated_at: number;
  updated_by: string | null;
}

export interface ApplianceMetaTable {
  key: string;
  value: string;
}

export interface AuditEventsTable {
  seq: number;
  ts: number;
  type: string;
  outcome: string;
  actor: string | null;
  actor_ip: string | null;
  subject: string | null;
  code: string | null;
  detail: string;
  prev_hash: string;
  hash: string;
}

export interface Database {
  users: UsersTable;
  password_history: PasswordHistoryTable;
  web_sessions: WebSessionsTable;
  settings: SettingsTable;
  appliance_meta: ApplianceMetaTable;
  audit_events: AuditEventsTable;
}

export type UserRow = Selectable<UsersTable>;
export type NewUserRow = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type WebSessionRow = Selectable<WebSessionsTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
