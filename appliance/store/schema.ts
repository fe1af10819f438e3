// Row types of the database, as Kysely sees them. Timestamps are epoch milliseconds (bigint columns) and
// reach services as numbers; flags are 0/1 integer columns that reach services as booleans (the engine
// converts both ways, for the columns listed in BOOLEAN_COLUMNS).
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
  must_change_password: boolean;
  status: 'active' | 'disabled';
  failed_attempts: number;
  locked_at: number | null;
  last_login_at: number | null;
  created_at: number;
  updated_at: number;
  /** The second factor this account uses: none, certificate, totp or duo. */
  mfa_method: Generated<MfaMethod>;
  /** usernameKey(username): unique, so no two names look alike. */
  username_key: string;
}

export interface ProxySessionsTable {
  id: string;
  user_id: number;
  username: string;
  device_id: number;
  hostname: string;
  credential_id: number;
  credential_username: string;
  protocol: 'ssh' | 'rdp';
  source_ip: string;
  reason: string;
  rule: string;
  group_id: number | null;
  grant_id: number | null;
  emergency: boolean;
  /** interrupted: the process that held it died (its lease lapsed) before it closed. */
  status: 'open' | 'closed' | 'interrupted';
  started_at: number;
  ended_at: number | null;
  end_reason: string | null;
  /** So far while open (see progress_at), final once closed. */
  bytes_in: number;
  bytes_out: number;
  exit_status: number | null;
  /** The process holding the session (a session_hosts id); null on rows from before migration 0012. */
  host_id: string | null;
  /** When bytes_in/bytes_out were last written while open. */
  progress_at: number | null;
}

export type ProxySessionRow = Selectable<ProxySessionsTable>;

/** A session's recording file (see migration 0009). */
export interface RecordingsTable {
  id: string;
  session_id: string;
  /** The file's name inside the recordings directory. */
  file: string;
  protocol: string;
  /** version(1) ‖ wrapped data key, base64: the shape of a sealed envelope's head, so rotation re-wraps it. */
  key_sealed: string;
  status: 'recording' | 'complete' | 'failed';
  started_at: number;
  ended_at: number | null;
  bytes: number;
  chunks: number;
  /** The cluster node whose recordings directory holds the file (null: made before clustering, on this node). */
  node_id: string | null;
}

/** A node of the cluster (see migration 0017): where its web daemon is, and its certificate's pin. */
export interface ClusterNodesTable {
  id: string;
  name: string;
  /** https://host:port of its web daemon: where peers fetch its recordings. */
  internal_url: string;
  /** Lower-case hex SHA-256 of its web certificate (DER): peers accept no other certificate from it. */
  tls_fingerprint: string;
  state: 'active' | 'left';
  joined_at: number;
  left_at: number | null;
  updated_at: number;
}

export type ClusterNodeRow = Selectable<ClusterNodesTable>;

export interface LoginThrottleTable {
  source: string;
  failures: number;
  window_start: number;
  blocked_until: number | null;
  strikes: number;
  updated_at: number;
}

export type MfaMethod = 'none' | 'certificate' | 'totp' | 'duo';

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
  /** 'mfa': the password was right, the second factor is still due; 'complete': fully signed in. */
  stage: 'mfa' | 'complete';
  /** How the second factor was satisfied (null: none was required). */
  mfa_method: MfaMethod | null;
  /** The bound certificate this session was authenticated with (certificate MFA only). */
  certificate_fingerprint: string | null;
  /** Pending external-MFA state (the Duo OAuth state) while stage is 'mfa'. */
  mfa_state: string | null;
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
  /** The cluster node that wrote the row (null: written before node ids, on a single appliance). */
  node_id: string | null;
}

export interface TrustedCasTable {
  id: Generated<number>;
  subject: string;
  issuer: string;
  serial: string;
  /** SHA-256 fingerprint, colon-separated upper-case hex (as node:crypto prints it). */
  fingerprint: string;
  not_before: number;
  not_after: number;
  self_signed: boolean;
  parent_id: number | null;
  active: boolean;
  pem: string;
  installed_at: number;
  installed_by: string;
  updated_at: number;
}

