// Typed errors with stable codes: the code is what audit rows, tests and the API speak.
// The message may be shown to an operator; it never carries a secret.

export type ErrorCode =
  // authentication (clients see only "Invalid user credentials")
  | 'AUTH_INVALID'
  | 'AUTH_UNKNOWN_USER'
  | 'AUTH_BAD_PASSWORD'
  | 'AUTH_LOCKED'
  | 'AUTH_DISABLED'
  | 'AUTH_IP_DENIED'
  | 'AUTH_THROTTLED'
  // a key offered at an SSH login is neither registered for the account nor its certificate's
  | 'AUTH_KEY_UNKNOWN'
  | 'AUTH_SIGNATURE_INVALID'
  // a right factor whose login this door cannot finish (a second factor it cannot ask for)
  | 'AUTH_FACTOR_UNAVAILABLE'
  // access
  | 'ACCESS_DENIED'
  | 'AUTH_SESSION_INVALID'
  | 'AUTH_SESSION_EXPIRED'
  | 'AUTH_SESSION_IDLE'
  | 'AUTH_SESSION_IP_CHANGED'
  | 'AUTH_SESSION_REPLACED'
  | 'AUTH_PASSWORD_CHANGE_REQUIRED'
  | 'AUTH_CSRF'
  | 'AUTH_FORBIDDEN'
  // certificate login (each a reason for the audit row; the client sees only the generic message)
  | 'CERT_MISSING'
  | 'CERT_MALFORMED'
  | 'CERT_EXPIRED'
  | 'CERT_NOT_YET_VALID'
  | 'CERT_UNTRUSTED'
  | 'CERT_SIGNATURE_INVALID'
  | 'CERT_CA_INACTIVE'
  | 'CERT_CA_EXPIRED'
  | 'CERT_REVOKED'
  | 'CERT_EKU'
  | 'CERT_NOT_END_ENTITY'
  | 'CERT_EMAIL_MISMATCH'
  | 'CERT_NOT_BOUND_CERT'
  | 'CERT_BOUND_ELSEWHERE'
  // trust store: a CA whose subject is an installed CA's, with another key
  | 'CA_SUBJECT_CONFLICT'
  // other second factors
  | 'MFA_REQUIRED'
  | 'MFA_TOTP_INVALID'
  | 'MFA_TOTP_REPLAY'
  | 'MFA_TOTP_NOT_ENROLLED'
  | 'MFA_DUO_DENIED'
  | 'MFA_DUO_STATE'
  | 'MFA_DUO_UNAVAILABLE'
  | 'MFA_PROVIDER_INVALID'
  // password rules
  | 'PASSWORD_TOO_SHORT'
  | 'PASSWORD_TOO_LONG'
  | 'PASSWORD_TOO_SIMPLE'
  | 'PASSWORD_CONTAINS_USERNAME'
  | 'PASSWORD_REUSED'
  | 'PASSWORD_SAME_AS_CURRENT'
  // keys
  | 'KEYS_MODULE_MISSING'
  | 'KEYS_TOKEN_MISSING'
  | 'KEYS_PIN_INCORRECT'
  | 'KEYS_PIN_LOCKED'
  | 'KEYS_MASTER_KEY_MISSING'
  | 'KEYS_MASTER_KEY_EXISTS'
  | 'KEYS_AUDIT_KEY_MISSING'
  | 'KEYS_AUDIT_KEY_EXISTS'
  | 'KEYS_UNAVAILABLE'
  | 'KEYS_DECRYPT_FAILED'
  // store, config, input
  | 'STORE_UNAVAILABLE'
  | 'STORE_CONFLICT'
  // A copy of the database (SQLite ↔ MariaDB) whose row counts differ from its source's afterwards.
  | 'STORE_COPY_MISMATCH'
  | 'CONFIG_INVALID'
  | 'INPUT_INVALID'
  | 'NOT_FOUND'
  | 'CONFLICT'
  // a credential could not be rotated on its target (details.reason); the old password stands
  | 'ROTATION_FAILED'
  | 'DISCOVERY_FAILED'
  | 'AUDIT_CHAIN_BROKEN'
  // recordings: the writer could not keep up or write; a file failed to read back
  | 'RECORDING_FAILED'
  | 'RECORDING_UNREADABLE'
  // cluster (Galera): the database server did not start or sync; an operation refused in this node's state;
  // a join bundle that does not open under this node's master key
  | 'CLUSTER_FAILED'
  | 'CLUSTER_REFUSED'
  | 'CLUSTER_BUNDLE_INVALID'
  // cluster: a call between nodes refused (each a reason for the audit row; the caller sees only 401), and
  // a recording held by another node that cannot be fetched
  | 'CLUSTER_SIGNATURE_INVALID'
  | 'CLUSTER_TIMESTAMP_STALE'
  | 'CLUSTER_NODE_UNKNOWN'
  | 'CLUSTER_NODE_LEFT'
  | 'CLUSTER_NODE_UNREACHABLE'
  | 'CLUSTER_PEER_UNTRUSTED'
  | 'CLUSTER_FETCH_REFUSED'
  | 'INTERNAL';

/** The one message a client ever sees for any authentication failure. */
export const GENERIC_AUTH_MESSAGE = 'Invalid user credentials';

export class WardenError extends Error {
  readonly code: ErrorCode;
  /** Field-level details safe to show (never secrets): e.g. which field failed validation. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WardenError';
    this.code = code;
    this.details = options?.details;
  }
}

/** An authentication failure: the client is told only GENERIC_AUTH_MESSAGE, the audit row gets `code`. */
export class AuthError extends WardenError {
  constructor(code: ErrorCode, reason: string) {
    super(code, reason);
    this.name = 'AuthError';
  }
}

export class KeysError extends WardenError {
  constructor(code: ErrorCode, message: string, cause?: unknown) {
    super(code, message, { cause });
    this.name = 'KeysError';
  }
}

export class InputError extends WardenError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('INPUT_INVALID', message, { details });
    this.name = 'InputError';
  }
}

export class NotFoundError extends WardenError {
  constructor(what: string) {
    super('NOT_FOUND', `${what} not found`);
    this.name = 'NotFoundError';
  }
}

export class PolicyError extends WardenError {
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, { details });
    this.name = 'PolicyError';
  }
}

export function isWardenError(e: unknown): e is WardenError {
  return e instanceof WardenError;
}

// Free-text fields pass this before they reach the store: well-formed Unicode (no lone surrogates), no
// control characters, bounded length. Names in any script pass untouched. It lives here, not in a file of its
// own, because it throws InputError: a text.ts importing this index while the index re-exports it is a cycle.
// C0/C1 controls and DEL; tab is not allowed in names either.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

export function requireText(value: unknown, field: string, opts: { min?: number; max: number }): string {
  if (typeof value !== 'string') throw new InputError(`${field} must be a string`, { field });
  if (!value.isWellFormed()) throw new InputError(`${field} is not valid Unicode`, { field });
  if (value.includes('\uFFFD')) throw new InputError(`${field} contains an invalid character (U+FFFD)`, { field });
  if (CONTROL.test(value)) throw new InputError(`${field} contains control characters`, { field });
  const normalized = value.normalize('NFC');
  const length = [...normalized].length;
  if (length < (opts.min ?? 0)) throw new InputError(`${field} must have at least ${opts.min} characters`, { field });
  if (length > opts.max) throw new InputError(`${field} must have at most ${opts.max} characters`, { field });
  return normalized;
}
