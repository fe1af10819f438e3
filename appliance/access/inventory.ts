// Devices and their credentials: validation, create/update/disable, batch CSV import with a per-row report,
// secrets sealed in the vault, pinned host keys (trust on first use), and protected information.
import { isIP } from 'node:net';
import { parse as parseCsv } from 'csv-parse/sync';
import type { Store, Repositories, DeviceWithCatalog, CredentialRow } from '../store/index.js';
import { isUniqueViolation } from '../store/index.js';
import type { AuditDetail, AuditDetailMember, AuditEventType, AuditTrail } from '../audit/index.js';
import { insertSealed, type Vault } from '../vault/index.js';
import { InputError, NotFoundError, WardenError } from '../errors/index.js';
import { requireText } from '../errors/index.js';
import { parseConnectivity } from './decision.js';
import { servableMediaType, validateMediaType } from './media-type.js';
import { actorEvent, type Actor, type ActorEventDetail } from './user-admin.js';

export interface DeviceInput {
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
}

export interface DeviceView extends DeviceInput {
  id: number;
  status: 'active' | 'disabled';
  createdAt: string;
  updatedAt: string;
}

export const CREDENTIAL_KINDS = ['local-privileged', 'local-user', 'domain-user', 'domain-admin', 'service-account', 'application'] as const;

export interface CredentialView {
  id: number;
  deviceId: number;
  kind: string;
  username: string;
  secretKind: 'password' | 'ssh-key';
  domain: string;
  extraInfo: string;
  labels: string[];
  owner: string;
  autoChange: boolean;
  statusControl: boolean;
  splitView: boolean;
  status: 'active' | 'disabled';
  updatedAt: string;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const DEVICE_FIELDS = ['hostname', 'address', 'vendor', 'type', 'model', 'site', 'field1', 'field2', 'domain', 'connectivity'] as const;
/** Largest secret (an SSH private key with comments fits easily). */
const MAX_SECRET = 16 * 1024;
/** Largest protected file. */
export const MAX_PROTECTED_BYTES = 10 * 1024 * 1024;

function optionalText(v: unknown, field: string, max: number): string {
  return v === undefined || v === null ? '' : requireText(v, field, { max });
}

export function validateDevice(input: unknown): DeviceInput {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InputError('device must be an object');
  const i = input as Record<string, unknown>;
  for (const k of Object.keys(i)) if (!(DEVICE_FIELDS as readonly string[]).includes(k)) throw new InputError(`unknown field ${k}`, { field: k });
  const hostname = requireText(i.hostname, 'hostname', { min: 1, max: 253 });
  if (!HOSTNAME.test(hostname)) throw new InputError('hostname must be a host name (letters, digits, hyphens, dots)', { field: 'hostname' });
  const address = requireText(i.address, 'address', { min: 2, max: 45 });
  if (isIP(address) === 0) throw new InputError('address must be an IPv4 or IPv6 address', { field: 'address' });
  const connectivity = optionalText(i.connectivity, 'connectivity', 255);
  const parts = connectivity === '' ? [] : connectivity.split(',');
  if (parts.length !== parseConnectivity(connectivity).size) throw new InputError('connectivity must be PROTOCOL:PORT pairs, e.g. SSH:22,RDP:3389', { field: 'connectivity' });
  return {
    hostname: hostname.toLowerCase(),
    address,
    vendor: optionalText(i.vendor, 'vendor', 128),
    type: optionalText(i.type, 'type', 128),
    model: optionalText(i.model, 'model', 128),
    site: optionalText(i.site, 'site', 128),
    field1: optionalText(i.field1, 'field1', 255),
    field2: optionalText(i.field2, 'field2', 255),
    domain: optionalText(i.domain, 'domain', 255),
    connectivity: [...parseConnectivity(connectivity)].map(([p, port]) => `${p}:${port}`).join(','),
  };
}

function deviceView(d: DeviceWithCatalog): DeviceView {
  return {
    id: d.id,
    hostname: d.hostname,
    address: d.address,
    vendor: d.vendor ?? '',
    type: d.type ?? '',
    model: d.model ?? '',
    site: d.site ?? '',
    field1: d.field1,
    field2: d.field2,
    domain: d.domain,
    connectivity: d.connectivity,
    status: d.status,
    createdAt: new Date(d.created_at).toISOString(),
    updatedAt: new Date(d.updated_at).toISOString(),
  };
}

export function credentialView(c: CredentialRow): CredentialView {
  let labels: string[] = [];
  try {
    labels = JSON.parse(c.labels) as string[];
  } catch {
    labels = [];
  }
  return {
    id: c.id,
    deviceId: c.device_id,
    kind: c.kind,
    username: c.username,
    secretKind: c.secret_kind,
    domain: c.domain,
    extraInfo: c.extra_info,
    labels,
    owner: c.owner,
    autoChange: c.auto_change,
    statusControl: c.status_control,
    splitView: c.split_view,
    status: c.status,
    updatedAt: new Date(c.updated_at).toISOString(),
  };
}

export interface ProtectedItemView {
  id: number;
  name: string;
  kind: string;
  filename: string;
  /** Always a valid media type (a bad stored value reads as application/octet-stream). */
  mediaType: string;
  size: number;
  /** Who stored it. */
  owner: string;
  /** What it belongs to: exactly one of the two (both null for an item from before owners). */
  deviceId: number | null;
  accessGroupId: number | null;
  createdAt: string;
}

const PROTECTED_FIELDS = ['name', 'kind', 'filename', 'mediaType', 'contentBase64', 'deviceId', 'accessGroupId'];

function optionalId(v: unknown, field: string): number | null {
  if (v === undefined || v === null) return null;
  if (!Number.isInteger(v) || (v as number) < 1) throw new InputError(`${field} must be an id`, { field });
  return v as number;
}

function protectedItemView(p: { id: number; name: string; kind: string; filename: string; media_type: string; size: number; owner: string; device_id: number | null; group_id: number | null; created_at: number }): ProtectedItemView {
  return {
    id: p.id,
    name: p.name,
    kind: p.kind,
    filename: p.filename || p.name,
    mediaType: servableMediaType(p.media_type),
    size: p.size,
    owner: p.owner,
    deviceId: p.device_id,
    accessGroupId: p.group_id,
    createdAt: new Date(p.created_at).toISOString(),
  };
}

/** Rows per import transaction: a disk sync per few hundred rows, not per row, and short write locks. */
export const IMPORT_BATCH = 250;

interface ImportRow {
  row: number;
  device: DeviceInput;
}

export interface ImportRowReport {
  row: number;
  ok: boolean;
  id?: number;
  hostname?: string;
  error?: string;
}

export class InventoryService {
  constructor(private readonly deps: { store: Store; audit: AuditTrail; vault: Vault; clock?: () => number }) {}

