// The shapes the Devices pages read from the API (the server's DeviceView, DeviceListItem, CredentialView,
// pinned host keys, connectivity results and the import report), as JSON.

export interface Device {
  id: number;
  hostname: string;
  address: string;
  vendor: string;
  type: string;
  model: string;
  site: string;
  field1: string;
  field2: string;
  domain: string;
  connectivity: string;
  status: 'active' | 'disabled';
  createdAt: string;
  updatedAt: string;
}

export interface DeviceListItem extends Device {
  reachability: { state: 'ok' | 'failing' | 'unchecked'; failingPorts: number; checkedAt: string | null };
}

export interface DeviceCredential {
  id: number;
  deviceId: number;
  kind: string;
  username: string;
  secretKind: 'password' | 'ssh-key';
  domain: string;
  status: 'active' | 'disabled';
}

export interface PinnedHostKey {
  protocol: 'ssh' | 'rdp';
  fingerprint: string;
  pinnedAt: string;
}

export interface PortCheck {
  protocol: string;
  port: number;
  ok: boolean;
  detail: string;
  checkedAt?: string;
}

export interface ImportRow {
  row: number;
  ok: boolean;
  action?: 'created' | 'updated';
  id?: number;
  hostname?: string;
  error?: string;
  code?: string;
  field?: string;
}

export interface ImportReport {
  imported: number;
  failed: number;
  rows: ImportRow[];
}

/** The device fields a person edits, in the order the forms show them (the API's names). */
export const DEVICE_FIELDS = ['hostname', 'address', 'connectivity', 'vendor', 'type', 'model', 'site', 'domain', 'field1', 'field2'] as const;
export type DeviceField = (typeof DEVICE_FIELDS)[number];
