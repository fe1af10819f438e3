// The key check: a known value sealed at init, so a later start can tell that the token's master key is
// the one this database was sealed with (a swapped or re-initialized token is caught before any decision).
import { KeysError } from '../errors/index.js';
import type { Store } from '../store/index.js';
import type { KeyService } from './key-service.js';

export const KEY_CHECK_META = 'keys.check';
const KEY_CHECK_CONTEXT = 'warden/key-check';
const KEY_CHECK_VALUE = 'warden key check v1';

export async function writeKeyCheck(store: Store, keys: KeyService): Promise<void> {
  const sealed = await keys.seal(Buffer.from(KEY_CHECK_VALUE), KEY_CHECK_CONTEXT);
  await store.repos.meta.set(KEY_CHECK_META, sealed.toString('base64'));
}

export async function verifyKeyCheck(store: Store, keys: KeyService): Promise<void> {
  if (!keys.hasMasterKey()) throw new KeysError('KEYS_MASTER_KEY_MISSING', 'the token holds no master key');
  const stored = await store.repos.meta.get(KEY_CHECK_META);
  if (stored === undefined) throw new KeysError('KEYS_MASTER_KEY_MISSING', 'the database has no key check: run "orbit init"');
  let plain: Buffer;
  try {
    plain = await keys.open(Buffer.from(stored, 'base64'), KEY_CHECK_CONTEXT);
  } catch (e) {
    throw new KeysError('KEYS_DECRYPT_FAILED', "the token's master key is not the one this database was sealed with", e);
  }
  if (plain.toString() !== KEY_CHECK_VALUE) throw new KeysError('KEYS_DECRYPT_FAILED', 'the key check value is wrong');
}