  private now(): number {
    return (this.deps.clock ?? Date.now)();
  }

  private audited<T, K extends AuditEventType>(
    event: { type: K; actor: Actor; subject: string; outcome?: 'success' | 'info' } & AuditDetailMember<K>,
    fn: (repos: Repositories) => Promise<T>,
  ): Promise<T> {
    // The detail was checked against K's catalogue entry at the call; a generic K cannot be narrowed here.
    const detail = (event as { detail?: AuditDetail<K> }).detail as ActorEventDetail<K>;
    return this.deps.audit.withChange(actorEvent(event.type, event.actor, event.subject, detail, event.outcome), fn);
  }

  private async catalog(repos: Repositories, d: DeviceInput) {
    const id = (kind: 'vendor' | 'type' | 'model' | 'site', name: string) => (name === '' ? Promise.resolve(null) : repos.devices.catalogId(kind, name));
    return { vendor_id: await id('vendor', d.vendor), type_id: await id('type', d.type), model_id: await id('model', d.model), site_id: await id('site', d.site) };
  }

  async listDevices(filter: { ids?: number[]; limit?: number; offset?: number } = {}): Promise<DeviceView[]> {
    return (await this.deps.store.repos.devices.devices(filter)).map(deviceView);
  }

  async device(id: number): Promise<DeviceView> {
    const d = await this.deps.store.repos.devices.device(id);
    if (!d) throw new NotFoundError('device');
    return deviceView(d);
  }

