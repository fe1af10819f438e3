// The cluster secret: 32 random bytes the nodes sign their internal calls with, created at the first call
// that needs it and kept in the shared database sealed under the master key (every node holds the same
// master key, so every node opens it; a copy of the database without the token does not).
import { randomBytes } from 'node:crypto';
import { isUniqueViolation, type Store } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { Vault } from '../vault/index.js';

export const CLUSTER_SECRET_META = 'cluster.secret.sealed';
const CONTEXT = 'cluster:secret' as const;

export class ClusterSecret {
  private opened: Buffer | undefined;

  constructor(private readonly deps: { store: Store; audit: AuditTrail; vault: Vault }) {}

  /** The secret, created now if there is none yet. */
  async get(): Promise<Buffer> {
    return (await this.existing()) ?? this.create();
  }

  /**
   * The secret if one exists. A node answering a call never creates it: with no secret, no one can have
   * signed the call.
   */
  async existing(): Promise<Buffer | undefined> {
    if (this.opened) return this.opened;
    const sealed = await this.deps.store.repos.meta.get(CLUSTER_SECRET_META);
    if (sealed === undefined) return undefined;
    this.opened = await this.deps.vault.open(sealed, CONTEXT);
    return this.opened;
  }

  /**
   * Seal a new secret (on the token, before the transaction), then store it unless another process or node
   * stored one meanwhile: the first stored wins and everyone uses that one. Two creators on SQLite are
   * serialized by the write lock (the second sees the first's row); on MariaDB the second's insert is a
   * duplicate key (or a certification conflict, retried by the store, after which it sees the row).
   */
  private async create(): Promise<Buffer> {
    const fresh = randomBytes(32);
    let sealed: string;
    try {
      sealed = await this.deps.vault.seal(fresh, CONTEXT);
    } finally {
      fresh.fill(0);
    }
    try {
      await this.deps.store.transaction(async (repos) => {
        if ((await repos.meta.get(CLUSTER_SECRET_META)) !== undefined) return;
        await repos.meta.set(CLUSTER_SECRET_META, sealed);
        await this.deps.audit.record({ type: 'cluster.secret_created', outcome: 'success', actor: 'system', subject: 'cluster', detail: {} }, repos);
      });
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
    }
    const secret = await this.existing();
    if (!secret) throw new Error('the cluster secret vanished right after it was stored');
    return secret;
  }
}
