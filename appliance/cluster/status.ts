// What this node's server says about the cluster: SHOW GLOBAL STATUS LIKE 'wsrep_%'.
import { WardenError } from '../errors/index.js';
import { adminQuery, type AdminConnection } from './admin.js';

export interface GaleraStatus {
  /** Members in this node's view of the group. */
  clusterSize: number;
  /** 'Primary' (has quorum), 'non-Primary', 'Disconnected'. */
  clusterStatus: string;
  /** 'Synced', 'Donor/Desynced', 'Joining', 'Joined', 'Initialized', ... */
  localState: string;
  ready: boolean;
  connected: boolean;
  lastCommitted: number;
  clusterUuid: string;
  /** Each member's client address as it announces it (wsrep_node_incoming_address). */
  incomingAddresses: string[];
}

export function parseStatus(rows: (string | null)[][]): GaleraStatus {
  const v = new Map(rows.map((r) => [String(r[0]).toLowerCase(), r[1] ?? '']));
  if (!v.has('wsrep_cluster_status')) throw new WardenError('CLUSTER_REFUSED', 'this database server does not run Galera (wsrep is off)');
  return {
    clusterSize: Number(v.get('wsrep_cluster_size') ?? 0),
    clusterStatus: v.get('wsrep_cluster_status') ?? '',
    localState: v.get('wsrep_local_state_comment') ?? '',
    ready: v.get('wsrep_ready') === 'ON',
    connected: v.get('wsrep_connected') === 'ON',
    lastCommitted: Number(v.get('wsrep_last_committed') ?? -1),
    clusterUuid: v.get('wsrep_cluster_state_uuid') ?? '',
    incomingAddresses: (v.get('wsrep_incoming_addresses') ?? '').split(',').map((s) => s.trim()).filter(Boolean).sort(),
  };
}

export async function readStatus(conn: AdminConnection): Promise<GaleraStatus> {
  return parseStatus(await adminQuery(conn, "SHOW GLOBAL STATUS LIKE 'wsrep\\_%';\n", { timeoutMs: 15_000 }));
}

/** Synced and ready in a Primary component: the node serves reads and writes. */
export function isServing(s: GaleraStatus): boolean {
  return s.clusterStatus === 'Primary' && s.localState === 'Synced' && s.ready;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Wait until the node serves (and, if given, sees `size` members). A joiner's SST can take minutes: the
 * caller says how long; `onState` hears each new state (for a progress line).
 */
export async function waitUntilServing(conn: AdminConnection, o: { timeoutMs: number; size?: number; onState?: (state: string) => void; alive?: () => Promise<boolean> }): Promise<GaleraStatus> {
  const deadline = Date.now() + o.timeoutMs;
  let last = '';
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const s = await readStatus(conn);
      const said = `${s.localState} (${s.clusterStatus}, size ${s.clusterSize})`;
      if (said !== last) o.onState?.(said);
      last = said;
      if (isServing(s) && (o.size === undefined || s.clusterSize >= o.size)) return s;
    } catch (e) {
      lastError = e;
      if (o.alive && !(await o.alive())) throw new WardenError('CLUSTER_FAILED', 'the database server stopped before it was synced with the cluster', { cause: e });
    }
    await sleep(250);
  }
  throw new WardenError('CLUSTER_FAILED', `the database server was not synced within ${Math.round(o.timeoutMs / 1000)} s (last: ${last || String((lastError as Error | undefined)?.message ?? 'no answer')})`);
}
