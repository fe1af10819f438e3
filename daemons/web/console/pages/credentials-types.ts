// The shapes the Credentials page reads from the API (appliance/access's CredentialView, PasswordViewState,
// Decision, ProtectedItemAccess, the "my devices" targets), as JSON.

export const CREDENTIAL_KINDS = ['local-privileged', 'local-user', 'domain-user', 'domain-admin', 'service-account', 'application'] as const;
export const SECRET_KINDS = ['password', 'ssh-key'] as const;
export const PROTECTED_KINDS = ['file', 'token', 'certificate'] as const;

export type ViewState = 'allowed' | 'reason-required' | 'needs-approval' | 'requested' | 'outside-window' | 'unavailable';

/** Where the signed-in user stands with viewing a credential's password now. */
export interface PasswordViewState {
  state: ViewState;
  approvalsNeeded?: number;
  requestId?: number;
}

/** A row of GET /api/v1/credentials (and of "my devices", for a password viewer without devices.read). */
export interface Credential {
  id: number;
  deviceId: number;
  hostname: string;
  deviceStatus?: 'active' | 'disabled';
  kind: string;
  username: string;
  secretKind: 'password' | 'ssh-key';
  domain: string;
  extraInfo: string;
  splitView: boolean;
  status: 'active' | 'disabled';
  /** Present for a caller who may view passwords. */
  passwordView?: PasswordViewState;
}

/** GET /api/v1/my/devices: the targets a user's groups cover, grouped by device. */
export interface MyDevice {
  id: number;
  hostname: string;
  credentials: { id: number; username: string; domain: string; kind: string; secretKind: 'password' | 'ssh-key'; status: 'active' | 'disabled'; states: { 'password-view'?: { state: ViewState } } }[];
}

/** GET /api/v1/my/decision: the one access decision, as the user may see it. */
export type Decision =
  | { outcome: 'allowed'; rule: string; reasonRequired: boolean }
  | { outcome: 'approval-required'; rule: string; approvalsNeeded: number; reasonRequired: boolean }
  | { outcome: 'denied'; rule: string };

export interface AccessRequest {
  id: number;
  status: string;
  approvals: number;
  approvalsNeeded: number;
}

/** POST /api/v1/credentials/:id/view. */
export interface RevealedSecret {
  secret: string;
  part: 'whole' | 'first-half' | 'second-half';
}

/** A row of GET /api/v1/protected. */
export interface ProtectedFile {
  id: number;
  name: string;
  kind: 'file' | 'token' | 'certificate';
  filename: string;
  mediaType: string;
  size: number;
  owner: string;
  deviceId: number | null;
  accessGroupId: number | null;
  ownerName: string | null;
  createdAt: string;
  access: 'allowed' | 'approval-required' | 'denied';
}

/** A device or an access group to choose (the create forms' owner). */
export interface Choice {
  id: number;
  name: string;
}
