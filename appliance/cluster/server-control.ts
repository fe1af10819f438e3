// Starting and stopping this node's MariaDB server. On the appliance that is systemd's mariadb.service
// (`galera_new_cluster` for a bootstrap, which starts the same unit with --wsrep-new-cluster); for tests and
// development a process runner starts mariadbd itself with --defaults-file and stops it by its pid.
import { execFile, spawn } from 'node:child_process';
import { openSync, closeSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { WardenError } from '../errors/index.js';
import type { NodeLayout } from './galera-config.js';
import { readGrastate, recoverPosition } from './bootstrap.js';

const run = promisify(execFile);

export interface StartOptions {
  /** Start a new cluster from this node's data (--wsrep-new-cluster). */
  bootstrap?: boolean;
}

export interface ServerControl {
  readonly kind: 'systemd' | 'process';
  start(opts?: StartOptions): Promise<void>;
  /** A clean shutdown: the node leaves the group and saves its position in grastate.dat. */
  stop(): Promise<void>;
  /** Start the server at boot (systemd) — the appliance's image ships it disabled. */
  enable(): Promise<void>;
  disable(): Promise<void>;
  running(): Promise<boolean>;
}

async function tool(cmd: string, args: string[]): Promise<string> {
  try {
    return (await run(cmd, args, { maxBuffer: 4 * 1024 * 1024 })).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new WardenError('CLUSTER_FAILED', `${cmd} ${args.join(' ')} failed: ${(err.stderr ?? '').trim() || err.message}`, { cause: e });
  }
}

export function systemdControl(unit = 'mariadb.service'): ServerControl {
  return {
    kind: 'systemd',
    async start(opts = {}) {
      // galera_new_cluster sets _WSREP_NEW_CLUSTER for one start of the unit.
      if (opts.bootstrap) await tool('galera_new_cluster', []);
      else await tool('systemctl', ['start', unit]);
    },
    async stop() {
      await tool('systemctl', ['stop', unit]);
    },
    async enable() {
      await tool('systemctl', ['enable', unit]);
    },
    async disable() {
      await tool('systemctl', ['disable', unit]);
    },
    async running() {
      try {
        await run('systemctl', ['is-active', '--quiet', unit]);
        return true;
      } catch {
        return false;
      }
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The pid of this node's running mariadbd, or null. The pid file alone is not enough: a server killed
 * (SIGKILL, a crash) leaves it behind, and once the kernel hands that pid to another process (quickly where
 * pid_max is 32768), a stop would signal a stranger — on a test machine, another test's database server. So
 * the process must be a mariadbd started with this node's config file.
 */
export function serverPid(layout: NodeLayout): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(layout.pidFile, 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return null;
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return null;
  }
  return path.basename(argv[0] ?? '').startsWith('mariadbd') && argv.includes(`--defaults-file=${layout.configFile}`) ? pid : null;
}

const pidOf = serverPid;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * mariadbd started directly, detached (it outlives the orbit process that started it, as under systemd),
 * its output in the error log. `start` returns once the server has written its pid file (the wsrep state
 * is for the caller to wait on: a joiner's SST can take minutes); `stop` sends SIGTERM to that pid only.
 */
export function processControl(layout: NodeLayout, opts: { mariadbd?: string; stopTimeoutMs?: number } = {}): ServerControl {
  const bin = opts.mariadbd ?? 'mariadbd';
  return {
    kind: 'process',
    async start(s = {}) {
      if (pidOf(layout) !== null) throw new WardenError('CLUSTER_REFUSED', `the database server of ${layout.configFile} is already running`);
      // A joiner's datadir starts empty: the state transfer fills it.
      mkdirSync(layout.datadir, { recursive: true, mode: 0o750 });
      const out = openSync(layout.errorLog, 'a');
      try {
        // What Debian's mariadb.service does before each start (galera_recovery): a node that crashed has
        // seqno -1 in grastate.dat; without its position recovered from InnoDB it would ask for a full SST
        // instead of the IST its gcache and the donor's allow.
        const g = readGrastate(layout);
        const position = g !== null && g.seqno < 0 ? await recoverPosition(layout, { mariadbd: bin }) : null;
        const args = [
          `--defaults-file=${layout.configFile}`,
          ...(s.bootstrap ? ['--wsrep-new-cluster'] : []),
          ...(position ? [`--wsrep_start_position=${position.uuid}:${position.seqno}`] : []),
        ];
        const child = spawn(bin, args, { detached: true, stdio: ['ignore', out, out] });
        let exited: number | null | undefined;
        child.once('exit', (code) => (exited = code));
        child.unref();
        for (let i = 0; i < 600; i++) {
          if (exited !== undefined) throw new WardenError('CLUSTER_FAILED', `mariadbd exited (code ${exited}) while starting; see ${layout.errorLog}`);
          if (pidOf(layout) !== null) return;
          await sleep(100);
        }
        throw new WardenError('CLUSTER_FAILED', `mariadbd did not write ${layout.pidFile} within 60 s; see ${layout.errorLog}`);
      } finally {
        closeSync(out);
      }
    },
    async stop() {
      const pid = pidOf(layout);
      if (pid === null) return;
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + (opts.stopTimeoutMs ?? 120_000);
      while (alive(pid)) {
        if (Date.now() > deadline) throw new WardenError('CLUSTER_FAILED', `mariadbd (pid ${pid}) did not stop within ${(opts.stopTimeoutMs ?? 120_000) / 1000} s`);
        await sleep(100);
      }
    },
    async enable() {},
    async disable() {},
    async running() {
      return pidOf(layout) !== null;
    },
  };
}