  private async insertDevice(repos: Repositories, d: DeviceInput): Promise<number> {
    if (await repos.devices.deviceByHostname(d.hostname)) throw new WardenError('CONFLICT', `a device named ${d.hostname} exists`);
    const now = this.now();
    return repos.devices.insertDevice({
      hostname: d.hostname,
      address: d.address,
      ...(await this.catalog(repos, d)),
      field1: d.field1,
      field2: d.field2,
      domain: d.domain,
      connectivity: d.connectivity,
      status: 'active',
      created_at: now,
      updated_at: now,
    });
  }

  async createDevice(actor: Actor, input: unknown): Promise<DeviceView> {
    const d = validateDevice(input);
    const id = await this.audited({ type: 'device.create', actor, subject: d.hostname }, (repos) => this.insertDevice(repos, d));
    return this.device(id);
  }

  async updateDevice(actor: Actor, id: number, input: unknown): Promise<DeviceView> {
    const current = await this.device(id);
    const d = validateDevice({ ...Object.fromEntries(DEVICE_FIELDS.map((k) => [k, current[k]])), ...(input as object) });
    await this.audited({ type: 'device.update', actor, subject: d.hostname, detail: { id } }, async (repos) => {
      const other = await repos.devices.deviceByHostname(d.hostname);
      if (other && other.id !== id) throw new WardenError('CONFLICT', `a device named ${d.hostname} exists`);
      await repos.devices.updateDevice(id, { hostname: d.hostname, address: d.address, ...(await this.catalog(repos, d)), field1: d.field1, field2: d.field2, domain: d.domain, connectivity: d.connectivity, updated_at: this.now() });
    });
    return this.device(id);
  }

  async setDeviceStatus(actor: Actor, id: number, status: 'active' | 'disabled'): Promise<DeviceView> {
    const d = await this.device(id);
    await this.audited({ type: status === 'active' ? 'device.enable' : 'device.disable', actor, subject: d.hostname }, (repos) => repos.devices.updateDevice(id, { status, updated_at: this.now() }));
    return this.device(id);
  }

  /**
   * Import devices from CSV (header: hostname,address,vendor,type,model,site,field1,field2,domain,connectivity;
   * only hostname and address required). Each row lands whole or not at all; the report says which. Rows are
   * written IMPORT_BATCH to a transaction, each device with its own device.create audit row in that same
   * transaction, so an import cut short (a crash, kill -9) leaves only devices that are audited.
   */
  async importDevices(actor: Actor, csv: string): Promise<{ imported: number; failed: number; rows: ImportRowReport[] }> {
    let records: Record<string, string>[];
    try {
      records = parseCsv(csv, { columns: (h: string[]) => h.map((c) => c.trim().toLowerCase()), skip_empty_lines: true, trim: true, bom: true, relax_column_count: false }) as Record<string, string>[];
    } catch (e) {
      throw new InputError(`the CSV cannot be read: ${(e as Error).message}`);
    }
    if (records.length > 50_000) throw new InputError('at most 50,000 rows per import');
    const reports = new Map<number, ImportRowReport>();
    const valid: ImportRow[] = [];
    for (const [i, rec] of records.entries()) {
      const row = i + 2; // 1-based, after the header line
      try {
        valid.push({ row, device: validateDevice(Object.fromEntries(Object.entries(rec).filter(([, v]) => v !== ''))) });
      } catch (e) {
        reports.set(row, { row, ok: false, ...(rec.hostname ? { hostname: rec.hostname } : {}), error: (e as Error).message });
      }
    }
    for (let i = 0; i < valid.length; i += IMPORT_BATCH) {
      const batch = valid.slice(i, i + IMPORT_BATCH);
      let results: ImportRowReport[];
      try {
        results = await this.deps.store.transaction((repos) => this.importBatch(repos, actor, batch));
      } catch {
        // Something other than a row's own refusal rolled the whole batch back: retry its rows one by one,
        // so that a bad row costs only itself.
        results = [];
        for (const one of batch) {
          try {
            results.push(...(await this.deps.store.transaction((repos) => this.importBatch(repos, actor, [one]))));
          } catch (e) {
            results.push({ row: one.row, ok: false, hostname: one.device.hostname, error: (e as Error).message });
          }
        }
      }
      for (const r of results) reports.set(r.row, r);
    }
    const rows = [...reports.values()].sort((x, y) => x.row - y.row);
    const imported = rows.filter((r) => r.ok).length;
    await this.deps.audit.record({ type: 'device.import', outcome: imported === rows.length ? 'success' : 'failure', actor: actor.username, actorIp: actor.ip, subject: `${imported}/${rows.length} rows`, detail: { imported, failed: rows.length - imported } });
    return { imported, failed: rows.length - imported, rows };
  }

