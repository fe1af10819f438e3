// The IP denylist: CIDR ranges (IPv4 and IPv6) refused before anything else is looked at.
// node:net BlockList does the matching; this file parses, validates and normalizes.
import { BlockList, isIP } from 'node:net';
import { InputError } from '../errors/index.js';

export interface ParsedCidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** Parse "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or /128). */
export function parseCidr(text: string): ParsedCidr {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const address = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const version = isIP(address);
  if (version === 0) throw new InputError(`"${text}" is not an IP address or CIDR range`);
  const max = version === 4 ? 32 : 128;
  const prefixText = slash === -1 ? String(max) : trimmed.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) throw new InputError(`"${text}" has an invalid prefix length`);
  return { address, prefix: Number(prefixText), family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** "::ffff:10.1.2.3" (an IPv4 client on a dual-stack socket) is matched as 10.1.2.3. */
export function normalizeIp(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1]! : ip;
}

/** The eight 16-bit groups of an IPv6 address as 4-digit hex, or undefined if it is not one. */
export function expandIpv6(ip: string): string[] | undefined {
  if (isIP(ip) !== 6) return undefined;
  let text = ip.split('%')[0]!;
  // A dotted IPv4 tail (::ffff:1.2.3.4, ::1.2.3.4) becomes two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, v4.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.padStart(4, '0').toLowerCase());
}

export class IpDenylist {
  private readonly list = new BlockList();
  readonly entries: readonly string[];

  constructor(cidrs: readonly string[]) {
    this.entries = cidrs;
    for (const c of cidrs) {
      const p = parseCidr(c);
      this.list.addSubnet(p.address, p.prefix, p.family);
    }
  }

  denies(ip: string): boolean {
    const addr = normalizeIp(ip);
    const v = isIP(addr);
    if (v === 0) return true; // fail closed: an address we cannot parse is not trusted
    // BlockList.check builds a SocketAddress per call (~25 µs under load); every request asks, most lists are empty.
    if (this.entries.length === 0) return false;
    return this.list.check(addr, v === 4 ? 'ipv4' : 'ipv6');
  }
}

const WHOLE_FAMILY: [string, string, string][] = [
  ['IPv4', '0.0.0.0', '255.255.255.255'],
  ['IPv6', '::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
];

/**
 * Refuse a denylist that would lock out the web, so no administrator needs to edit the database by hand:
 * an entry covering a whole address family (0.0.0.0/0, ::/0, ::ffff:0:0/96) denies everyone, and an entry
 * covering `callerIp` denies the administrator saving it. Both are decided by the same matcher that
 * enforces the list, so IPv4-mapped IPv6 forms are judged exactly as requests will be.
 */
export function assertDenylistSafe(cidrs: readonly string[], callerIp: string | null): void {
  const caller = callerIp === null ? '' : normalizeIp(callerIp);
  for (const entry of cidrs) {
    const one = new IpDenylist([entry]);
    // A CIDR range is contiguous: one that holds both ends of a family holds all of it.
    for (const [family, first, last] of WHOLE_FAMILY) {
      if (one.denies(first) && one.denies(last)) {
        throw new InputError(`ipDenylist entry ${entry} covers every ${family} address and would lock everyone out`, { field: 'ipDenylist', entry });
      }
    }
    if (isIP(caller) !== 0 && one.denies(caller)) {
      throw new InputError(`ipDenylist entry ${entry} covers your own address ${caller}: saving it would lock you out`, { field: 'ipDenylist', entry, address: caller });
    }
  }
}
