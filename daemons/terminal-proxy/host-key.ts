// The proxy's own SSH host key: created once (Ed25519) on first start and kept, so clients' known_hosts
// entries stay valid across restarts. 0600 under the state directory, like every secret Warden writes.
import { existsSync, readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import { restrictExistingFile, writePrivateFile } from '../../appliance/config/index.js';

export function loadOrCreateHostKey(file: string): { key: Buffer; created: boolean } {
  if (existsSync(file)) {
    restrictExistingFile(file);
    return { key: readFileSync(file), created: false };
  }
  const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'warden terminal proxy' });
  writePrivateFile(file, pair.private, { exclusive: true });
  return { key: Buffer.from(pair.private, 'utf8'), created: true };
}