  /** One transaction's worth of import rows: each device with its audit row. */
  private async importBatch(repos: Repositories, actor: Actor, batch: readonly ImportRow[]): Promise<ImportRowReport[]> {
    const out: ImportRowReport[] = [];
    for (const { row, device } of batch) {
      let id: number;
      try {
        id = await this.insertDevice(repos, device);
      } catch (e) {
        // insertDevice refuses a taken host name before it writes anything, so the batch goes on cleanly.
        if (e instanceof WardenError && e.code === 'CONFLICT') {
          out.push({ row, ok: false, hostname: device.hostname, error: e.message });
          continue;
        }
        throw e;
      }
      await this.deps.audit.record(actorEvent('device.create', actor, device.hostname, { id, import: true, row }), repos);
      out.push({ row, ok: true, id, hostname: device.hostname });
    }
    return out;
  }

  // ---- credentials

  static validateCredential(input: unknown, creating: boolean) {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InputError('credential must be an object');
    const i = input as Record<string, unknown>;
    const allowed = ['deviceId', 'kind', 'username', 'secret', 'secretKind', 'domain', 'extraInfo', 'labels', 'owner', 'autoChange', 'statusControl', 'splitView'];
    for (const k of Object.keys(i)) if (!allowed.includes(k)) throw new InputError(`unknown field ${k}`, { field: k });
    if (creating && (!Number.isInteger(i.deviceId) || (i.deviceId as number) < 1)) throw new InputError('deviceId is required', { field: 'deviceId' });
    const kind = i.kind === undefined && !creating ? undefined : requireText(i.kind ?? 'local-privileged', 'kind', { max: 32 });
    if (kind !== undefined && !(CREDENTIAL_KINDS as readonly string[]).includes(kind)) throw new InputError(`kind must be one of ${CREDENTIAL_KINDS.join(', ')}`, { field: 'kind' });
    const secretKind = i.secretKind ?? (creating ? 'password' : undefined);
    if (secretKind !== undefined && secretKind !== 'password' && secretKind !== 'ssh-key') throw new InputError('secretKind must be password or ssh-key', { field: 'secretKind' });
    let secret: string | undefined;
    if (i.secret !== undefined) {
      if (typeof i.secret !== 'string' || i.secret.length === 0 || Buffer.byteLength(i.secret) > MAX_SECRET) throw new InputError(`secret must be 1 to ${MAX_SECRET} bytes`, { field: 'secret' });
      if (!i.secret.isWellFormed()) throw new InputError('secret is not valid Unicode', { field: 'secret' });
      if (secretKind === 'ssh-key' && !/^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(i.secret.trim())) throw new InputError('an ssh-key secret must be a PEM or OpenSSH private key', { field: 'secret' });
      secret = i.secret;
    } else if (creating) {
      throw new InputError('secret is required', { field: 'secret' });
    }
    const labels = i.labels === undefined ? undefined : i.labels;
    if (labels !== undefined && (!Array.isArray(labels) || labels.length > 32 || !labels.every((l) => typeof l === 'string' && l.length > 0 && l.length <= 64))) {
      throw new InputError('labels must be up to 32 strings of 1–64 characters', { field: 'labels' });
    }
    const flag = (k: string) => {
      if (i[k] === undefined) return undefined;
      if (typeof i[k] !== 'boolean') throw new InputError(`${k} must be true or false`, { field: k });
      return i[k] as boolean;
    };
    return {
      deviceId: i.deviceId as number | undefined,
      kind,
      username: i.username === undefined && !creating ? undefined : requireText(i.username, 'username', { min: 1, max: 255 }),
      secret,
      secretKind: secretKind as 'password' | 'ssh-key' | undefined,
      domain: i.domain === undefined ? undefined : optionalText(i.domain, 'domain', 255),
      extraInfo: i.extraInfo === undefined ? undefined : optionalText(i.extraInfo, 'extraInfo', 1024),
      labels: labels as string[] | undefined,
      owner: i.owner === undefined ? undefined : optionalText(i.owner, 'owner', 64),
      autoChange: flag('autoChange'),
      statusControl: flag('statusControl'),
      splitView: flag('splitView'),
    };
  }

