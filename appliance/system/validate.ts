// The checks every OS setting passes before anything is written: one clear message per mistake, naming the
// field and what it should look like. Pure functions; nothing here touches a file but the zone lookup.
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors/index.js';
import { under, type SystemTarget } from './target.js';

export type Family = 4 | 6;

const familyName = (f: Family) => (f === 4 ? 'IPv4' : 'IPv6');

/** An interface name the kernel accepts (IFNAMSIZ: at most 15 bytes, no '/', ':' or blanks). */
const IFACE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

export function validateInterface(name: unknown, field = 'interface'): string {
  if (typeof name !== 'string' || !IFACE.test(name)) {
    throw new InputError(`${field} "${String(name)}" is not an interface name: 1 to 15 letters, digits, '.', '_' or '-' (e.g. eth0, ens3, enp0s31f6)`, { field });
  }
  return name;
}

/** 'a.b.c.d/nn' or 'x::y/nn' of the given family, normalized (IPv6 lower case). */
export function validateCidr(value: unknown, family: Family, field: string): string {
  if (typeof value !== 'string' || value.trim() !== value || value === '') throw new InputError(`${field} must be an ${familyName(family)} address with a prefix length`, { field });
  const slash = value.indexOf('/');
  if (slash < 0) {
    const example = family === 4 ? '192.0.2.10/24' : '2001:db8::10/64';
    throw new InputError(`${field} ${value} has no prefix length: write it as address/prefix (e.g. ${example})`, { field });
  }
  const address = value.slice(0, slash);
  const prefix = value.slice(slash + 1);
  const found = isIP(address);
  if (found === 0) throw new InputError(`${field} ${value}: "${address}" is not an IP address`, { field });
  if (found !== family) throw new InputError(`${field} ${value} is an ${familyName(found as Family)} address; an ${familyName(family)} address is expected here`, { field });
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) < 1 || Number(prefix) > max) {
    throw new InputError(`${field} ${value}: the prefix length must be a number from 1 to ${max}`, { field });
  }
  return `${family === 6 ? address.toLowerCase() : address}/${Number(prefix)}`;
}

export function validateAddress(value: unknown, family: Family, field: string): string {
  if (typeof value !== 'string' || value === '') throw new InputError(`${field} must be an ${familyName(family)} address`, { field });
  if (value.includes('/')) throw new InputError(`${field} ${value} is a gateway: a plain ${familyName(family)} address, without a prefix length`, { field });
  const found = isIP(value);
  if (found === 0) throw new InputError(`${field} "${value}" is not an IP address`, { field });
  if (found !== family) throw new InputError(`${field} ${value} is an ${familyName(found as Family)} address, outside the ${familyName(family)} family it is the gateway of`, { field });
  return family === 6 ? value.toLowerCase() : value;
}

/** Any IP address (a DNS server). */
export function validateIp(value: unknown, field: string): string {
  if (typeof value !== 'string' || (!isIPv4(value) && !isIPv6(value))) {
    throw new InputError(`${field} "${String(value)}" is not an IP address (a DNS server is given by its address, e.g. 192.0.2.53 or 2001:db8::53)`, { field });
  }
  return isIPv6(value) ? value.toLowerCase() : value;
}

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** A DNS name (RFC 1123): labels of letters, digits and inner hyphens, at most 63 each, 253 in all. */
export function validateDnsName(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw new InputError(`${field} must be a DNS name`, { field });
  if (/\s/.test(value)) throw new InputError(`${field} "${value}" contains a space: a DNS name is labels of letters, digits and '-' joined by dots`, { field });
  const name = value.endsWith('.') ? value.slice(0, -1) : value;
  if (name.length > 253) throw new InputError(`${field} is longer than 253 characters`, { field });
  const bad = name.split('.').find((l) => !LABEL.test(l));
  if (bad !== undefined) {
    throw new InputError(`${field} "${value}" is not a DNS name: label "${bad}" must be 1 to 63 letters, digits or inner '-'`, { field });
  }
  return name.toLowerCase();
}

/** A host name or an IP address (an NTP server). */
export function validateHostOrIp(value: unknown, field: string): string {
  if (typeof value === 'string' && isIP(value) !== 0) return validateIp(value, field);
  return validateDnsName(value, field);
}

/** A list without repeats, bounded (resolved and timesyncd take a handful; more is a mistake). */
export function validateList<T>(values: unknown, field: string, each: (v: unknown, f: string) => T, opts: { min: number; max: number }): T[] {
  if (!Array.isArray(values)) throw new InputError(`${field} must be a list`, { field });
  if (values.length < opts.min) throw new InputError(`${field}: at least ${opts.min} needed`, { field });
  if (values.length > opts.max) throw new InputError(`${field}: at most ${opts.max}`, { field });
  const out = values.map((v) => each(v, field));
  const seen = new Set<string>();
  for (const v of out) {
    if (seen.has(String(v))) throw new InputError(`${field}: ${String(v)} is given twice`, { field });
    seen.add(String(v));
  }
  return out;
}

const ZONE = /^[A-Za-z0-9_+-]+(?:\/[A-Za-z0-9_+-]+)*$/;

/**
 * An IANA time zone the target's tzdata knows: /usr/share/zoneinfo/ZONE under the root is a TZif file (the
 * image's own zone files, not this machine's, decide).
 */
export function validateZone(t: SystemTarget, zone: unknown, field = 'time zone'): string {
  if (typeof zone !== 'string' || !ZONE.test(zone) || zone.length > 64 || zone.split('/').some((p) => p === '.' || p === '..')) {
    throw new InputError(`${field} "${String(zone)}" is not a time zone name (e.g. Europe/Berlin, America/New_York, UTC)`, { field });
  }
  const file = under(t, path.posix.join('/usr/share/zoneinfo', zone));
  let ok = false;
  try {
    const fd = openSync(file, 'r');
    try {
      const magic = Buffer.alloc(4);
      ok = fstatSync(fd).isFile() && readSync(fd, magic, 0, 4, 0) === 4 && magic.toString('latin1') === 'TZif';
    } finally {
      closeSync(fd);
    }
  } catch {
    ok = false;
  }
  if (!ok) throw new InputError(`unknown time zone "${zone}": no such zone in ${under(t, '/usr/share/zoneinfo')}`, { field });
  return zone;
}
