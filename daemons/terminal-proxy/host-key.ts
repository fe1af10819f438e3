// The proxy's own SSH host key: created once (Ed25519) on first start and kept, so clients' known_hosts
// entries stay valid across restarts. 0600 under the state directory, like every secret Warden writes.
import { existsSync, readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import { publishPrivateFile, restrictExistingFile } from '../../appliance/config/index.js';
import { WardenError } from '../../appliance/errors/index.js';

/**
 * A new Ed25519 key pair in OpenSSH format that ssh2 itself can read back. ssh2's generateKeyPairSync strips
 * every leading zero byte of the public key (mscdex/ssh2#1390, #1513), so about one key in 256 is written
 * with a 31-byte public half that parseKey then refuses: a proxy would make a host key it cannot load. The
 * pair is checked and, in that case, made again (the chance of needing more than a few tries is nil).
 */
export function newHostKeyPair(comment = 'warden terminal proxy'): { private: string; public: string } {
  for (let attempt = 0; attempt < 64; attempt++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment });
    if (!(ssh2.utils.parseKey(pair.private) instanceof Error) && !(ssh2.utils.parseKey(pair.public) instanceof Error)) return pair;
  }
  throw new WardenError('INTERNAL', 'no readable Ed25519 host key could be made');
}

export function loadOrCreateHostKey(file: string): { key: Buffer; created: boolean } {
  if (!existsSync(file)) {
    const pair = newHostKeyPair();
    // Published whole or not at all: a proxy killed while writing, or two starting at once, must not leave
    // an empty key file that no later start could parse. If another process won, its key is the key.
    if (publishPrivateFile(file, pair.private)) return { key: Buffer.from(pair.private, 'utf8'), created: true };
  }
  restrictExistingFile(file);
  const key = readFileSync(file);
  const parsed = ssh2.utils.parseKey(key);
  if (parsed instanceof Error) throw new WardenError('CONFIG_INVALID', `the terminal proxy's host key ${file} cannot be read (${parsed.message}); move it away to have a new one made (clients will see a changed host key)`);
  return { key, created: false };
}