  async listCredentials(filter: { deviceId?: number; ids?: number[] } = {}): Promise<CredentialView[]> {
    return (await this.deps.store.repos.credentials.credentials(filter)).map(credentialView);
  }

  async credential(id: number): Promise<CredentialView> {
    const c = await this.deps.store.repos.credentials.credential(id);
    if (!c) throw new NotFoundError('credential');
    return credentialView(c);
  }

  async createCredential(actor: Actor, input: unknown): Promise<CredentialView> {
    const c = InventoryService.validateCredential(input, true);
    const device = await this.device(c.deviceId!);
    const now = this.now();
    // Sealed with the row's own id as context, before the transaction (the token never works while a write
    // lock is held): for the id the row is expected to get, confirmed in the transaction.
    const guess = (await this.deps.store.repos.credentials.highestCredentialId()) + 1;
    const seal = (id: number) => this.deps.vault.sealText(c.secret!, `credential:${id}`);
    const id = await insertSealed(guess, seal, (sealed, confirm) => this.audited({ type: 'credential.create', actor, subject: `${c.username}@${device.hostname}` }, async (repos) => {
      const id = await repos.credentials.insertCredential({
        device_id: device.id,
        kind: c.kind!,
        username: c.username!,
        secret_kind: c.secretKind!,
        secret_sealed: sealed,
        domain: c.domain ?? '',
        extra_info: c.extraInfo ?? '',
        labels: JSON.stringify(c.labels ?? []),
        owner: c.owner ?? '',
        auto_change: c.autoChange ?? false,
        status_control: c.statusControl ?? false,
        split_view: c.splitView ?? false,
        status: 'active',
        created_at: now,
        updated_at: now,
      });
      confirm(id);
      return id;
    }));
    return this.credential(id);
  }

  async updateCredential(actor: Actor, id: number, input: unknown): Promise<CredentialView> {
    const current = await this.credential(id);
    const c = InventoryService.validateCredential(input, false);
    if (c.deviceId !== undefined && c.deviceId !== current.deviceId) throw new InputError('a credential cannot move to another device', { field: 'deviceId' });
    const sealed = c.secret !== undefined ? await this.deps.vault.sealText(c.secret, `credential:${id}`) : undefined;
    await this.audited({ type: 'credential.update', actor, subject: `credential:${id}`, detail: { valueChanged: c.secret !== undefined } }, async (repos) => {
      await repos.credentials.updateCredential(id, {
        ...(c.kind !== undefined ? { kind: c.kind } : {}),
        ...(c.username !== undefined ? { username: c.username } : {}),
        ...(c.secretKind !== undefined ? { secret_kind: c.secretKind } : {}),
        ...(sealed !== undefined ? { secret_sealed: sealed } : {}),
        ...(c.domain !== undefined ? { domain: c.domain } : {}),
        ...(c.extraInfo !== undefined ? { extra_info: c.extraInfo } : {}),
        ...(c.labels !== undefined ? { labels: JSON.stringify(c.labels) } : {}),
        ...(c.owner !== undefined ? { owner: c.owner } : {}),
        ...(c.autoChange !== undefined ? { auto_change: c.autoChange } : {}),
        ...(c.statusControl !== undefined ? { status_control: c.statusControl } : {}),
        ...(c.splitView !== undefined ? { split_view: c.splitView } : {}),
        updated_at: this.now(),
      });
      // A new secret starts a new split: earlier half holders hold nothing of it.
      if (c.secret !== undefined) await repos.credentials.clearSplitHolders(id);
    });
    return this.credential(id);
  }

  async setCredentialStatus(actor: Actor, id: number, status: 'active' | 'disabled'): Promise<CredentialView> {
    await this.credential(id);
    await this.audited({ type: status === 'active' ? 'credential.enable' : 'credential.disable', actor, subject: `credential:${id}` }, (repos) => repos.credentials.updateCredential(id, { status, updated_at: this.now() }));
    return this.credential(id);
  }

