// A real MariaDB Galera cluster on loopback for tests: N nodes, each with its own directory, free ports
// (client, gmcast, IST, SST), replication and SST over TLS with a CA made for the lab, mariabackup SST.
// Servers run as root (--user=root) and are stopped or killed by their own pid only: other tests run
// their own mariadbd processes on this machine.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  adminQuery,
  createClusterTls,
  createSstUser,
  galeraConfig,
  installClusterTls,
  layoutUnder,
  processControl,
  readStatus,
  serverPid,
  tlsFiles,
  waitUntilServing,
  type AdminConnection,
  type ClusterTls,
  type GaleraNodeConfig,
  type GaleraStatus,
  type NodeLayout,
  type NodePorts,
  type ServerControl,
} from '../../appliance/cluster/index.js';
import { freePort } from './sshd.js';

export const SST_USER = 'warden_sst';

export interface GaleraNode {
  name: string;
  dir: string;
  layout: NodeLayout;
  ports: NodePorts;
  config: GaleraNodeConfig;
  control: ServerControl;
  admin: AdminConnection;
  /** The running server's pid (from its pid file), null when stopped. */
  pid(): number | null;
  /** Start: the first node of a new cluster with `bootstrap`, a joiner (SST/IST) without. Waits until Synced. */
  start(opts?: { bootstrap?: boolean; timeoutMs?: number }): Promise<number>;
  stop(): Promise<void>;
  /** SIGKILL: a crash, grastate.dat keeps seqno -1. */
  kill(): Promise<void>;
  status(): Promise<GaleraStatus>;
  sql(text: string): Promise<(string | null)[][]>;
}

export interface GaleraLab {
  dir: string;
  clusterName: string;
  nodes: GaleraNode[];
  tls: ClusterTls;
  sst: { user: string; password: string };
  /** Stop every server this lab started (by pid), remove the directories. */
  cleanup(): Promise<void>;
}

/** The nodes this process started, killed at its exit if still running (checked: a pid outlives no one). */
const started = new Set<NodeLayout>();
process.once('exit', () => {
  for (const layout of started) {
    const pid = pidOf(layout);
    if (pid === null) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

let template: string | undefined;
/** An initialized system datadir, made once per process and copied for each bootstrap node. */
export function templateDatadir(): string {
  if (template && existsSync(path.join(template, 'mysql'))) return template;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'warden-galera-template-'));
  execFileSync('mariadb-install-db', ['--user=root', `--datadir=${dir}`, '--auth-root-authentication-method=socket', '--skip-test-db'], { stdio: 'ignore' });
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  template = dir;
  return dir;
}

// Only a mariadbd started with this node's config: a stale pid file's pid may belong to anyone by now.
const pidOf = serverPid;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface LabOptions {
  nodes?: number;
  clusterName?: string;
  /** Only write the directories and configs; start nothing (a test drives the servers itself, e.g. through orbit). */
  configureOnly?: boolean;
}

/** Free ports for N nodes and their layout; no server configured. */
export async function labPorts(n: number): Promise<NodePorts[]> {
  const out: NodePorts[] = [];
  for (let i = 0; i < n; i++) out.push({ mysql: await freePort(), gmcast: await freePort(), ist: await freePort(), sst: await freePort() });
  return out;
}

export async function startGaleraLab(opts: LabOptions = {}): Promise<GaleraLab> {
  const count = opts.nodes ?? 3;
  const clusterName = opts.clusterName ?? 'warden-lab';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'warden-galera-'));
  const tls = await createClusterTls(clusterName);
  const sst = { user: SST_USER, password: 'Sst' + Math.random().toString(36).slice(2, 14) };
  const ports = await labPorts(count);
  const members = ports.map((p) => ({ host: '127.0.0.1', port: p.gmcast }));
  const nodes: GaleraNode[] = [];
  for (let i = 0; i < count; i++) {
    const name = `node${i + 1}`;
    const nodeDir = path.join(dir, name);
    const layout = layoutUnder(nodeDir);
    mkdirSync(layout.datadir, { recursive: true });
    installClusterTls(tls, tlsFiles(layout));
    const config: GaleraNodeConfig = { clusterName, nodeName: name, address: '127.0.0.1', ports: ports[i]!, members, layout, sst, runAsRoot: true, small: true };
    writeFileSync(layout.configFile, galeraConfig(config), { mode: 0o600 });
    const control = processControl(layout);
    const admin: AdminConnection = { socket: layout.socket };
    const node: GaleraNode = {
      name,
      dir: nodeDir,
      layout,
      ports: ports[i]!,
      config,
      control,
      admin,
      pid: () => pidOf(layout),
      async start(s = {}) {
        const t0 = performance.now();
        if (s.bootstrap && !existsSync(path.join(layout.datadir, 'mysql'))) cpSync(templateDatadir(), layout.datadir, { recursive: true });
        await control.start({ bootstrap: s.bootstrap ?? false });
        started.add(layout);
        await waitUntilServing(admin, { timeoutMs: s.timeoutMs ?? 180_000, alive: () => control.running() });
        return performance.now() - t0;
      },
      async stop() {
        await control.stop();
      },
      async kill() {
        const pid = pidOf(layout);
        if (pid === null) return;
        process.kill(pid, 'SIGKILL');
        while (pidOf(layout) === pid) await sleep(50);
      },
      status: () => readStatus(admin),
      sql: (text) => adminQuery(admin, text),
    };
    nodes.push(node);
  }
  const lab: GaleraLab = {
    dir,
    clusterName,
    nodes,
    tls,
    sst,
    async cleanup() {
      for (const n of nodes) {
        started.delete(n.layout);
        const pid = n.pid();
        if (pid === null) continue;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
        while (n.pid() === pid) await sleep(50);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (opts.configureOnly) return lab;
  try {
    await nodes[0]!.start({ bootstrap: true });
    await createSstUser(nodes[0]!.admin, sst.user, sst.password);
    for (const n of nodes.slice(1)) await n.start();
  } catch (e) {
    await lab.cleanup();
    throw e;
  }
  return lab;
}
