// Creation of the master key's 32 bytes, and the seam where the backup issue's Shamir split takes them.
import { randomBytes } from 'node:crypto';

/**
 * Called with the raw master key between its creation and its import into the token, so custodian
 * shares can be cut (the backup module plugs in here). It must not keep a reference: the buffer is
 * zeroed as soon as it returns.
 */
export type MasterKeyHandoff = (material: Buffer, applianceId: string) => Promise<void> | void;

export function generateMasterKeyMaterial(): Buffer {
  return randomBytes(32);
}
