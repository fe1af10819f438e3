// The vault: secrets (credential passwords and SSH keys, protected files, tokens, certificates, TOTP seeds,
// MFA provider secrets) sealed
// under per-record data keys wrapped by the token's master key. The record's identity is the sealing
// context, so a sealed value copied onto another record does not open.
import type { KeyService } from '../keys/index.js';

export type VaultRecord = `credential:${number}` | `protected:${number}` | `totp:${number}` | `mfa-provider:${number}`;

export class Vault {
  constructor(private readonly keys: () => KeyService) {}

  seal(plain: Buffer, record: VaultRecord): string {
    return this.keys().seal(plain, record).toString('base64');
  }

  open(sealed: string, record: VaultRecord): Buffer {
    return this.keys().open(Buffer.from(sealed, 'base64'), record);
  }

  sealText(plain: string, record: VaultRecord): string {
    const buf = Buffer.from(plain, 'utf8');
    try {
      return this.seal(buf, record);
    } finally {
      buf.fill(0);
    }
  }

  openText(sealed: string, record: VaultRecord): string {
    return this.open(sealed, record).toString('utf8');
  }
}