export interface CrlsTable {
  id: Generated<number>;
  ca_id: number;
  this_update: number;
  next_update: number | null;
  entries: number;
  der: string;
  installed_at: number;
  installed_by: string;
}

export interface RevokedSerialsTable {
  ca_id: number;
  serial: string;
  revoked_at: number;
  crl_id: number;
}

export interface UserCertificatesTable {
  id: Generated<number>;
  user_id: number;
  fingerprint: string;
  issuer: string;
  serial: string;
  subject: string;
  email: string;
  not_before: number;
  not_after: number;
  pem: string;
  status: 'bound' | 'revoked';
  bound_at: number;
  first_used_at: number;
  last_used_at: number;
  revoked_at: number | null;
  revoked_by: string | null;
  /**
   * The fingerprint again, under a unique index: the row that holds it owns the certificate for good, bound
   * or revoked, so no other row (no other account, no later binding) can take it. NULL only on duplicates
   * that existed before migration 0006 (all revoked by it).
   */
  fingerprint_claim: string | null;
  /**
   * Intermediate CAs the client sent at its last certificate login on the web that the chain needed (PEM, leaf
   * side first); NULL when the trust store held the whole chain. The SSH proxy builds the chain with them.
   */
  chain_pem: string | null;
}

export interface CertificateEventsTable {
  id: Generated<number>;
  ts: number;
  event: 'bind' | 'use' | 'failure' | 'revoke';
  user_id: number | null;
  username: string | null;
  fingerprint: string | null;
  subject: string | null;
  code: string | null;
  ip: string | null;
}

export interface TotpCredentialsTable {
  user_id: number;
  secret_sealed: string;
  confirmed: boolean;
  last_time_step: number | null;
  created_at: number;
}

export interface MfaProvidersTable {
  id: Generated<number>;
  name: string;
  kind: 'duo';
  enabled: boolean;
  api_host: string;
  client_id: string;
  client_secret_sealed: string;
  created_at: number;
  updated_at: number;
}

export interface DeviceCatalogTable {
  id: Generated<number>;
  kind: 'vendor' | 'type' | 'model' | 'site';
  name: string;
}

export interface DevicesTable {
  id: Generated<number>;
  hostname: string;
  address: string;
  vendor_id: number | null;
  type_id: number | null;
  model_id: number | null;
  site_id: number | null;
  field1: string;
  field2: string;
  domain: string;
  /** "SSH:22,RDP:3389": protocol:port pairs the device offers. */
  connectivity: string;
  status: 'active' | 'disabled';
  created_at: number;
  updated_at: number;
  /** The credential discovery runs with on this device, and when it last ran (migration 0025). */
  discovery_credential_id: Generated<number | null>;
  discovered_at: Generated<number | null>;
}

/** One thing a discovery run found on a device (migration 0025). */
export interface DiscoveryFindingsTable {
  id: Generated<number>;
  device_id: number;
  kind: 'account' | 'ssh-key';
  name: string;
  /** JSON: uid, groups, privileged (why), shell, password age; for a key its type, comment, account. */
  detail: string;
  detail_hash: string;
  state: 'new' | 'changed' | 'unchanged' | 'gone';
  review: 'pending' | 'imported' | 'dismissed';
  credential_id: number | null;
  first_seen: number;
  last_seen: number;
  reviewed_by: string | null;
}

/** Every secret a credential has held and when it was the vault's (migration 0020). */
export interface CredentialVersionsTable {
  id: Generated<number>;
  credential_id: number;
  version: number;
  /** Sealed for `credential:<credential_id>`, as the credential row's. */
  secret_sealed: string;
  source: 'create' | 'update' | 'rotation' | 'reconcile' | 'migrated';
  created_by: string;
  valid_from: number;
  /** Null: the current one. */
  valid_until: number | null;
}

