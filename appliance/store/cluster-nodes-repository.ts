// The cluster's nodes: registered when a node joins (orbit cluster init/join), updated when its address or
// web certificate changes, marked 'left' (never deleted: its recordings still name it) when it leaves.
import type { Kysely, Transaction } from 'kysely';
import type { ClusterNodeRow, Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface ClusterNodeRegistration {
  id: string;
  name: string;
  /** https://host:port of the node's web daemon. */
  internalUrl: string;
  /** Lower-case hex SHA-256 of its web certificate (DER); see `certificateFingerprint` in appliance/nodes. */
  tlsFingerprint: string;
  at: number;
}

export class ClusterNodesRepository {
  constructor(private readonly db: Db) {}

  /**
   * Add a node, or bring back one that left under the same id (a rejoin): 'active', joined now, with the
   * address and pin given. Returns 'added' or 'rejoined'.
   */
  async register(n: ClusterNodeRegistration): Promise<'added' | 'rejoined'> {
    const r = await this.db
      .updateTable('cluster_nodes')
      .set({ name: n.name, internal_url: n.internalUrl, tls_fingerprint: n.tlsFingerprint, state: 'active', joined_at: n.at, left_at: null, updated_at: n.at })
      .where('id', '=', n.id)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 1) return 'rejoined';
    await this.db
      .insertInto('cluster_nodes')
      .values({ id: n.id, name: n.name, internal_url: n.internalUrl, tls_fingerprint: n.tlsFingerprint, state: 'active', joined_at: n.at, left_at: null, updated_at: n.at })
      .execute();
    return 'added';
  }

  /** Change a node's name, address or pinned fingerprint (a new web certificate); false if there is no such node. */
  async update(id: string, change: { name?: string; internalUrl?: string; tlsFingerprint?: string; at: number }): Promise<boolean> {
    const r = await this.db
      .updateTable('cluster_nodes')
      .set({
        ...(change.name !== undefined ? { name: change.name } : {}),
        ...(change.internalUrl !== undefined ? { internal_url: change.internalUrl } : {}),
        ...(change.tlsFingerprint !== undefined ? { tls_fingerprint: change.tlsFingerprint } : {}),
        updated_at: change.at,
      })
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Mark an active node as left; false if it is unknown or had left already. */
  async markLeft(id: string, at: number): Promise<boolean> {
    const r = await this.db.updateTable('cluster_nodes').set({ state: 'left', left_at: at, updated_at: at }).where('id', '=', id).where('state', '=', 'active').executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async get(id: string): Promise<ClusterNodeRow | undefined> {
    return this.db.selectFrom('cluster_nodes').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Every node (those that left too, unless `activeOnly`), oldest member first. */
  async list(options: { activeOnly?: boolean } = {}): Promise<ClusterNodeRow[]> {
    let q = this.db.selectFrom('cluster_nodes').selectAll();
    if (options.activeOnly) q = q.where('state', '=', 'active');
    return q.orderBy('joined_at').orderBy('id').execute();
  }
}
