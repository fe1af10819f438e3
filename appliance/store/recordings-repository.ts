// Session recordings: a row written when the recording starts, finished once when it ends.
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database, RecordingsTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;


export type RecordingRow = Selectable<RecordingsTable>;

/** A recording with who, where and which session, as an auditor lists it. */
export interface RecordingListing extends RecordingRow {
  username: string;
  hostname: string;
  credential_username: string;
  source_ip: string;
}

export class RecordingsRepository {
  constructor(private readonly db: Db) {}

  async insert(row: RecordingRow): Promise<void> {
    await this.db.insertInto('recordings').values(row).execute();
  }

  /** End a recording once; false if it had ended already. */
  async finish(id: string, end: { status: 'complete' | 'failed'; at: number; bytes: number; chunks: number }): Promise<boolean> {
    const r = await this.db
      .updateTable('recordings')
      .set({ status: end.status, ended_at: end.at, bytes: end.bytes, chunks: end.chunks })
      .where('id', '=', id)
      .where('status', '=', 'recording')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  private listing() {
    return this.db
      .selectFrom('recordings')
      .innerJoin('proxy_sessions', 'proxy_sessions.id', 'recordings.session_id')
      .selectAll('recordings')
      .select(['proxy_sessions.username', 'proxy_sessions.hostname', 'proxy_sessions.credential_username', 'proxy_sessions.source_ip']);
  }

  async byId(id: string): Promise<RecordingListing | undefined> {
    return this.listing().where('recordings.id', '=', id).executeTakeFirst();
  }

  async bySession(sessionId: string): Promise<RecordingListing | undefined> {
    return this.listing().where('recordings.session_id', '=', sessionId).executeTakeFirst();
  }

  /**
   * Newest first. `before` is a keyset cursor (the last row of the page before: its start and id), so a page
   * deep in the history costs what the first does; the id breaks ties between recordings started together.
   */
  async list(filter: { username?: string; hostname?: string; since?: number; until?: number; before?: { startedAt: number; id: string }; limit: number }): Promise<RecordingListing[]> {
    let q = this.listing();
    if (filter.username !== undefined) q = q.where('proxy_sessions.username', '=', filter.username);
    if (filter.hostname !== undefined) q = q.where('proxy_sessions.hostname', '=', filter.hostname);
    if (filter.since !== undefined) q = q.where('recordings.started_at', '>=', filter.since);
    if (filter.until !== undefined) q = q.where('recordings.started_at', '<', filter.until);
    const before = filter.before;
    if (before !== undefined) {
      q = q.where((eb) => eb.or([eb('recordings.started_at', '<', before.startedAt), eb.and([eb('recordings.started_at', '=', before.startedAt), eb('recordings.id', '<', before.id)])]));
    }
    return q.orderBy('recordings.started_at', 'desc').orderBy('recordings.id', 'desc').limit(filter.limit).execute();
  }

  /**
   * Give the recordings that name no node (made before clustering) or the unclustered default 'local' to
   * `nodeId`: the node whose recordings directory holds them (the cluster's first node, at cluster init).
   * Returns how many.
   */
  async adoptUnowned(nodeId: string): Promise<number> {
    const r = await this.db
      .updateTable('recordings')
      .set({ node_id: nodeId })
      .where((eb) => eb.or([eb('node_id', 'is', null), eb('node_id', '=', 'local')]))
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /** Every recording's file name (for the backup). */
  async files(): Promise<string[]> {
    return (await this.db.selectFrom('recordings').select('file').execute()).map((r) => r.file);
  }
}
