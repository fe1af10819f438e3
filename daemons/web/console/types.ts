// The shapes the console reads from the API (the server's UserView, AuditEventView, ...), as JSON.

export interface User {
  id: number;
  username: string;
  fullName: string;
  email: string;
  profile: string;
  language: string;
  status: 'active' | 'disabled';
  locked: boolean;
  failedAttempts: number;
  mustChangePassword: boolean;
  mfaMethod: string;
  lastLoginAt: string | null;
  createdAt: string;
}

/** GET /api/v1/me once the session is whole. */
export interface Me {
  user: User;
  permissions: string[];
  /** Whether the user approves access requests for some group (the approvals inbox is theirs). */
  approver?: boolean;
  csrfToken: string;
}

export interface AuditEvent {
  seq: number;
  at: string;
  type: string;
  outcome: 'success' | 'failure' | 'info';
  actor: string | null;
  actorIp: string | null;
  subject: string | null;
  code: string | null;
  eventCode: string | null;
  severity: string | null;
  detail: unknown;
}

export type ChainVerdict = { ok: true; rows: number; lastSeq: number } | { ok: false; rows: number; brokenSeq: number; reason: string };
