// Addresses of the appliance's interfaces as systemd-networkd files, one per interface
// (/etc/systemd/network/10-warden-IFACE.network): static IPv4/IPv6, DHCP, or IPv6 router advertisements.
import { existsSync, readdirSync } from 'node:fs';
import { isIP } from 'node:net';
import { InputError } from '../errors/index.js';
import { apply, readOptional, reload, under, type ChangeOptions, type SystemTarget } from './target.js';
import { validateAddress, validateCidr, validateInterface, type Family } from './validate.js';

export type AddressSpec = { dhcp: true } | { address: string /* 'a.b.c.d/nn' or 'x::y/nn' */; gateway?: string };
export interface NetworkSpec {
  interface: string;
  ipv4?: AddressSpec | { disabled: true };
  /** `auto`: addresses from router advertisements (SLAAC), no DHCPv6 unless the router asks for it. */
  ipv6?: AddressSpec | { auto: true } | { disabled: true };
}

export const NETWORK_DIR = '/etc/systemd/network';
const PREFIX = '10-warden-';

export function networkFile(iface: string): string {
  return `${NETWORK_DIR}/${PREFIX}${iface}.network`;
}

type Family4 = NonNullable<NetworkSpec['ipv4']>;
type Family6 = NonNullable<NetworkSpec['ipv6']>;

function validateFamily<T extends Family4 | Family6>(v: unknown, family: Family): T {
  const field = family === 4 ? 'ipv4' : 'ipv6';
  if (typeof v !== 'object' || v === null) throw new InputError(`${field} must be dhcp, a static address${family === 6 ? ', auto' : ''} or disabled`, { field });
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (o.dhcp === true && keys.length === 1) return { dhcp: true } as T;
  if (o.disabled === true && keys.length === 1) return { disabled: true } as T;
  if (family === 6 && o.auto === true && keys.length === 1) return { auto: true } as T;
  if ('address' in o && keys.every((k) => k === 'address' || k === 'gateway')) {
    const address = validateCidr(o.address, family, family === 4 ? 'IPv4 address' : 'IPv6 address');
    if (o.gateway === undefined) return { address } as T;
    return { address, gateway: validateAddress(o.gateway, family, family === 4 ? 'IPv4 gateway' : 'IPv6 gateway') } as T;
  }
  if ('gateway' in o && !('address' in o)) throw new InputError(`${field}: a gateway needs a static address`, { field });
  throw new InputError(`${field} must be exactly one of: dhcp, a static address (with an optional gateway)${family === 6 ? ', auto' : ''}, disabled`, { field });
}

/** A complete, validated spec: families not given keep `current`'s setting (or the defaults of a new interface). */
export function validateNetwork(spec: NetworkSpec, current?: NetworkSpec): Required<NetworkSpec> {
  if (typeof spec !== 'object' || spec === null) throw new InputError('network settings must be an object');
  const iface = validateInterface(spec.interface);
  if (spec.ipv4 === undefined && spec.ipv6 === undefined) throw new InputError('nothing to set: give IPv4 and/or IPv6 settings');
  return {
    interface: iface,
    ipv4: spec.ipv4 === undefined ? current?.ipv4 ?? { disabled: true } : validateFamily<Family4>(spec.ipv4, 4),
    ipv6: spec.ipv6 === undefined ? current?.ipv6 ?? { auto: true } : validateFamily<Family6>(spec.ipv6, 6),
  };
}

