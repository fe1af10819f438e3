// This node's cluster settings, kept beside the state directory (cluster.json, private): which cluster,
// its own name, address and ports, how its server is run (systemd on the appliance, or a process runner
// with every file under one directory for tests and development), and the members it knows. Later
// commands (status, leave, bootstrap) read it, so they need no flags.
import { existsSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { WardenError } from '../errors/index.js';
import { applianceLayout, galeraConfig, layoutUnder, type Endpoint, type NodeLayout, type NodePorts } from './galera-config.js';
import { processControl, systemdControl, type ServerControl } from './server-control.js';
import { writePrivateFile } from './files.js';
import type { AdminConnection } from './admin.js';

export interface NodeState {
  clusterName: string;
  nodeName: string;
  address: string;
  ports: NodePorts;
  /** Process runner with every server file under this directory; null: systemd's mariadb.service, Debian's paths. */
  nodeDir: string | null;
  /** Every member's gmcast endpoint this node knows (itself included). */
  members: Endpoint[];
  /** Every member's client endpoint (itself first). */
  clients: Endpoint[];
  sst: { user: string; password: string };
  app: { user: string; database: string };
  /** Addresses let through the firewall ahead of their join (`orbit cluster allow`), beside the members'. */
  allowed?: string[];
}

export function nodeStateFile(home: string): string {
  return path.join(home, 'cluster.json');
}

export function readNodeState(home: string): NodeState | null {
  const file = nodeStateFile(home);
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as NodeState;
  } catch (e) {
    throw new WardenError('CONFIG_INVALID', `${file} is not readable JSON`, { cause: e });
  }
}

export function requireNodeState(home: string): NodeState {
  const s = readNodeState(home);
  if (s === null) throw new WardenError('CLUSTER_REFUSED', 'this appliance is not a cluster node (no cluster.json): run "orbit cluster init" or "orbit cluster join"');
  return s;
}

export function writeNodeState(home: string, s: NodeState): void {
  writePrivateFile(nodeStateFile(home), JSON.stringify(s, null, 2) + '\n', 0o600);
}

/** After a leave: kept for the record, no longer read as this node's state. */
export function retireNodeState(home: string): void {
  renameSync(nodeStateFile(home), path.join(home, `cluster.left-${Date.now()}.json`));
}

export function layoutOf(s: Pick<NodeState, 'nodeDir'>): NodeLayout {
  return s.nodeDir === null ? applianceLayout() : layoutUnder(s.nodeDir);
}

export function controlOf(s: Pick<NodeState, 'nodeDir'>): ServerControl {
  return s.nodeDir === null ? systemdControl() : processControl(layoutUnder(s.nodeDir));
}

export function adminOf(s: Pick<NodeState, 'nodeDir'>): AdminConnection {
  return { socket: layoutOf(s).socket };
}

/**
 * Who the server's files belong to: on the appliance mariadb.service runs as mysql, which must read its
 * config (0640 root:mysql: it holds the SST password) and the TLS key (0600 mysql); a process-runner node
 * runs as the caller.
 */
export function serverOwner(s: Pick<NodeState, 'nodeDir'>): { uid: number; gid: number } | undefined {
  if (s.nodeDir !== null) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('mysql:'));
  if (!line) throw new WardenError('CLUSTER_FAILED', 'there is no mysql user: is mariadb-server installed?');
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/** The server configuration for the state; written 0600/0640 (it holds the SST password). */
export function writeServerConfig(s: NodeState): void {
  const layout = layoutOf(s);
  const text = galeraConfig({
    clusterName: s.clusterName,
    nodeName: s.nodeName,
    address: s.address,
    ports: s.ports,
    members: s.members,
    layout,
    sst: s.sst,
    runAsRoot: s.nodeDir !== null,
    small: s.nodeDir !== null,
  });
  const owner = serverOwner(s);
  writePrivateFile(layout.configFile, text, owner ? 0o640 : 0o600, owner ? { uid: 0, gid: owner.gid } : undefined);
}

/** Add endpoints not yet known (by host and port). */
export function mergeEndpoints(a: Endpoint[], b: Endpoint[]): Endpoint[] {
  const out = [...a];
  for (const e of b) if (!out.some((x) => x.host === e.host && x.port === e.port)) out.push(e);
  return out;
}
