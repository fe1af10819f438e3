// Devices: validation, create/update/disable, and batch CSV import with a per-row report.
import { isIP } from 'node:net';
import { parse as parseCsv } from 'csv-parse/sync';
import type { Store, Repositories, DeviceWithCatalog } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import { InputError, NotFoundError, WardenError } from '../errors/index.js';
import { requireText } from '../errors/index.js';
import { parseConnectivity } from './decision.js';
import { audited } from './audited.js';
import { optionalText } from './input.js';
import { actorEvent, type Actor } from './user-admin.js';

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

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const DEVICE_FIELDS = ['hostname', 'address', 'vendor', 'type', 'model', 'site', 'field1', 'field2', 'domain', 'connectivity'] as const;

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

/** A device in a list: with the state of its last connectivity test (unchecked: never tested). */
export interface DeviceListItem extends DeviceView {
  reachability: { state: 'ok' | 'failing' | 'unchecked'; failingPorts: number; checkedAt: string | null };
}

/** Rows per import transaction: a disk sync per few hundred rows, not per row, and short write locks. */
export const IMPORT_BATCH = 250;

interface ImportRow {
  row: number;
  device: DeviceInput;
  /** The fields the row gave (an update changes only these; a create takes the defaults for the rest). */
  given: Partial<Record<(typeof DEVICE_FIELDS)[number], string>>;
}

export interface ImportRowReport {
  row: number;
  ok: boolean;
  /** What an accepted row did: a new device, or (asked for) the existing device of that host name changed. */
  action?: 'created' | 'updated';
  id?: number;
  hostname?: string;
  error?: string;
  /** Why a row was refused, for a reader in any language: the error's code and, when one field was at fault, which. */
  code?: string;
  field?: string;
}

/** The code and field of a row's refusal (INTERNAL for anything that is not one of ours). */
function refusal(e: unknown): { error: string; code: string; field?: string } {
  const field = e instanceof WardenError && typeof e.details?.field === 'string' ? e.details.field : undefined;
  return { error: (e as Error).message, code: e instanceof WardenError ? e.code : 'INTERNAL', ...(field ? { field } : {}) };
}

export class DeviceService {
  constructor(private readonly deps: { store: Store; audit: AuditTrail; clock?: () => number }) {}

  private now(): number {
    return (this.deps.clock ?? Date.now)();
  }

  private async catalog(repos: Repositories, d: DeviceInput) {
    const id = (kind: 'vendor' | 'type' | 'model' | 'site', name: string) => (name === '' ? Promise.resolve(null) : repos.devices.catalogId(kind, name));
    return { vendor_id: await id('vendor', d.vendor), type_id: await id('type', d.type), model_id: await id('model', d.model), site_id: await id('site', d.site) };
  }

  async listDevices(filter: { ids?: number[]; limit?: number; offset?: number } = {}): Promise<DeviceView[]> {
    return (await this.deps.store.repos.devices.devices(filter)).map(deviceView);
  }

  /**
   * One page of devices in host name order, each with the state of its last connectivity test, and how many
   * match in all: those whose host name, address, vendor, type, model or site contains `text` (without case),
   * and with `unreachable` only the active ones whose last test failed on a port (the dashboard's count).
   */
  async pageDevices(page: { text?: string; unreachable?: boolean; limit: number; offset: number }): Promise<{ devices: DeviceListItem[]; total: number }> {
    const text = page.text?.trim() || undefined;
    const { rows, total } = await this.deps.store.repos.devices.devicePage({ ...(text ? { text } : {}), ...(page.unreachable ? { unreachable: true } : {}), limit: page.limit, offset: page.offset });
    return {
      devices: rows.map((r) => ({
        ...deviceView(r),
        reachability: {
          state: r.checked_at === null ? 'unchecked' : r.failing_ports > 0 ? 'failing' : 'ok',
          failingPorts: r.failing_ports,
          checkedAt: r.checked_at === null ? null : new Date(r.checked_at).toISOString(),
        },
      })),
      total,
    };
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
    const id = await audited(this.deps.audit, { type: 'device.create', actor, subject: d.hostname }, (repos) => this.insertDevice(repos, d));
    return this.device(id);
  }

