// The shapes the dashboard, "My access" and the approvals inbox read from the API (the server's DashboardView,
// the /my/devices answer, AccessRequestListItem), as JSON.

export interface DashboardView {
  generatedAt: string;
  approvals: { pending: number };
  liveSessions?: { total: number; sessions: { id: string; user: string; device: string; credential: string; protocol: string; startedAt: string }[] };
  failedLogins?: { since: string; total: number; byType: Record<string, number> };
  blockedCommands?: { since: string; total: number };
  expiring?: {
    until: string;
    authorities: { total: number; items: { id: number; subject: string; notAfter: string }[] };
    certificates: { total: number; items: { id: number; userId: number; username: string; subject: string; notAfter: string }[] };
  };
  unreachableDevices?: { total: number; devices: { id: number; hostname: string; address: string; failingPorts: number; checkedAt: string }[] };
}

export type Purpose = 'ssh' | 'rdp' | 'password-view';
export type TargetStateName = 'allowed' | 'reason-required' | 'needs-approval' | 'outside-window' | 'unavailable';

export interface TargetState {
  state: TargetStateName;
  rule: string;
  grant?: { requestId: number; endsAt: string; emergency: boolean };
}

export interface MyCredential {
  id: number;
  username: string;
  domain: string;
  kind: string;
  status: string;
  protocols: ('ssh' | 'rdp')[];
  states: Partial<Record<Purpose, TargetState>>;
}

export interface MyDevice {
  id: number;
  hostname: string;
  address: string;
  status: string;
  credentials: MyCredential[];
}

export interface MyDevicesPage {
  offset: number;
  more: boolean;
  devices: MyDevice[];
  sshProxy: { host: string; port: number };
}

export type RequestStatus = 'pending' | 'approved' | 'denied' | 'cancelled';

export interface AccessRequestItem {
  id: number;
  userId: number;
  deviceId: number;
  credentialId: number;
  purpose: 'session' | 'password-view';
  reason: string;
  startsAt: string;
  endsAt: string;
  status: RequestStatus;
  emergency: boolean;
  approvals: number;
  approvalsNeeded: number;
  requester: string | null;
  hostname: string | null;
  credentialUsername: string | null;
  createdAt: string;
  decidedAt: string | null;
}