export interface CredentialsTable {
  id: Generated<number>;
  device_id: number;
  kind: string;
  username: string;
  secret_kind: 'password' | 'ssh-key';
  secret_sealed: string;
  domain: string;
  extra_info: string;
  /** JSON array of strings. */
  labels: string;
  owner: string;
  auto_change: boolean;
  status_control: boolean;
  /** Status control's last verdict on the vaulted password (migration 0021). */
  status_state: Generated<'unchecked' | 'working' | 'failing'>;
  status_checked_at: number | null;
  status_detail: Generated<string>;
  /** The change account: a credential of the same device that may set this one's password (migration 0022). */
  change_credential_id: Generated<number | null>;
  /** Days between scheduled rotations; null: the appliance's setting (migration 0022). */
  rotation_interval_days: Generated<number | null>;
  /** JSON of this credential's own password template; null: its device type's, else the default (migration 0023). */
  password_template: Generated<string | null>;
  /** Shared access, not simultaneous: held by one user at a time (migration 0024). */
  exclusive: Generated<boolean>;
  /** PCI split: the secret is shown in two halves, each to a different user. */
  split_view: boolean;
  status: 'active' | 'disabled';
  created_at: number;
  updated_at: number;
}

/** What a pinned key or certificate is for: SSH host keys; RDP, MySQL/MariaDB and LDAP TLS certificates. */
export type PinnedProtocol = 'ssh' | 'rdp' | 'mysql' | 'ldap';

export interface PinnedHostKeysTable {
  device_id: number;
  protocol: PinnedProtocol;
  fingerprint: string;
  pinned_at: number;
}

export interface ProtectedItemsTable {
  id: Generated<number>;
  name: string;
  kind: 'file' | 'token' | 'certificate';
  filename: string;
  media_type: string;
  size: number;
  content_sealed: string;
  /** Who stored it (a user name); not who may open it. */
  owner: string;
  /** The device or the access group the item belongs to (exactly one; both null for items from before owners). */
  device_id: number | null;
  group_id: number | null;
  created_at: number;
}

export interface AccessGroupsTable {
  id: Generated<number>;
  name: string;
  enabled: boolean;
  session_allowed: boolean;
  password_view_allowed: boolean;
  reason_required: boolean;
  approval_required: boolean;
  approvals_needed: number;
  /** JSON array of {days: number[], start: "HH:MM", end: "HH:MM"}; [] = any time. */
  time_windows: string;
  created_at: number;
  updated_at: number;
  /** How the group's command rules apply: 'rules' (unmatched runs) or 'allow-list' (unmatched is blocked). */
  command_mode: Generated<'rules' | 'allow-list'>;
  /** Whether the terminal proxy opens direct-tcpip channels (`ssh -L`, `ssh -W`) for sessions this group admits. */
  allow_port_forwarding: Generated<boolean>;
  /** Whether the terminal proxy forwards the user's SSH agent (`ssh -A`) to the target for sessions this group admits. */
  allow_agent_forwarding: Generated<boolean>;
  /** Days its credentials' secrets live before the schedule rotates them; null: no schedule of the group's (migration 0026). */
  rotation_interval_days: Generated<number | null>;
}

/** A group's command rules, in order (position 0 first). */
export interface AccessGroupCommandRulesTable {
  group_id: number;
  position: number;
  pattern: string;
  action: 'allow' | 'alert' | 'block';
}

/** A command entered in a proxied session, as the target's echo showed it. */
export interface SessionCommandsTable {
  id: Generated<number>;
  session_id: string;
  at: number;
  /** Milliseconds from the start of the session's recording. */
  offset_ms: number;
  command: string;
  exit_status: number | null;
  action: 'allow' | 'alert' | 'block';
}

/** A chunk of a session's output, as text (escape sequences removed), for full-text search. */
export interface SessionOutputTextTable {
  id: Generated<number>;
  session_id: string;
  at: number;
  offset_ms: number;
  text: string;
}

