// The packet filter as configured (/etc/nftables.conf) and, on the running appliance, as loaded in the
// kernel; with the cluster peer sets that alone open the database and replication ports.
import { isIP } from 'node:net';
import { InputError, WardenError } from '../errors/index.js';
import { apply, readOptional, reload, runTool, type ChangeOptions, type SystemTarget } from './target.js';

export const NFTABLES_FILE = '/etc/nftables.conf';
export const PEER_SETS = ['cluster_peers4', 'cluster_peers6'] as const;
export type PeerSet = (typeof PEER_SETS)[number];

export interface FirewallView {
  policyFile: string;
  /** The configured policy's text, null if the file is missing. */
  policy: string | null;
  /** `nft list ruleset` on the running appliance; null under --root. */
  ruleset: string | null;
  /** The peer sets' elements: from the kernel when live, else as the policy file lists them. */
  peers: Record<PeerSet, string[]>;
  peersFrom: 'kernel' | 'file';
}

/** The `elements = { ... }` of a named set in nftables syntax. */
export function setElementsInText(text: string, set: string): string[] {
  const start = new RegExp(`\\bset\\s+${set}\\s*\\{`).exec(text);
  if (!start) return [];
  let depth = 1;
  let i = start.index + start[0].length;
  const bodyStart = i;
  for (; i < text.length && depth > 0; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}') depth--;
  }
  const body = text.slice(bodyStart, i - 1).replace(/#.*$/gm, '');
  const m = /elements\s*=\s*\{([^}]*)\}/.exec(body);
  if (!m) return [];
  return m[1]!.split(/[\s,]+/).filter(Boolean);
}

type NftElem = string | number | { prefix?: { addr: string; len: number }; range?: [string, string]; elem?: { val: NftElem } };

function elemText(e: NftElem): string {
  if (typeof e === 'string' || typeof e === 'number') return String(e);
  if (e.prefix) return `${e.prefix.addr}/${e.prefix.len}`;
  if (e.range) return `${e.range[0]}-${e.range[1]}`;
  if (e.elem) return elemText(e.elem.val);
  return JSON.stringify(e);
}

async function kernelSet(set: PeerSet): Promise<string[]> {
  const out = await runTool('nft', ['-j', 'list', 'set', 'inet', 'warden', set]);
  const parsed = JSON.parse(out) as { nftables: { set?: { elem?: NftElem[] } }[] };
  return parsed.nftables.flatMap((o) => o.set?.elem ?? []).map(elemText);
}

export async function showFirewall(t: SystemTarget): Promise<FirewallView> {
  const policy = readOptional(t, NFTABLES_FILE) ?? null;
  if (!t.live) {
    const peers = Object.fromEntries(PEER_SETS.map((s) => [s, policy ? setElementsInText(policy, s) : []])) as Record<PeerSet, string[]>;
    return { policyFile: NFTABLES_FILE, policy, ruleset: null, peers, peersFrom: 'file' };
  }
  const ruleset = await runTool('nft', ['list', 'ruleset']);
  const peers = {} as Record<PeerSet, string[]>;
  for (const s of PEER_SETS) peers[s] = await kernelSet(s);
  return { policyFile: NFTABLES_FILE, policy, ruleset, peers, peersFrom: 'kernel' };
}

/** The policy text with a named set's elements replaced (none: the `elements` line removed). */
export function withSetElements(text: string, set: string, elements: string[]): string {
  const start = new RegExp(`\\bset\\s+${set}\\s*\\{`).exec(text);
  if (!start) throw new WardenError('CONFIG_INVALID', `${NFTABLES_FILE} has no set ${set}`);
  let depth = 1;
  let i = start.index + start[0].length;
  for (; i < text.length && depth > 0; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}') depth--;
  }
  const bodyStart = start.index + start[0].length;
  const bodyEnd = i - 1;
  const body = text.slice(bodyStart, bodyEnd).replace(/\n[ \t]*elements\s*=\s*\{[^}]*\}[ \t]*/g, '');
  const indent = /\n([ \t]+)type\b/.exec(body)?.[1] ?? '\t\t';
  const next = elements.length === 0 ? body : body.replace(/\s*$/, `\n${indent}elements = { ${elements.join(', ')} }\n${indent.slice(0, -1)}`);
  return text.slice(0, bodyStart) + next + text.slice(bodyEnd);
}

/**
 * Open the database and replication ports to exactly these peer addresses: the policy file (what the next
 * boot loads) rewritten, and on the running appliance the kernel's sets flushed and filled the same.
 */
export async function setClusterPeers(t: SystemTarget, peers: string[], opts?: ChangeOptions): Promise<void> {
  const v4 = [...new Set(peers.filter((p) => isIP(p) === 4))].sort();
  const v6 = [...new Set(peers.filter((p) => isIP(p) === 6))].sort();
  const bad = peers.filter((p) => isIP(p) === 0);
  if (bad.length > 0) throw new InputError(`not an IP address: ${bad.join(', ')}`, { field: 'peers' });
  const policy = readOptional(t, NFTABLES_FILE);
  if (policy === undefined) throw new WardenError('CONFIG_INVALID', `${NFTABLES_FILE} does not exist`);
  const text = withSetElements(withSetElements(policy, 'cluster_peers4', v4), 'cluster_peers6', v6);
  await apply(t, [{ path: NFTABLES_FILE, content: text, mode: 0o644 }], opts);
  const steps: [string, string[]][] = [];
  for (const [set, els] of [['cluster_peers4', v4], ['cluster_peers6', v6]] as const) {
    steps.push(['nft', ['flush', 'set', 'inet', 'warden', set]]);
    if (els.length > 0) steps.push(['nft', ['add', 'element', 'inet', 'warden', set, `{ ${els.join(', ')} }`]]);
  }
  await reload(t, NFTABLES_FILE, steps);
}