  /** The clear secret, for the proxies' injection (the caller decided and audits the session). */
  /** The secret as bytes, for a proxy to inject: the caller zeroes the Buffer when done. */
  async secretBytesOf(credentialId: number): Promise<Buffer> {
    const c = await this.deps.store.repos.credentials.credential(credentialId);
    if (!c) throw new NotFoundError('credential');
    return await this.deps.vault.open(c.secret_sealed, `credential:${c.id}`);
  }

  async secretOf(credentialId: number): Promise<string> {
    const c = await this.deps.store.repos.credentials.credential(credentialId);
    if (!c) throw new NotFoundError('credential');
    return this.deps.vault.openText(c.secret_sealed, `credential:${c.id}`);
  }

  // ---- pinned host keys (trust on first use)

  /**
   * Check a target's host key (SSH) or certificate (RDP) fingerprint: the first one seen is pinned;
   * later ones must match. A mismatch is an audit event and the caller refuses the connection.
   */
  async checkHostKey(deviceId: number, protocol: 'ssh' | 'rdp', fingerprint: string): Promise<'pinned' | 'match' | 'mismatch'> {
    const existing = await this.deps.store.repos.hostKeys.pinnedKey(deviceId, protocol);
    if (!existing) {
      try {
        await this.deps.store.repos.hostKeys.pinKey(deviceId, protocol, fingerprint, this.now());
      } catch {
        // Pinned by a concurrent first connection: compare with that one.
        return this.checkHostKey(deviceId, protocol, fingerprint);
      }
      await this.deps.audit.record({ type: 'device.host_key_pinned', outcome: 'info', actor: 'system', subject: `device:${deviceId}`, detail: { protocol, fingerprint } });
      return 'pinned';
    }
    if (existing.fingerprint === fingerprint) return 'match';
    await this.deps.audit.record({ type: 'device.host_key_mismatch', outcome: 'failure', actor: 'system', subject: `device:${deviceId}`, code: 'HOST_KEY_MISMATCH', detail: { protocol, expected: existing.fingerprint, presented: fingerprint } });
    return 'mismatch';
  }

  async hostKeys(deviceId: number) {
    await this.device(deviceId);
    return (await this.deps.store.repos.hostKeys.pinnedKeys(deviceId)).map((k) => ({ protocol: k.protocol, fingerprint: k.fingerprint, pinnedAt: new Date(k.pinned_at).toISOString() }));
  }

  async resetHostKey(actor: Actor, deviceId: number, protocol: 'ssh' | 'rdp'): Promise<boolean> {
    const d = await this.device(deviceId);
    return (await this.audited({ type: 'device.host_key_reset', actor, subject: d.hostname, detail: { protocol } }, (repos) => repos.hostKeys.unpinKey(deviceId, protocol))) > 0;
  }

  // ---- protected information