export interface GroupMemberTable {
  group_id: number;
  user_id: number;
}

export interface AccessRequestsTable {
  id: Generated<number>;
  user_id: number;
  device_id: number;
  credential_id: number;
  purpose: 'session' | 'password-view';
  group_id: number | null;
  reason: string;
  starts_at: number;
  ends_at: number;
  approvals_needed: number;
  status: 'pending' | 'approved' | 'denied' | 'cancelled';
  emergency: boolean;
  created_at: number;
  decided_at: number | null;
}

export interface AccessRequestDecisionsTable {
  request_id: number;
  approver_id: number;
  decision: 'approve' | 'deny';
  comment: string;
  decided_at: number;
}

export interface ConnectivityResultsTable {
  device_id: number;
  port: number;
  protocol: string;
  ok: boolean;
  detail: string;
  checked_at: number;
}

/** The 0/1 columns that are booleans to everything above the engine (table.column). */
export const BOOLEAN_COLUMNS: ReadonlySet<string> = new Set([
  'proxy_sessions.emergency',
  'users.must_change_password',
  'trusted_cas.self_signed',
  'trusted_cas.active',
  'totp_credentials.confirmed',
  'mfa_providers.enabled',
  'credentials.auto_change',
  'credentials.status_control',
  'credentials.split_view',
  'credentials.exclusive',
  'access_groups.enabled',
  'access_groups.session_allowed',
  'access_groups.password_view_allowed',
  'access_groups.reason_required',
  'access_groups.approval_required',
  'access_groups.allow_port_forwarding',
  'access_groups.allow_agent_forwarding',
  'access_requests.emergency',
  'connectivity_results.ok',
]);
/** Who holds an exclusive credential now (migration 0024). */
export interface CredentialCheckoutsTable {
  credential_id: number;
  user_id: number;
  username: string;
  purpose: 'session' | 'password-view';
  session_id: string | null;
  checked_out_at: number;
  /** Null while a session holds it. */
  expires_at: number | null;
}

/** The password template of a device type (lower-cased), as JSON (migration 0023). */
export interface PasswordTemplatesTable {
  device_type: string;
  template: string;
  updated_at: number;
}

/** A rotation waiting to run, one per credential (migration 0022). */
export interface RotationQueueTable {
  credential_id: number;
  trigger_kind: 'after-use' | 'after-view' | 'schedule' | 'reconcile' | 'check-in';
  /** What asked for it (a session, a password view, the schedule): words for the audit event, no secret. */
  reason: string;
  due_at: number;
  attempts: Generated<number>;
  last_error: Generated<string>;
  created_at: number;
}

/** One announced change: append-only, followed by every daemon (see ChangeFeed). */
export interface ChangeFeedTable {
  seq: number;
  topic: string;
  subject: string;
  /** JSON of the topic's payload. */
  payload: string;
  created_at: number;
}

/** A process holding proxied sessions, alive while its lease is renewed (see migration 0012). */
export interface SessionHostsTable {
  id: string;
  started_at: number;
  expires_at: number;
}

/** Which process runs a periodic job now, until when, and when a run last started (anywhere). */
export interface JobLeasesTable {
  name: string;
  holder: string;
  expires_at: number;
  last_started_at: number;
}

export interface UserSshKeysTable {
  id: Generated<number>;
  user_id: number;
  /** The key type as OpenSSH names it: ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa, ... */
  algorithm: string;
  /** base64 of the SSH wire-format public key blob (what an authorized_keys line carries). */
  public_key: string;
  /** "SHA256:" + unpadded base64 of the blob's SHA-256, as `ssh-keygen -l` prints it. */
  fingerprint: string;
  comment: string;
  created_at: number;
  last_used_at: number | null;
}

