// After a full stop, which node starts the cluster again: the one Galera marked safe_to_bootstrap (the last
// to leave cleanly), else the one with the highest committed seqno. A node killed while in the group has
// seqno -1 in grastate.dat; its position is recovered from InnoDB with `mariadbd --wsrep-recover`.
// Bootstrapping from any other node would throw away what the others committed after it left.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { WardenError } from '../errors/index.js';
import type { NodeLayout } from './galera-config.js';

const run = promisify(execFile);

export interface GrastateFile {
  uuid: string;
  seqno: number;
  safeToBootstrap: boolean;
}

export function parseGrastate(text: string): GrastateFile {
  const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(text)?.[1];
  const uuid = field('uuid');
  const seqno = field('seqno');
  if (uuid === undefined || seqno === undefined) throw new WardenError('CLUSTER_FAILED', 'grastate.dat has no uuid or seqno');
  return { uuid, seqno: Number(seqno), safeToBootstrap: field('safe_to_bootstrap') === '1' };
}

export function grastatePath(layout: NodeLayout): string {
  return path.join(layout.datadir, 'grastate.dat');
}

export function readGrastate(layout: NodeLayout): GrastateFile | null {
  try {
    return parseGrastate(readFileSync(grastatePath(layout), 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Mark this node safe to bootstrap (what an operator does by hand after choosing it). */
export function markSafeToBootstrap(layout: NodeLayout): void {
  const file = grastatePath(layout);
  const text = readFileSync(file, 'utf8');
  const next = /^safe_to_bootstrap:.*$/m.test(text) ? text.replace(/^safe_to_bootstrap:.*$/m, 'safe_to_bootstrap: 1') : text.replace(/\s*$/, '\nsafe_to_bootstrap: 1\n');
  writeFileSync(file + '.tmp', next, { mode: 0o660 });
  renameSync(file + '.tmp', file);
}

/** `WSREP: Recovered position: <uuid>:<seqno>` in what `mariadbd --wsrep-recover` wrote. */
export function parseRecoveredPosition(log: string): { uuid: string; seqno: number } | null {
  const all = [...log.matchAll(/WSREP: Recovered position:\s*([0-9a-f-]{36}):(-?\d+)/g)];
  const m = all.at(-1);
  return m ? { uuid: m[1]!, seqno: Number(m[2]) } : null;
}

/** The committed position InnoDB holds, for a node that did not shut down cleanly (the server must be stopped). */
export async function recoverPosition(layout: NodeLayout, opts: { mariadbd?: string } = {}): Promise<{ uuid: string; seqno: number }> {
  const log = path.join(path.dirname(layout.errorLog), `wsrep-recover-${process.pid}-${Date.now()}.log`);
  try {
    await run(opts.mariadbd ?? 'mariadbd', [`--defaults-file=${layout.configFile}`, '--wsrep-recover', `--log-error=${log}`], { timeout: 300_000 });
  } catch (e) {
    throw new WardenError('CLUSTER_FAILED', `mariadbd --wsrep-recover failed: ${(e as Error).message}`, { cause: e });
  }
  let text = '';
  try {
    text = readFileSync(log, 'utf8');
  } catch {
    /* reported below */
  }
  const pos = parseRecoveredPosition(text);
  if (!pos) throw new WardenError('CLUSTER_FAILED', `mariadbd --wsrep-recover did not report a position (see ${log})`);
  return pos;
}

export interface NodePosition {
  uuid: string;
  seqno: number;
  safeToBootstrap: boolean;
  /** Where the seqno came from: grastate.dat (a clean shutdown) or InnoDB (recovered). */
  from: 'grastate' | 'recovered';
}

/** This node's last committed position, recovering it from InnoDB when grastate.dat does not have it. */
export async function nodePosition(layout: NodeLayout, opts: { mariadbd?: string } = {}): Promise<NodePosition> {
  const g = readGrastate(layout);
  if (g === null) throw new WardenError('CLUSTER_REFUSED', `${grastatePath(layout)} does not exist: this node was never part of a cluster`);
  if (g.seqno >= 0) return { ...g, from: 'grastate' };
  const r = await recoverPosition(layout, opts);
  return { uuid: r.uuid, seqno: r.seqno, safeToBootstrap: g.safeToBootstrap, from: 'recovered' };
}

/**
 * Which of the nodes (by name) to bootstrap: the one marked safe, else the highest seqno. Null when no
 * node can be chosen (different cluster uuids mean different histories: a human decides).
 */
export function chooseBootstrapNode(nodes: { name: string; position: NodePosition }[]): { name: string; reason: string } | null {
  if (nodes.length === 0) return null;
  const uuids = new Set(nodes.map((n) => n.position.uuid));
  if (uuids.size > 1) return null;
  const safe = nodes.filter((n) => n.position.safeToBootstrap);
  if (safe.length === 1) return { name: safe[0]!.name, reason: 'safe_to_bootstrap: 1 (the last node to leave the cluster)' };
  const best = [...nodes].sort((a, b) => b.position.seqno - a.position.seqno)[0]!;
  return { name: best.name, reason: `the highest committed seqno (${best.position.seqno})` };
}