export function renderNetwork(spec: Required<NetworkSpec>): string {
  const v4 = spec.ipv4;
  const v6 = spec.ipv6;
  const dhcp4 = 'dhcp' in v4;
  const dhcp6 = 'dhcp' in v6;
  const lines = [
    '# Written by orbit ("orbit network set"); change it with orbit, not by hand.',
    '[Match]',
    `Name=${spec.interface}`,
    '',
    '[Network]',
    `DHCP=${dhcp4 && dhcp6 ? 'yes' : dhcp4 ? 'ipv4' : dhcp6 ? 'ipv6' : 'no'}`,
  ];
  if ('address' in v4) {
    lines.push(`Address=${v4.address}`);
    if (v4.gateway) lines.push(`Gateway=${v4.gateway}`);
  }
  if ('address' in v6) {
    lines.push(`Address=${v6.address}`);
    if (v6.gateway) lines.push(`Gateway=${v6.gateway}`);
  }
  // Router advertisements carry SLAAC prefixes and tell a DHCPv6 client to start; a static or disabled
  // IPv6 takes none. Without IPv6 the link gets no link-local address either.
  lines.push(`IPv6AcceptRA=${'auto' in v6 || dhcp6 ? 'yes' : 'no'}`);
  lines.push(`LinkLocalAddressing=${'disabled' in v6 ? 'no' : 'ipv6'}`);
  return lines.join('\n') + '\n';
}

/** Read back a file orbit wrote (settings it does not write are ignored). */
export function parseNetwork(text: string, fallbackName: string): NetworkSpec {
  let name = fallbackName;
  let dhcp = 'no';
  let acceptRa: string | undefined;
  const addresses: string[] = [];
  const gateways: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';') || line.startsWith('[')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (key === 'Name') name = value;
    else if (key === 'DHCP') dhcp = value;
    else if (key === 'Address') addresses.push(value);
    else if (key === 'Gateway') gateways.push(value);
    else if (key === 'IPv6AcceptRA') acceptRa = value;
  }
  const ofFamily = (list: string[], f: Family) => list.find((a) => isIP(a.split('/')[0]!) === f);
  const family = (f: Family): AddressSpec | undefined => {
    if (dhcp === 'yes' || dhcp === (f === 4 ? 'ipv4' : 'ipv6')) return { dhcp: true };
    const address = ofFamily(addresses, f);
    if (!address) return undefined;
    const gateway = ofFamily(gateways, f);
    return gateway ? { address, gateway } : { address };
  };
  return {
    interface: name,
    ipv4: family(4) ?? { disabled: true },
    ipv6: family(6) ?? (acceptRa === 'yes' || acceptRa === 'true' ? { auto: true } : { disabled: true }),
  };
}

/** Every interface orbit has configured, by name. */
export async function showNetwork(t: SystemTarget): Promise<NetworkSpec[]> {
  let names: string[];
  try {
    names = readdirSync(under(t, NETWORK_DIR));
  } catch {
    return [];
  }
  const out: NetworkSpec[] = [];
  for (const n of names.sort()) {
    const m = /^10-warden-(.+)\.network$/.exec(n);
    if (!m) continue;
    const text = readOptional(t, `${NETWORK_DIR}/${n}`);
    if (text !== undefined) out.push(parseNetwork(text, m[1]!));
  }
  return out;
}

/** The spec `setNetwork` would write for `spec` (families not given keep their current setting). */
export async function plannedNetwork(t: SystemTarget, spec: NetworkSpec): Promise<Required<NetworkSpec>> {
  const iface = validateInterface(spec?.interface);
  const text = readOptional(t, networkFile(iface));
  return validateNetwork(spec, text === undefined ? undefined : parseNetwork(text, iface));
}

export async function setNetwork(t: SystemTarget, spec: NetworkSpec, opts?: ChangeOptions): Promise<Required<NetworkSpec>> {
  const next = await plannedNetwork(t, spec);
  await apply(t, [{ path: networkFile(next.interface), content: renderNetwork(next) }], opts);
  const reconfigure: [string, string[]][] = existsSync(`/sys/class/net/${next.interface}`) ? [['networkctl', ['reconfigure', next.interface]]] : [];
  await reload(t, networkFile(next.interface), [['networkctl', ['reload']], ...reconfigure]);
  return next;
}

/** One line for people and audit rows: "dhcp", "192.0.2.10/24 via 192.0.2.1", "auto", "disabled". */
export function describeFamily(f: AddressSpec | { auto: true } | { disabled: true } | undefined): string {
  if (f === undefined) return 'unchanged';
  if ('dhcp' in f) return 'dhcp';
  if ('auto' in f) return 'auto';
  if ('disabled' in f) return 'disabled';
  return f.gateway ? `${f.address} via ${f.gateway}` : f.address;
}