  /**
   * Store a protected file, token or certificate, sealed. It belongs to exactly one device (`deviceId`) or
   * access group (`accessGroupId`): the access policy decides who opens it through that owner.
   */
  async storeProtected(actor: Actor, input: unknown): Promise<{ id: number }> {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InputError('item must be an object');
    const i = input as Record<string, unknown>;
    for (const k of Object.keys(i)) if (!PROTECTED_FIELDS.includes(k)) throw new InputError(`unknown field ${k}`, { field: k });
    const name = requireText(i.name, 'name', { min: 1, max: 255 });
    const kind = i.kind;
    if (kind !== 'file' && kind !== 'token' && kind !== 'certificate') throw new InputError('kind must be file, token or certificate', { field: 'kind' });
    const filename = optionalText(i.filename, 'filename', 255);
    if (/[\\/]|^\.\.?$/.test(filename)) throw new InputError('filename must be a plain file name, without directories', { field: 'filename' });
    const mediaType = validateMediaType(i.mediaType);
    const deviceId = optionalId(i.deviceId, 'deviceId');
    const groupId = optionalId(i.accessGroupId, 'accessGroupId');
    if ((deviceId === null) === (groupId === null)) throw new InputError('a protected item belongs to exactly one owner: deviceId or accessGroupId', { field: deviceId === null ? 'deviceId' : 'accessGroupId' });
    if (typeof i.contentBase64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(i.contentBase64)) throw new InputError('contentBase64 must be base64', { field: 'contentBase64' });
    const content = Buffer.from(i.contentBase64, 'base64');
    if (content.length === 0 || content.length > MAX_PROTECTED_BYTES) throw new InputError(`content must be 1 byte to ${MAX_PROTECTED_BYTES} bytes`, { field: 'contentBase64' });
    try {
      // Sealed before the transaction, for the id the item is expected to get (see createCredential).
      const guess = (await this.deps.store.repos.protectedItems.highestProtectedId()) + 1;
      const seal = (id: number) => this.deps.vault.seal(content, `protected:${id}`);
      const id = await insertSealed(guess, seal, (sealed, confirm) =>
        this.audited({ type: 'vault.protected_store', actor, subject: name, detail: { kind, size: content.length, deviceId, groupId, mediaType } }, async (repos) => {
          // The owner is checked in the transaction that stores the item, so it cannot vanish in between.
          if (deviceId !== null && !(await repos.devices.device(deviceId))) throw new InputError('deviceId is not a device', { field: 'deviceId' });
          if (groupId !== null && !(await repos.accessGroups.group(groupId))) throw new InputError('accessGroupId is not an access group', { field: 'accessGroupId' });
          const id = await repos.protectedItems.insertProtected({ name, kind, filename, media_type: mediaType, size: content.length, content_sealed: sealed, owner: actor.username, device_id: deviceId, group_id: groupId, created_at: this.now() });
          confirm(id);
          return id;
        }),
      );
      return { id };
    } catch (e) {
      if (isUniqueViolation(e, { table: 'protected_items', column: 'name' })) throw new WardenError('CONFLICT', `a protected item named ${name} exists`);
      throw e;
    } finally {
      content.fill(0);
    }
  }

  /** Give a protected item its owner (a device or an access group): how items from before owners get one. */
  async setProtectedOwner(actor: Actor, id: number, input: unknown): Promise<ProtectedItemView> {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InputError('owner must be an object');
    const i = input as Record<string, unknown>;
    for (const k of Object.keys(i)) if (k !== 'deviceId' && k !== 'accessGroupId') throw new InputError(`unknown field ${k}`, { field: k });
    const deviceId = optionalId(i.deviceId, 'deviceId');
    const groupId = optionalId(i.accessGroupId, 'accessGroupId');
    if ((deviceId === null) === (groupId === null)) throw new InputError('a protected item belongs to exactly one owner: deviceId or accessGroupId', { field: deviceId === null ? 'deviceId' : 'accessGroupId' });
    const item = await this.protectedItem(id);
    await this.audited({ type: 'vault.protected_owner', actor, subject: item.name, detail: { id, from: { deviceId: item.deviceId, groupId: item.accessGroupId }, to: { deviceId, groupId } } }, async (repos) => {
      if (deviceId !== null && !(await repos.devices.device(deviceId))) throw new InputError('deviceId is not a device', { field: 'deviceId' });
      if (groupId !== null && !(await repos.accessGroups.group(groupId))) throw new InputError('accessGroupId is not an access group', { field: 'accessGroupId' });
      await repos.protectedItems.setProtectedOwner(id, deviceId, groupId);
    });
    return this.protectedItem(id);
  }

  /** Every protected item's description (never its content); who may see which is the policy's to say. */
  async protectedItems(): Promise<ProtectedItemView[]> {
    return (await this.deps.store.repos.protectedItems.protectedItems()).map(protectedItemView);
  }

  async protectedItem(id: number): Promise<ProtectedItemView> {
    const p = await this.deps.store.repos.protectedItems.protectedItem(id);
    if (!p) throw new NotFoundError('protected item');
    return protectedItemView(p);
  }

  /** The clear content of a protected item, for a caller that has decided and audits the opening. */
  async protectedContent(id: number): Promise<Buffer> {
    const item = await this.deps.store.repos.protectedItems.protectedItem(id);
    if (!item) throw new NotFoundError('protected item');
    return this.deps.vault.open(item.content_sealed, `protected:${id}`);
  }
}
