// Pinned host keys (SSH) and certificate fingerprints (RDP, MySQL/MariaDB TLS) of devices: trust on first use.
import type { PinnedProtocol, Store } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import { audited } from './audited.js';
import type { DeviceService } from './devices.js';
import type { Actor } from './user-admin.js';

export class HostKeyService {
  constructor(private readonly deps: { store: Store; audit: AuditTrail; devices: DeviceService; clock?: () => number }) {}

  private now(): number {
    return (this.deps.clock ?? Date.now)();
  }

  /**
   * Check a target's host key (SSH) or certificate (RDP) fingerprint: the first one seen is pinned;
   * later ones must match. A mismatch is an audit event and the caller refuses the connection.
   */
  async checkHostKey(deviceId: number, protocol: PinnedProtocol, fingerprint: string): Promise<'pinned' | 'match' | 'mismatch'> {
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
    await this.deps.devices.device(deviceId);
    return (await this.deps.store.repos.hostKeys.pinnedKeys(deviceId)).map((k) => ({ protocol: k.protocol, fingerprint: k.fingerprint, pinnedAt: new Date(k.pinned_at).toISOString() }));
  }

  async resetHostKey(actor: Actor, deviceId: number, protocol: PinnedProtocol): Promise<boolean> {
    const d = await this.deps.devices.device(deviceId);
    return (await audited(this.deps.audit, { type: 'device.host_key_reset', actor, subject: d.hostname, detail: { protocol } }, (repos) => repos.hostKeys.unpinKey(deviceId, protocol))) > 0;
  }
}
