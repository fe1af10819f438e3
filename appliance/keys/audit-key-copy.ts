// The database copy of the audit key: the key wrapped (RFC 5649) under the master key, so that an encrypted
// backup restored onto a new token can still verify — and go on writing — the same keyed audit chain.
import { KeysError } from '../errors/index.js';
import type { Repositories, Store } from '../store/index.js';
import type { KeyService } from './key-service.js';

export const AUDIT_KEY_META = 'audit.key.wrapped';

/** Store the wrapped copy (at init; during a master key rotation it is wrapped under the next key). */
export async function writeAuditKeyCopy(repos: Repositories, keys: KeyService): Promise<void> {
  await repos.meta.set(AUDIT_KEY_META, keys.wrappedAuditKey().toString('base64'));
}

/** Restore: put the database's audit key onto a token that has just received the master key. */
export async function installAuditKeyFromStore(store: Store, keys: KeyService): Promise<void> {
  const wrapped = await store.repos.meta.get(AUDIT_KEY_META);
  if (wrapped === undefined) throw new KeysError('KEYS_AUDIT_KEY_MISSING', 'the database holds no copy of its audit key');
  keys.installAuditKey(Buffer.from(wrapped, 'base64'));
}