  async updateDevice(actor: Actor, id: number, input: unknown): Promise<DeviceView> {
    const current = await this.device(id);
    const d = validateDevice({ ...Object.fromEntries(DEVICE_FIELDS.map((k) => [k, current[k]])), ...(input as object) });
    await audited(this.deps.audit, { type: 'device.update', actor, subject: d.hostname, detail: { id } }, async (repos) => {
      const other = await repos.devices.deviceByHostname(d.hostname);
      if (other && other.id !== id) throw new WardenError('CONFLICT', `a device named ${d.hostname} exists`);
      await repos.devices.updateDevice(id, { hostname: d.hostname, address: d.address, ...(await this.catalog(repos, d)), field1: d.field1, field2: d.field2, domain: d.domain, connectivity: d.connectivity, updated_at: this.now() });
    });
    return this.device(id);
  }

  async setDeviceStatus(actor: Actor, id: number, status: 'active' | 'disabled'): Promise<DeviceView> {
    const d = await this.device(id);
    await audited(this.deps.audit, { type: status === 'active' ? 'device.enable' : 'device.disable', actor, subject: d.hostname }, (repos) => repos.devices.updateDevice(id, { status, updated_at: this.now() }));
    return this.device(id);
  }

  /**
   * Import devices from CSV (header: hostname,address,vendor,type,model,site,field1,field2,domain,connectivity;
   * only hostname and address required). Each row lands whole or not at all; the report says which. Rows are
   * written IMPORT_BATCH to a transaction, each device with its own device.create audit row in that same
   * transaction, so an import cut short (a crash, kill -9) leaves only devices that are audited.
   * With `update`, a row whose host name exists changes that device (only the columns the row fills; a
   * device.update audit row) instead of being refused as taken.
   */
  async importDevices(actor: Actor, csv: string, opts: { update?: boolean } = {}): Promise<{ imported: number; failed: number; rows: ImportRowReport[] }> {
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
        const given = Object.fromEntries(Object.entries(rec).filter(([, v]) => v !== ''));
        valid.push({ row, device: validateDevice(given), given });
      } catch (e) {
        reports.set(row, { row, ok: false, ...(rec.hostname ? { hostname: rec.hostname } : {}), ...refusal(e) });
      }
    }
    for (let i = 0; i < valid.length; i += IMPORT_BATCH) {
      const batch = valid.slice(i, i + IMPORT_BATCH);
      let results: ImportRowReport[];
      try {
        results = await this.deps.store.transaction((repos) => this.importBatch(repos, actor, batch, opts.update ?? false));
      } catch {
        // Something other than a row's own refusal rolled the whole batch back: retry its rows one by one,
        // so that a bad row costs only itself.
        results = [];
        for (const one of batch) {
          try {
            results.push(...(await this.deps.store.transaction((repos) => this.importBatch(repos, actor, [one], opts.update ?? false))));
          } catch (e) {
            results.push({ row: one.row, ok: false, hostname: one.device.hostname, ...refusal(e) });
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
  private async importBatch(repos: Repositories, actor: Actor, batch: readonly ImportRow[], update: boolean): Promise<ImportRowReport[]> {
    const out: ImportRowReport[] = [];
    for (const { row, device, given } of batch) {
      const existing = update ? await repos.devices.deviceByHostname(device.hostname) : undefined;
      if (existing) {
        const current = await repos.devices.device(existing.id);
        let merged: DeviceInput;
        try {
          merged = validateDevice({ ...Object.fromEntries(DEVICE_FIELDS.map((k) => [k, deviceView(current!)[k]])), ...given });
        } catch (e) {
          out.push({ row, ok: false, hostname: device.hostname, ...refusal(e) });
          continue;
        }
        await repos.devices.updateDevice(existing.id, { address: merged.address, ...(await this.catalog(repos, merged)), field1: merged.field1, field2: merged.field2, domain: merged.domain, connectivity: merged.connectivity, updated_at: this.now() });
        await this.deps.audit.record(actorEvent('device.update', actor, device.hostname, { id: existing.id, import: true, row }), repos);
        out.push({ row, ok: true, action: 'updated', id: existing.id, hostname: device.hostname });
        continue;
      }
      let id: number;
      try {
        id = await this.insertDevice(repos, device);
      } catch (e) {
        // insertDevice refuses a taken host name before it writes anything, so the batch goes on cleanly.
        if (e instanceof WardenError && e.code === 'CONFLICT') {
          out.push({ row, ok: false, hostname: device.hostname, ...refusal(e), field: 'hostname' });
          continue;
        }
        throw e;
      }
      await this.deps.audit.record(actorEvent('device.create', actor, device.hostname, { id, import: true, row }), repos);
      out.push({ row, ok: true, action: 'created', id, hostname: device.hostname });
    }
    return out;
  }
}
