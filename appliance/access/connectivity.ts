// The connectivity test: for each active device, try every port its connectivity field lists (a TCP
// connect; for SSH also the server's identification banner), record the result, and raise an alert event
// on failure. Runs periodically in the web daemon (interval from settings) and on demand.
import net from 'node:net';
import type { Store } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import { parseConnectivity } from './decision.js';
import type { DeviceService, DeviceView } from './devices.js';
import { actorEvent, type Actor } from './user-admin.js';

export interface PortResult {
  deviceId: number;
  hostname: string;
  protocol: string;
  port: number;
  ok: boolean;
  detail: string;
}

/** Connect to host:port; for SSH read the "SSH-2.0-…" line. Resolves, never rejects. */
export function probe(host: string, port: number, protocol: string, timeoutMs: number): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let done = false;
    let banner = '';
    const finish = (ok: boolean, detail: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ok, detail: detail.slice(0, 255) });
    };
    const timer = setTimeout(() => finish(false, banner === '' && protocol === 'SSH' && socket.readyState === 'open' ? 'no SSH banner in time' : 'timed out'), timeoutMs);
    socket.once('error', (e: NodeJS.ErrnoException) => finish(false, e.code ?? e.message));
    socket.once('connect', () => {
      if (protocol !== 'SSH') finish(true, 'tcp connect ok');
    });
    socket.on('data', (chunk: Buffer) => {
      banner += chunk.toString('latin1');
      const nl = banner.indexOf('\n');
      if (nl === -1 && banner.length < 256) return;
      const line = banner.slice(0, nl === -1 ? 255 : nl).trim();
      finish(line.startsWith('SSH-'), line.startsWith('SSH-') ? line : `not an SSH banner: ${JSON.stringify(line.slice(0, 40))}`);
    });
  });
}

export class ConnectivityService {
  constructor(
    private readonly deps: { store: Store; audit: AuditTrail; devices: DeviceService; clock?: () => number; timeoutMs?: number; concurrency?: number },
  ) {}

  async checkDevice(d: DeviceView): Promise<PortResult[]> {
    const out: PortResult[] = [];
    for (const [protocol, port] of parseConnectivity(d.connectivity)) {
      const r = await probe(d.address, port, protocol, this.deps.timeoutMs ?? 3000);
      out.push({ deviceId: d.id, hostname: d.hostname, protocol, port, ...r });
      await this.deps.store.repos.connectivity.recordConnectivity({ device_id: d.id, port, protocol, ok: r.ok, detail: r.detail, checked_at: (this.deps.clock ?? Date.now)() });
      if (!r.ok) {
        await this.deps.audit.record({ type: 'device.connectivity_alert', outcome: 'failure', actor: 'system', subject: d.hostname, code: 'DEVICE_UNREACHABLE', detail: { protocol, port, address: d.address, reason: r.detail } });
      }
    }
    return out;
  }

  /**
   * A check a person asked for ("check now"): the ports are probed first (no transaction held across the
   * network), then the results, their alerts and the device.connectivity_check event land in one transaction.
   */
  async checkNow(actor: Actor, deviceId: number): Promise<PortResult[]> {
    const d = await this.deps.devices.device(deviceId);
    const out: PortResult[] = [];
    for (const [protocol, port] of parseConnectivity(d.connectivity)) {
      const r = await probe(d.address, port, protocol, this.deps.timeoutMs ?? 3000);
      out.push({ deviceId: d.id, hostname: d.hostname, protocol, port, ...r });
    }
    const checkedAt = (this.deps.clock ?? Date.now)();
    const failing = out.filter((r) => !r.ok);
    await this.deps.store.transaction(async (repos) => {
      for (const r of out) await repos.connectivity.recordConnectivity({ device_id: d.id, port: r.port, protocol: r.protocol, ok: r.ok, detail: r.detail, checked_at: checkedAt });
      for (const r of failing) {
        await this.deps.audit.record({ type: 'device.connectivity_alert', outcome: 'failure', actor: 'system', subject: d.hostname, code: 'DEVICE_UNREACHABLE', detail: { protocol: r.protocol, port: r.port, address: d.address, reason: r.detail } }, repos);
      }
      await this.deps.audit.record(actorEvent('device.connectivity_check', actor, d.hostname, { id: d.id, ports: out.length, failing: failing.length }, failing.length === 0 ? 'success' : 'failure'), repos);
    });
    return out;
  }

  /** The last result of each of a device's ports, by port. */
  async lastResults(deviceId: number): Promise<{ protocol: string; port: number; ok: boolean; detail: string; checkedAt: string }[]> {
    return (await this.deps.store.repos.connectivity.connectivity(deviceId)).map((r) => ({ protocol: r.protocol, port: r.port, ok: Boolean(r.ok), detail: r.detail, checkedAt: new Date(Number(r.checked_at)).toISOString() }));
  }

  /** Check every active device, a few at a time. */
  async checkAll(): Promise<PortResult[]> {
    const devices = (await this.deps.devices.listDevices({ limit: 100_000 })).filter((d) => d.status === 'active');
    const results: PortResult[] = [];
    let next = 0;
    const workers = Array.from({ length: Math.min(this.deps.concurrency ?? 16, devices.length) }, async () => {
      for (let i = next++; i < devices.length; i = next++) results.push(...(await this.checkDevice(devices[i]!)));
    });
    await Promise.all(workers);
    return results;
  }
}
