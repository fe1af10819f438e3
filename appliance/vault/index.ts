// The vault: secrets (credential passwords and SSH keys, protected files, tokens, certificates, TOTP seeds,
// MFA provider secrets) sealed
// under per-record data keys wrapped by the token's master key. The record's identity is the sealing
// context, so a sealed value copied onto another record does not open.
// Sealing and opening wait for the token (off the event loop): do them before a database transaction,
// never inside one, so no write lock is held while the token works.
import type { KeyService } from '../keys/index.js';
import { WardenError } from '../errors/index.js';

export type VaultRecord = `credential:${number}` | `protected:${number}` | `totp:${number}` | `mfa-provider:${number}` | 'cluster:secret';

export class Vault {
  constructor(private readonly keys: () => KeyService) {}

  async seal(plain: Buffer, record: VaultRecord): Promise<string> {
    return (await this.keys().seal(plain, record)).toString('base64');
  }

  async open(sealed: string, record: VaultRecord): Promise<Buffer> {
    return this.keys().open(Buffer.from(sealed, 'base64'), record);
  }

  async sealText(plain: string, record: VaultRecord): Promise<string> {
    const buf = Buffer.from(plain, 'utf8');
    try {
      return await this.seal(buf, record);
    } finally {
      buf.fill(0);
    }
  }

  async openText(sealed: string, record: VaultRecord): Promise<string> {
    const buf = await this.open(sealed, record);
    try {
      return buf.toString('utf8');
    } finally {
      buf.fill(0);
    }
  }
}

/** Thrown inside the inserting transaction when the new row got another id than the one sealed for. */
class SealedForAnotherId extends Error {
  constructor(readonly actual: number) {
    super('the new row got another id than its sealed value was bound to');
  }
}

const NEW_ROW_ATTEMPTS = 6;

/**
 * Insert a row whose sealed value is bound to the row's own id (the context), with the sealing done before
 * the transaction: seal for the id the row is expected to get, insert, and `confirm` the id the store gave
 * it; if another writer took that id, the transaction rolls back and the value is sealed again for the next
 * expected id. `guess` is the expected id (the highest id + 1).
 */
export async function insertSealed<T>(
  guess: number,
  seal: (id: number) => Promise<string>,
  write: (sealed: string, confirm: (actualId: number) => void) => Promise<T>,
): Promise<T> {
  let expected = guess;
  let previous: number | undefined;
  for (let attempt = 0; attempt < NEW_ROW_ATTEMPTS; attempt++) {
    const sealed = await seal(expected);
    const id = expected;
    try {
      return await write(sealed, (actual) => {
        if (actual !== id) throw new SealedForAnotherId(actual);
      });
    } catch (e) {
      if (!(e instanceof SealedForAnotherId)) throw e;
      // An engine that does not give back ids of rolled-back inserts (InnoDB) moves on by its step.
      const step = previous !== undefined && e.actual > previous ? e.actual - previous : 0;
      previous = e.actual;
      expected = e.actual + step;
    }
  }
  throw new WardenError('STORE_UNAVAILABLE', 'a new sealed record could not be written: its id kept moving under concurrent inserts');
}