/** A one-time RDP ticket: only its hash, what it is bound to, and whether it was used (migration 0016). */
export interface RdpTicketsTable {
  id: Generated<number>;
  /** Hex SHA-256 of the ticket the .rdp file carries. */
  ticket_hash: string;
  user_id: number;
  device_id: number;
  credential_id: number;
  /** The client's address (normalized) the ticket must be redeemed from. */
  source_ip: string;
  /** How the web session that asked for it was authenticated: password, password+totp, password+certificate, password+duo. */
  auth_method: string;
  /** The certificate of that web session, when it was authenticated with one. */
  certificate_fingerprint: string | null;
  /** The reason given for the session, when the group asks for one ('' otherwise). */
  reason: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface Database {
  users: UsersTable;
  login_throttle: LoginThrottleTable;
  proxy_sessions: ProxySessionsTable;
  session_hosts: SessionHostsTable;
  recordings: RecordingsTable;
  password_history: PasswordHistoryTable;
  web_sessions: WebSessionsTable;
  settings: SettingsTable;
  appliance_meta: ApplianceMetaTable;
  audit_events: AuditEventsTable;
  trusted_cas: TrustedCasTable;
  crls: CrlsTable;
  revoked_serials: RevokedSerialsTable;
  user_certificates: UserCertificatesTable;
  certificate_events: CertificateEventsTable;
  totp_credentials: TotpCredentialsTable;
  mfa_providers: MfaProvidersTable;
  device_catalog: DeviceCatalogTable;
  credential_split_holders: { credential_id: number; half: number; user_id: number; viewed_at: number };
  devices: DevicesTable;
  credentials: CredentialsTable;
  credential_versions: CredentialVersionsTable;
  rotation_queue: RotationQueueTable;
  password_templates: PasswordTemplatesTable;
  credential_checkouts: CredentialCheckoutsTable;
  discovery_findings: DiscoveryFindingsTable;
  pinned_host_keys: PinnedHostKeysTable;
  protected_items: ProtectedItemsTable;
  access_groups: AccessGroupsTable;
  access_group_command_rules: AccessGroupCommandRulesTable;
  session_commands: SessionCommandsTable;
  session_output_text: SessionOutputTextTable;
  access_group_users: GroupMemberTable;
  access_group_approvers: GroupMemberTable;
  access_group_devices: { group_id: number; device_id: number };
  access_group_credentials: { group_id: number; credential_id: number };
  access_requests: AccessRequestsTable;
  access_request_decisions: AccessRequestDecisionsTable;
  connectivity_results: ConnectivityResultsTable;
  change_feed: ChangeFeedTable;
  change_feed_head: { id: number; seq: number };
  job_leases: JobLeasesTable;
  user_ssh_keys: UserSshKeysTable;
  rdp_tickets: RdpTicketsTable;
  cluster_nodes: ClusterNodesTable;
}

export type UserRow = Selectable<UsersTable>;
export type NewUserRow = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type WebSessionRow = Selectable<WebSessionsTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
export type TrustedCaRow = Selectable<TrustedCasTable>;
export type UserCertificateRow = Selectable<UserCertificatesTable>;
export type CertificateEventRow = Selectable<CertificateEventsTable>;
export type MfaProviderRow = Selectable<MfaProvidersTable>;
export type DeviceRow = Selectable<DevicesTable>;
export type CredentialRow = Selectable<CredentialsTable>;
export type CredentialVersionRow = Selectable<CredentialVersionsTable>;
export type RotationQueueRow = Selectable<RotationQueueTable>;
export type CredentialCheckoutRow = Selectable<CredentialCheckoutsTable>;
export type DiscoveryFindingRow = Selectable<DiscoveryFindingsTable>;
export type AccessGroupRow = Selectable<AccessGroupsTable>;
export type AccessRequestRow = Selectable<AccessRequestsTable>;
export type ChangeFeedRow = Selectable<ChangeFeedTable>;
export type JobLeaseRow = Selectable<JobLeasesTable>;
export type UserSshKeyRow = Selectable<UserSshKeysTable>;
export type RdpTicketRow = Selectable<RdpTicketsTable>;
